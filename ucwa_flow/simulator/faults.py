"""Fault injection: make chosen requests fail, vanish or crawl.

``sim.faults.inject(method="GET", path=r"/events", status=503, times=1)`` answers the
next matching request with a 503 UCWA error. ``drop=True`` lets the server do the work
and then breaks the connection halfway through the response, so that the client sees a
lost answer (httpx raises ``RemoteProtocolError``) over a real socket. ``delay=seconds``
waits that long on the simulator's clock before handling the request. ``body=b"..."``
answers 200 with that body instead of handling the request (a proxy or a broken server
spoiling an answer: a malformed event-channel body, say). Rules match in the order they
were added; each is used ``times`` times (``None``: forever).

``sim.faults.plan = FaultPlan(...)`` (:mod:`ucwa_flow.simulator.faultplan`) adds random
faults: a request that no rule matches is offered to the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ucwa_flow.simulator.core import Simulator
    from ucwa_flow.simulator.faultplan import FaultPlan

__all__ = ["FaultRule", "Faults"]


@dataclass
class FaultRule:
    """One injected fault. ``path`` is a regular expression searched in the URL path.

    ``subcode`` and ``message`` go into the error body of a ``status`` fault.
    """

    method: str | None
    path: re.Pattern[str]
    status: int | None = None
    drop: bool = False
    delay: float = 0.0
    body: bytes | None = None
    times: int | None = 1
    hits: int = 0
    subcode: str | None = None
    message: str = "Injected fault."

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path.search(path) is not None


class Faults:
    """The fault rules of one simulator (see the module docstring)."""

    def __init__(self, sim: Simulator | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._sim = sim
        self.plan: FaultPlan | None = None  # random faults for requests no rule matches

    def inject(
        self,
        *,
        method: str | None = None,
        path: str = "",
        status: int | None = None,
        drop: bool = False,
        delay: float = 0.0,
        body: bytes | None = None,
        times: int | None = 1,
    ) -> FaultRule:
        """Add a rule; at least one of ``status``, ``drop``, ``delay`` and ``body`` is needed."""
        if status is None and not drop and delay <= 0 and body is None:
            raise ValueError("a fault needs status=, drop=True, delay= or body=")
        if status is not None and not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        rule = FaultRule(
            method=method.upper() if method else None,
            path=re.compile(path, re.IGNORECASE),
            status=status,
            drop=drop,
            delay=delay,
            body=body,
            times=times,
        )
        self._rules.append(rule)
        return rule

    def take(self, method: str, path: str, authorization: str | None = None) -> FaultRule | None:
        """The first rule matching this request, counting one use of it.

        When no rule matches, the :attr:`plan` (if any) may draw a random fault; its
        ``authorization`` header tells whose request it is.
        """
        for rule in self._rules:
            if rule.matches(method, path):
                rule.hits += 1
                if rule.times is not None and rule.hits >= rule.times:
                    self._rules.remove(rule)
                return rule
        if self.plan is not None and self._sim is not None:
            return self.plan.draw(self._sim, method, path, authorization)
        return None

    def clear(self) -> None:
        self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

"""Several flows on one account: which flow answers an incoming invitation.

A :class:`Catalog` names the flows one bot account runs (by the deployment's name for
each: the flow file's stem, ``helpdesk`` for ``helpdesk.flow.yaml``), its routing rules
and the default flow. :meth:`Catalog.choose` picks the flow for an incoming invitation
from what the invitation says before anyone answers it: the caller's URI, its subject and
its first message. Each :class:`Route` names a flow and up to three regular expressions;
the first route whose given expressions all match (searched anywhere in the text,
case-insensitively) wins, else the default flow does.

The invitation policy of the chosen flow then decides, as for a bot with one flow, whether
the invitation is accepted or declined (:mod:`ucwa_flow.runtime.answering`).

Caller URIs, subjects and messages are untrusted text: routes are matched with the
:mod:`regex` module under a time bound, on text cut to :data:`MAX_TEXT` characters; a
route that runs out of time does not match (one warning in the log).

A catalog is a value: :meth:`Catalog.replaced` gives a new one with another version of a
flow (a hot reload), the routes unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ucwa_flow.flow import Flow

__all__ = ["MAX_TEXT", "ROUTE_TIMEOUT", "Catalog", "Route"]

log = logging.getLogger("ucwa_flow.runtime")

#: seconds one route's expression may take on one invitation
ROUTE_TIMEOUT = 0.05
#: characters of a subject or first message a route looks at
MAX_TEXT = 4000

_FIELDS = ("caller", "subject", "first_message")


@dataclass(frozen=True)
class Route:
    """Invitations whose given fields all match run ``flow``.

    Each field is a regular expression searched in the invitation's caller URI
    (``sip:someone@contoso.com``), subject or first message, ignoring case; ``None``
    matches anything (an invitation without a subject has the subject ``""``).
    """

    flow: str
    caller: str | None = None
    subject: str | None = None
    first_message: str | None = None


class Catalog:
    """The flows of one account, by name, with its routes and its default flow.

    ``default`` is the flow for an invitation no route takes; ``None`` means the first
    flow of ``flows``. ``ValueError`` (one line) for an empty catalog, a route or default
    naming no flow of it, or a route whose expression does not compile.
    """

    __slots__ = ("_compiled", "_default", "_flows", "_routes")

    def __init__(
        self,
        flows: Mapping[str, Flow],
        routes: Sequence[Route] = (),
        default: str | None = None,
    ) -> None:
        if not flows:
            raise ValueError("a catalog needs at least one flow")
        self._flows: dict[str, Flow] = dict(flows)
        self._default = default if default is not None else next(iter(self._flows))
        if self._default not in self._flows:
            raise ValueError(f"the default flow {self._default!r} is not one of {self.names}")
        self._routes = tuple(routes)
        self._compiled = tuple(self._compile(i, route) for i, route in enumerate(self._routes))

    @classmethod
    def of(cls, flow: Flow) -> Catalog:
        """A catalog of ``flow`` alone, under its own name."""
        return cls({flow.name: flow})

    def _compile(self, index: int, route: Route) -> tuple[tuple[str, Any], ...]:
        if route.flow not in self._flows:
            raise ValueError(f"route {index + 1} runs flow {route.flow!r}, not one of {self.names}")
        # imported for a route only: most bots have none, and regex costs ~15 ms to import
        import regex

        patterns = []
        for name in _FIELDS:
            pattern = getattr(route, name)
            if pattern is None:
                continue
            try:
                patterns.append((name, regex.compile(pattern, regex.IGNORECASE | regex.V0)))
            except regex.error as exc:
                raise ValueError(f"route {index + 1}: {name} {pattern!r}: {exc}") from None
        return tuple(patterns)

    # -- reading ------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The flow names, in the order given."""
        return tuple(self._flows)

    @property
    def default(self) -> str:
        """The name of the default flow."""
        return self._default

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    def __contains__(self, name: object) -> bool:
        return name in self._flows

    def get(self, name: str) -> Flow:
        """The current version of flow ``name`` (``KeyError`` when there is none)."""
        try:
            return self._flows[name]
        except KeyError:
            raise KeyError(
                f"no flow named {name!r} (the flows are {', '.join(self.names)})"
            ) from None

    def choose(self, caller: str | None, subject: str | None, first_message: str | None) -> str:
        """The name of the flow that answers an invitation from ``caller`` with ``subject``
        and ``first_message``: the first route whose fields all match, else the default."""
        fields = {
            "caller": (caller or "")[:MAX_TEXT],
            "subject": (subject or "")[:MAX_TEXT],
            "first_message": (first_message or "")[:MAX_TEXT],
        }
        for index, (route, patterns) in enumerate(zip(self._routes, self._compiled, strict=True)):
            if all(_search(index, name, pattern, fields[name]) for name, pattern in patterns):
                return route.flow
        return self._default

    # -- changing -----------------------------------------------------------------------------

    def replaced(self, name: str, flow: Flow) -> Catalog:
        """This catalog with ``flow`` as flow ``name`` (a new name is added, last)."""
        flows = dict(self._flows)
        flows[name] = flow
        return Catalog(flows, self._routes, self._default)

    def __repr__(self) -> str:
        return (
            f"Catalog({', '.join(self.names)}; default {self._default}, {len(self._routes)} routes)"
        )


def _search(index: int, name: str, pattern: Any, text: str) -> bool:
    try:
        return pattern.search(text, timeout=ROUTE_TIMEOUT) is not None
    except TimeoutError:
        log.warning("route %d: its %s expression ran out of time; not matched", index + 1, name)
        return False

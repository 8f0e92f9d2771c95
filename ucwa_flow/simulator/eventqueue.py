"""The event channel of one application: numbered batches behind a pending GET.

Semantics (``ucwa-protocol.md`` section 5), all on the injected clock:

* ``GET events?ack=N`` acknowledges every batch below N and asks for batch N. When N
  is the next batch to build, the request is held until events are due or the
  ``timeout`` passes (then an empty batch with ``"sender": []`` is released).
* N naming a batch already built but not acknowledged re-delivers that batch as is.
* N outside that window gets a body with only a ``resync`` link to the first
  unacknowledged batch.
* Two P-GETs at once: the older is released with 409 ``PGetReplaced``, unless the newer
  has a lower ``priority`` (then the newer one is refused the same way).
* High events release a held P-GET at once; medium and low events wait up to the
  ``medium``/``low`` hold. Everything pending goes out in order, consecutive events of
  one sender merged into one sender block (a sender may repeat). A ``replace`` push
  drops a pending event of the same resource first (presence updates collapse).
* A client that stayed away longer than ``resume_after`` gets a ``resume`` link instead
  of ``next``; the owner's absence hook resets its transient state first.
* ``timeout``, ``low``, ``medium`` and ``priority`` are remembered across P-GETs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ucwa_flow.clock import Clock, TimerHandle, ticks_before
from ucwa_flow.simulator.config import SimulatorConfig
from ucwa_flow.simulator.errors import UcwaErrorResponse, bad_request

__all__ = ["EventChannel", "Priority"]


class Priority(IntEnum):
    """Event priorities; High (and real-time) events release a held P-GET at once."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2


@dataclass(slots=True)
class _Entry:
    sender_rel: str
    sender_href: str
    event: dict[str, Any]
    priority: Priority


class _Hold:
    __slots__ = ("ack", "deadline", "future", "priority", "replaced")

    def __init__(self, ack: int, priority: int, deadline: float) -> None:
        self.ack = ack
        self.priority = priority
        self.deadline = deadline  # when it is released empty, if nothing comes first
        self.replaced = False
        self.future: asyncio.Future[None] | None = None

    def wake(self) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_result(None)


def _pget_replaced() -> UcwaErrorResponse:
    return UcwaErrorResponse(
        409,
        "Conflict",
        "PGetReplaced",
        "The pending GET request was replaced by a newer one.",
    )


class EventChannel:
    """Pending events and numbered batches of one application.

    ``events_href`` is the href without query (``/ucwa/oauth/v1/applications/1/events``).
    ``on_absence`` is called when a client comes back after ``resume_after``.
    """

    def __init__(
        self,
        events_href: str,
        clock: Clock,
        config: SimulatorConfig,
        on_absence: Callable[[], None] | None = None,
    ) -> None:
        self._href = events_href
        self._clock = clock
        self._config = config
        self._on_absence = on_absence
        self._pending: list[_Entry] = []
        self._high_pending = False
        self._soft_due = math.inf
        self._batches: dict[int, dict[str, Any]] = {}
        self._last = 0
        self._hold: _Hold | None = None
        self._hold_timer: TimerHandle | None = None
        self._closed = False
        self._resume_next = False
        self.duplicate_next = 0
        self.timeout = config.pget_timeout_default
        self.medium = config.medium_hold
        self.low = config.low_hold
        self.priority = 0
        self.last_release = clock.monotonic()

    # -- producing -----------------------------------------------------------------

    def push(
        self,
        sender_rel: str,
        sender_href: str,
        event: dict[str, Any],
        priority: Priority = Priority.HIGH,
        *,
        replace: bool = False,
    ) -> None:
        """Queue one event of ``sender``; wakes a held P-GET if it becomes due.

        ``replace``: a pending event of the same sender, resource and type is dropped
        first, so that several updates collapse into the latest (presence).
        """
        if self._closed:
            return
        if replace:
            same = (sender_href, event["link"]["href"], event["type"])
            self._pending = [
                e
                for e in self._pending
                if (e.sender_href, e.event["link"]["href"], e.event["type"]) != same
            ]
        self._pending.append(_Entry(sender_rel, sender_href, event, priority))
        if priority >= Priority.HIGH:
            self._high_pending = True
        else:
            hold = self.medium if priority == Priority.MEDIUM else self.low
            self._soft_due = min(self._soft_due, self._clock.monotonic() + hold)
        if self._hold is not None:
            self._hold.wake()

    @property
    def held(self) -> bool:
        """True while a P-GET is waiting."""
        return self._hold is not None

    @property
    def parked(self) -> int | None:
        """The ``ack`` of the held P-GET while it waits and nothing has woken it (an event
        due, its timeout, a newer P-GET), else ``None``: a test's sign that the client
        reading this channel has taken everything due and asked for more."""
        hold = self._hold
        if hold is None or hold.future is None or hold.future.done():
            return None
        return hold.ack

    @property
    def idle_timer(self) -> TimerHandle | None:
        """The timer of the held P-GET while it waits for nothing but its timeout (no event
        pending), else ``None``: a virtual clock that skips idle time moves it."""
        if self._pending or self._closed or self._resume_next or self._hold is None:
            return None
        return self._hold_timer

    def skip_idle(self, end: float) -> float | None:
        """For a virtual clock that skips idle time up to ``end``, while :attr:`idle_timer`
        is set: the held P-GET would time out every :attr:`timeout` seconds and be asked
        again at once. Move the hold and the last release to the last such instant before
        ``end`` and return when the hold now times out (``None``: not before ``end``, so
        nothing moved); the caller moves :attr:`idle_timer` there."""
        hold = self._hold
        if hold is None or self.idle_timer is None:
            return None
        ticks = ticks_before(hold.deadline, self.timeout, end)
        if ticks == 0:
            return None
        hold.deadline += ticks * self.timeout
        self.last_release = hold.deadline - self.timeout
        return hold.deadline

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def first_unacked(self) -> int:
        """The number of the first batch not acknowledged (the next one when none is)."""
        return min(self._batches) if self._batches else self._last + 1

    def href(self, ack: int) -> str:
        return f"{self._href}?ack={ack}"

    def close(self) -> None:
        """Stop the channel: a held P-GET is released with an empty batch."""
        self._closed = True
        if self._hold is not None:
            self._hold.wake()

    # -- consuming -----------------------------------------------------------------

    async def poll(self, ack: int, query: Mapping[str, str]) -> dict[str, Any]:
        """Answer one P-GET. Raises :class:`UcwaErrorResponse` for 409 PGetReplaced."""
        priority = _priority_of(query, self.priority)
        held = self._hold is not None
        if self._hold is not None:
            if priority < self._hold.priority:
                raise _pget_replaced()  # the loser's parameters are not remembered
            self._hold.replaced = True
            self._hold.wake()
            self._hold = None
        self._remember(query)
        now = self._clock.monotonic()
        # a client whose P-GET was still held was never away, however long the hold
        if not held and self._last and now - self.last_release > self._config.resume_after:
            if self._on_absence is not None:
                self._on_absence()
            self._pending.clear()
            self._high_pending, self._soft_due = False, math.inf
            self._resume_next = True
        first_unacked = self.first_unacked
        if ack < first_unacked or ack > self._last + 1:
            self.last_release = now
            return {"_links": {"resync": {"href": self.href(first_unacked)}}}
        for number in [n for n in self._batches if n < ack]:
            del self._batches[number]
        if ack <= self._last:
            self.last_release = now
            return self._batches[ack]
        hold = _Hold(ack, priority, now + self.timeout)
        self._hold = hold
        try:
            await self._wait(hold)
        finally:
            if self._hold is hold:
                self._hold = None
        if hold.replaced:
            raise _pget_replaced()
        self.last_release = self._clock.monotonic()
        return self._build(ack)

    async def _wait(self, hold: _Hold) -> None:
        loop = asyncio.get_running_loop()
        while not (hold.replaced or self._closed or self._resume_next):
            now = self._clock.monotonic()
            due = now if self._high_pending else min(self._soft_due, hold.deadline)
            if due <= now:
                return
            hold.future = loop.create_future()
            timer = self._clock.call_later(due - now, hold.wake)
            self._hold_timer = timer
            try:
                await hold.future
            finally:
                timer.cancel()
                hold.future = None
                self._hold_timer = None

    def _build(self, number: int) -> dict[str, Any]:
        entries, self._pending = self._pending, []
        self._high_pending, self._soft_due = False, math.inf
        blocks: list[dict[str, Any]] = []
        for entry in entries:
            last = blocks[-1] if blocks else None
            if last is not None and last["href"] == entry.sender_href:
                last["events"].append(entry.event)
            else:
                blocks.append(
                    {"rel": entry.sender_rel, "href": entry.sender_href, "events": [entry.event]}
                )
        follow = "resume" if self._resume_next else "next"
        self._resume_next = False
        body = {
            "_links": {
                "self": {"href": self.href(number)},
                follow: {"href": self.href(number + 1)},
            },
            "sender": blocks,
        }
        self._batches[number] = body
        self._last = number
        if self.duplicate_next > 0 and entries:
            self.duplicate_next -= 1
            for entry in entries:
                self.push(entry.sender_rel, entry.sender_href, entry.event, entry.priority)
        return body

    def _remember(self, query: Mapping[str, str]) -> None:
        cfg = self._config
        floor = min(5.0, cfg.medium_hold, cfg.low_hold)
        if "timeout" in query:
            value = _number(query, "timeout")
            self.timeout = min(max(value, cfg.pget_timeout_min), cfg.pget_timeout_max)
        if "medium" in query:
            self.medium = min(max(_number(query, "medium"), floor), 1800.0)
        if "low" in query:
            self.low = min(max(_number(query, "low"), floor), 1800.0)
        self.priority = _priority_of(query, self.priority)


def _priority_of(query: Mapping[str, str], remembered: int) -> int:
    """The priority a P-GET asks for (the remembered one when it names none)."""
    if "priority" not in query:
        return remembered
    value = _number(query, "priority")
    if value < 0:
        raise bad_request(["priority"])
    return int(value)


def _number(query: Mapping[str, str], name: str) -> float:
    try:
        value = float(query[name])
    except ValueError:
        raise bad_request([name]) from None
    if not math.isfinite(value):
        raise bad_request([name])
    return value

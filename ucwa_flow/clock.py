"""Injected time: the one place where ucwa-flow reads the clock or waits.

Everything that needs the time (the simulator's invitation and expiry timers, long-poll
holds, the interpreter's state timeouts, time-of-day invitation policies) takes a
:class:`Clock` instead of calling :mod:`time` or :func:`asyncio.sleep` directly.

* :class:`SystemClock` is the production clock: monotonic time from the running event
  loop, wall time from the system, timers from ``loop.call_later``.
* :class:`ManualClock` is the test clock: time stands still until a test calls
  :meth:`ManualClock.advance`, which fires every timer that falls due, in order, and lets
  the woken tasks run before it returns. A test can jump ten minutes without sleeping.

Both are used from inside one asyncio event loop. Neither is thread-safe.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

__all__ = ["MANUAL_START", "Clock", "ManualClock", "SystemClock", "TimerHandle", "ticks_before"]


@runtime_checkable
class TimerHandle(Protocol):
    """What :meth:`Clock.call_later` returns: something that can be cancelled."""

    def cancel(self) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """The time source that every time-dependent component receives."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale; only differences are meaningful."""

    def now(self) -> datetime:
        """The current wall-clock time, timezone-aware (UTC)."""

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` after ``delay`` seconds, unless cancelled first."""

    async def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds of this clock's time."""


class SystemClock:
    """Real time: the running event loop's monotonic clock and the system's wall clock."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback, *args)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))


class _ManualTimer:
    __slots__ = ("args", "callback", "cancelled", "clock", "when")

    def __init__(
        self, clock: ManualClock, when: float, callback: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        self.clock = clock
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.clock._cancelled += 1
            # what it would have called goes now (as asyncio's handles do), not when the
            # heap drops the timer: its arguments (a conversation) are freed at once
            self.callback, self.args = _nothing, ()


def _nothing() -> None:
    """What a cancelled :class:`_ManualTimer` calls: nothing (it is never called)."""


#: where a :class:`ManualClock` starts when not told (a Monday morning)
MANUAL_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ManualClock:
    """A clock that moves only when told to.

    ``start`` is the wall-clock time at monotonic zero (default: 2026-01-05 09:00 UTC, a
    Monday morning, so that business-hours policies accept by default).
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or MANUAL_START
        if self._start.tzinfo is None:
            raise ValueError("ManualClock start time must be timezone-aware")
        self._t = 0.0
        self._seq = itertools.count()
        self._timers: list[tuple[float, int, _ManualTimer]] = []
        self._cancelled = 0  # cancelled timers still in the heap

    def monotonic(self) -> float:
        return self._t

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._t)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        timer = _ManualTimer(self, self._t + max(0.0, delay), callback, args)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        if self._cancelled > 64 and self._cancelled * 2 > len(self._timers):
            # like asyncio's loop: drop cancelled timers once they are most of the heap
            self._timers = [entry for entry in self._timers if not entry[2].cancelled]
            heapq.heapify(self._timers)
            self._cancelled = 0
        return timer

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handle = self.call_later(delay, _resolve, future)
        try:
            await future
        finally:
            handle.cancel()

    @property
    def pending(self) -> int:
        """Number of timers not yet fired or cancelled."""
        return len(self._timers) - self._cancelled

    @property
    def due_times(self) -> list[float]:
        """When each live timer falls due (``monotonic()`` time), soonest first."""
        return sorted(when for when, _, timer in self._timers if not timer.cancelled)

    def next_due(self, excluding: Collection[TimerHandle] = ()) -> float | None:
        """When the soonest live timer not in ``excluding`` falls due (``None``: none)."""
        whens = [
            w for w, _, timer in self._timers if not timer.cancelled and timer not in excluding
        ]
        return min(whens, default=None)

    def due_of(self, timer: TimerHandle) -> float | None:
        """When ``timer``, one of this clock's, falls due (``None``: fired or cancelled)."""
        if not isinstance(timer, _ManualTimer) or timer.clock is not self or timer.cancelled:
            return None  # a fired timer is marked cancelled too
        return timer.when

    def reschedule(self, whens: Mapping[TimerHandle, float]) -> None:
        """Make each live timer of ``whens`` fall due at the instant it maps to instead: for
        a driver that skips idle time and keeps the timers that only serve it in step."""
        moved = False
        for _, _, timer in self._timers:
            if not timer.cancelled and timer in whens:
                timer.when = whens[timer]
                moved = True
        if moved:
            self._timers = [(timer.when, seq, timer) for _, seq, timer in self._timers]
            heapq.heapify(self._timers)

    def step(self, until: float) -> bool:
        """Fire the next live timer due at or before ``until`` (``monotonic()`` time), with
        time moved to its due time; ``False`` when there is none (time then moves to
        ``until``). Nothing else runs meanwhile: for a driver that runs what the callbacks
        queue itself, without turns of the event loop (``ucwa-flow replay``)."""
        while self._timers and self._timers[0][0] <= until:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                self._cancelled -= 1
                continue
            timer.cancelled = True  # fired: a later cancel() must not count it
            self._t = max(self._t, when)
            timer.callback(*timer.args)
            return True
        self._t = max(self._t, until)
        return False

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing due timers in order and letting woken tasks run.

        Each due timer fires at its own instant (``monotonic()`` reads its due time while it
        runs), and the event loop gets a few turns after each one, so that a chain of
        reactions (a timeout that sends a message that starts another timer) settles the way
        it would in real time.
        """
        if seconds < 0:
            raise ValueError("cannot move a clock backwards")
        target = self._t + seconds
        await _settle()
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                self._cancelled -= 1
                continue
            timer.cancelled = True  # fired: a later cancel() must not count it
            self._t = max(self._t, when)
            timer.callback(*timer.args)
            await _settle()
        self._t = target
        await _settle()


def ticks_before(first: float, interval: float, end: float) -> int:
    """How many of the instants ``first``, ``first + interval``, ``first + 2 * interval``...
    come before ``end``: how often something periodic acts while time goes on to ``end``."""
    if first >= end:
        return 0
    ticks = math.ceil((end - first) / interval)
    while ticks > 1 and first + (ticks - 1) * interval >= end:  # the division rounded up
        ticks -= 1
    while first + ticks * interval < end:  # or down
        ticks += 1
    return ticks


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _settle(turns: int = 20) -> None:
    # Several bare yields let chains of ready tasks run to their next real wait.
    for _ in range(turns):
        await asyncio.sleep(0)

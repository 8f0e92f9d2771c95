"""The virtual clock of a scenario: every due timer in turn, idle upkeep skipped.

:meth:`ScenarioClock.advance_settled` moves time from one due timer to the next and lets
the world settle at each. Most of the timers of a long quiet wait only keep the
applications alive: every client's reportMyActivity every two minutes, every held P-GET
that times out after three and is asked again, the simulator's expiry checks. Stepping
through them made a ``wait: 5d`` cost seconds of real time and an absurd one never end.

So when the world is quiet (see :func:`idle_upkeep`: every live application holds a P-GET
with no event pending and, when available, is kept alive by its client), the clock moves
those timers on to the next instant something else is due (a flow's timeout, an
invitation's answer time, a webhook's delay, the end of the wait), each by a whole number
of its periods, and leaves the simulator where the skipped upkeep would have: each
application last active at its keep-alive's last report before that instant, each P-GET
last released at its last timeout before it. Everything a test sees still happens at its
instant and in order, and a keep-alive or a long poll that stops afterwards leaves its
application to expire when it would have; only requests nobody looks at are left out.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ucwa_flow.clock import ManualClock, TimerHandle, ticks_before
from ucwa_flow.simulator import Simulator
from ucwa_flow.simulator.config import SimulatorConfig
from ucwa_flow.simulator.state import Application
from ucwa_flow.ucwa._presence import KEEP_ALIVE_SLEEP

__all__ = ["KeepAlive", "ScenarioClock", "Upkeep", "idle_upkeep"]


@dataclass(frozen=True)
class KeepAlive:
    """The pending sleep of one user's keep-alive: when it ends, and its interval."""

    timer: TimerHandle
    due: float
    interval: float


@dataclass
class Upkeep:
    """What a quiet world's idle time may skip: these timers, these applications' upkeep."""

    config: SimulatorConfig
    timers: set[TimerHandle] = field(default_factory=set)
    apps: list[Application] = field(default_factory=list)

    def skip(
        self,
        end: float,
        reported: Mapping[str, float],
        due_of: Callable[[TimerHandle], float | None],
    ) -> dict[TimerHandle, float]:
        """Leave the applications as their upkeep up to ``end`` would have (``reported``:
        the last keep-alive report before ``end`` by user, if any) and return where their
        timers that were due before ``end`` go."""
        whens: dict[TimerHandle, float] = {}
        for app in self.apps:
            last = reported.get(app.user.uri.lower())
            if last is not None and app.available:
                app.last_activity = max(app.last_activity, last)
            hold = app.channel.idle_timer
            timeout = app.channel.skip_idle(end)
            if hold is not None and timeout is not None:
                whens[hold] = timeout
            check = app.expiry_timer
            when = None if check is None else due_of(check)
            if check is not None and when is not None and when < end:
                whens[check] = self._expiry_check(app, when, end)
        return whens

    def _expiry_check(self, app: Application, when: float, end: float) -> float:
        """When the simulator's expiry check of ``app`` (due at ``when``) would fall due
        next after ``end``: at its activity's expiry, or every ``pget_expiry`` while the
        application is not available (its P-GET is held, so nothing else expires it)."""
        if app.available:
            return app.last_activity + self.config.activity_expiry
        period = self.config.pget_expiry
        return when + ticks_before(when, period, end) * period


#: what :meth:`ScenarioClock.advance_settled` asks, with the pending keep-alives by user,
#: before it skips idle time: the upkeep to skip, or ``None`` when the world is not quiet
UpkeepFinder = Callable[[Mapping[str, KeepAlive]], Upkeep | None]


class ScenarioClock(ManualClock):
    """A :class:`ManualClock` that knows when its timers fall due and which of them are
    keep-alive sleeps (those started while :data:`KEEP_ALIVE_SLEEP` names a user)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._due: list[float] = []
        self._kept: dict[str, KeepAlive] = {}

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        heapq.heappush(self._due, self.monotonic() + max(0.0, delay))
        timer = super().call_later(delay, callback, *args)
        user = KEEP_ALIVE_SLEEP.get()
        if user is not None:
            self._kept[user.lower()] = KeepAlive(timer, self.monotonic() + max(0.0, delay), delay)
        return timer

    async def advance_settled(
        self, seconds: float, settle: Callable[[], Any], upkeep: UpkeepFinder | None = None
    ) -> None:
        """Advance by ``seconds``, awaiting ``settle()`` at each instant a timer is due;
        with ``upkeep``, idle time is skipped whenever it finds the world quiet."""
        target = self.monotonic() + seconds
        while True:
            if upkeep is not None:
                self._skip_idle(target, upkeep)
            if not (self._due and self._due[0] <= target):
                break
            due = heapq.heappop(self._due)
            if due > self.monotonic():
                await self.advance(due - self.monotonic())
                await settle()
        await self.advance(target - self.monotonic())
        await settle()

    def _skip_idle(self, target: float, upkeep: UpkeepFinder) -> None:
        kept = {user: k for user, k in self._kept.items() if self.due_of(k.timer) is not None}
        self._kept = kept
        first = self.next_due()
        if first is None or first >= target:
            return
        found = upkeep(kept)
        if found is None:
            return
        idle = found.timers | {k.timer for k in kept.values()}
        firm = self.next_due(excluding=idle)
        end = target if firm is None else min(firm, target)
        if first >= end:
            return  # the next due timer is one that matters
        whens: dict[TimerHandle, float] = {}
        reported: dict[str, float] = {}
        for user, k in list(kept.items()):
            ticks = ticks_before(k.due, k.interval, end)
            if ticks:
                reported[user] = k.due + (ticks - 1) * k.interval
                kept[user] = KeepAlive(k.timer, k.due + ticks * k.interval, k.interval)
                whens[k.timer] = kept[user].due
        whens.update(found.skip(end, reported, self.due_of))
        self.reschedule(whens)
        self._due = self.due_times  # a sorted list is a heap


def idle_upkeep(sim: Simulator, kept: Mapping[str, KeepAlive]) -> Upkeep | None:
    """The timers and applications a quiet ``sim`` may skip idle time for, or ``None``.

    Quiet: every live application holds a P-GET that waits for nothing but its timeout,
    and every available one has a keep-alive pending that reports its activity before it
    would expire, at an interval shorter than that (:attr:`SimulatorConfig.activity_expiry`).
    Such an application stays alive however long nothing else happens; so its P-GET's
    timeout and its expiry check may move with the skipped time.
    """
    expiry = sim.config.activity_expiry
    found = Upkeep(sim.config)
    for app in sim.applications:
        if app.expired_at is not None:
            continue  # its retention timer is not upkeep: it is forgotten on time
        hold = app.channel.idle_timer
        if hold is None:
            return None
        if app.available:
            keep = kept.get(app.user.uri.lower())
            if keep is None or keep.interval >= expiry or keep.due >= app.last_activity + expiry:
                return None
        found.timers.add(hold)
        if app.expiry_timer is not None:
            found.timers.add(app.expiry_timer)
        found.apps.append(app)
    return found

"""The virtual clock of a scenario: every due timer in turn, idle upkeep skipped.

:meth:`ScenarioClock.advance_settled` moves time from one due timer to the next and lets
the world settle at each. Most of the timers of a long quiet wait only keep the
applications alive: every client's reportMyActivity every two minutes, every held P-GET
that times out after three and is asked again, the simulator's expiry checks. Stepping
through them made a ``wait: 5d`` cost seconds of real time and an absurd one never end.

So when the world is quiet (see :func:`idle_upkeep`: every live application holds a P-GET
with no event pending and, when available, is kept alive by its client), the clock
postpones those timers to the next instant something else is due (a flow's timeout, an
invitation's answer time, a webhook's delay, the end of the wait) and moves the
simulator's idea of each application's last activity forward by as much: what the
skipped keep-alives would have left, at the same distance. Everything a test sees still
happens at its instant and in order; only requests nobody looks at are left out.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ucwa_flow.clock import ManualClock, TimerHandle
from ucwa_flow.simulator import Simulator
from ucwa_flow.simulator.state import Application
from ucwa_flow.ucwa._presence import KEEP_ALIVE_TASK

__all__ = ["KeepAlive", "ScenarioClock", "Upkeep", "idle_upkeep"]


@dataclass(frozen=True)
class KeepAlive:
    """The pending sleep of one user's keep-alive task: when it ends, and its interval."""

    timer: TimerHandle
    due: float
    interval: float


@dataclass
class Upkeep:
    """What a quiet world's idle time may skip: these timers, these applications' times."""

    timers: set[TimerHandle] = field(default_factory=set)
    apps: list[Application] = field(default_factory=list)

    def shift(self, seconds: float) -> None:
        """Move the applications' activity and P-GET times ``seconds`` later."""
        for app in self.apps:
            app.last_activity += seconds
            app.channel.last_release += seconds


#: what :meth:`ScenarioClock.advance_settled` asks, with the pending keep-alives by user,
#: before it skips idle time: the upkeep to skip, or ``None`` when the world is not quiet
UpkeepFinder = Callable[[Mapping[str, KeepAlive]], Upkeep | None]


class ScenarioClock(ManualClock):
    """A :class:`ManualClock` that knows when its timers fall due and which of them are
    keep-alive sleeps (those of tasks named ``ucwa-keep-alive <user>``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._due: list[float] = []
        self._kept: dict[str, KeepAlive] = {}

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        heapq.heappush(self._due, self.monotonic() + max(0.0, delay))
        timer = super().call_later(delay, callback, *args)
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running loop
            task = None
        name = task.get_name() if task is not None else ""
        if name.startswith(KEEP_ALIVE_TASK + " "):
            user = name[len(KEEP_ALIVE_TASK) + 1 :].lower()
            self._kept[user] = KeepAlive(timer, self.monotonic() + max(0.0, delay), delay)
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
        kept = {user: k for user, k in self._kept.items() if self._live(k.timer)}
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
        seconds = end - self.monotonic()
        self.postpone(idle, seconds)
        found.shift(seconds)
        self._kept = {
            user: KeepAlive(k.timer, k.due + seconds, k.interval) for user, k in kept.items()
        }
        self._due = self.due_times  # a sorted list is a heap

    def _live(self, timer: TimerHandle) -> bool:
        return not getattr(timer, "cancelled", True)


def idle_upkeep(sim: Simulator, kept: Mapping[str, KeepAlive]) -> Upkeep | None:
    """The timers and applications a quiet ``sim`` may skip idle time for, or ``None``.

    Quiet: every live application holds a P-GET that waits for nothing but its timeout,
    and every available one has a keep-alive pending that reports its activity before it
    would expire, at an interval shorter than that (:attr:`SimulatorConfig.activity_expiry`).
    Such an application stays alive however long nothing else happens; so its P-GET's
    timeout and its expiry check may move with the skipped time.
    """
    expiry = sim.config.activity_expiry
    found = Upkeep()
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

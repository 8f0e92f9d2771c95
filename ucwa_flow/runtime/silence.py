"""One conversation's silence timer: when the next step of the state's silence schedule is due.

A state's silence schedule (:meth:`~ucwa_flow.runtime.flowmachine.FlowMachine.silence_schedule`)
lists its ``timeouts`` steps and the flow's idle timeout by seconds of caller silence. Every
entry counts from the same moment: entering the state, or the caller's last message,
whichever is later; each fires once. :class:`Silence` keeps at most one timer for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ucwa_flow.clock import Clock, TimerHandle
from ucwa_flow.runtime.flowmachine import FlowMachine

__all__ = ["Silence"]

Schedule = tuple[FlowMachine.Entry, ...]


class Timers(Protocol):
    """Where a silence timer is set (the engine's services): its clock, and
    ``post_timer(owner, delay, epoch)``."""

    @property
    def clock(self) -> Clock: ...

    def post_timer(self, owner: Any, delay: float, epoch: int) -> TimerHandle: ...


class Silence:
    """The silence timer of one conversation, the ``owner`` each call that may set a timer
    names.

    ``timers.post_timer(owner, delay, epoch)`` arranges for :meth:`fire` to be called with
    ``epoch`` after ``delay`` seconds (through the conversation's mailbox); a timer of an
    earlier epoch is stale (the state changed since) and fires nothing. (The owner is
    passed along rather than bound into a closure: one per conversation, they add up.)

    The owner (the conversation's :class:`~ucwa_flow.runtime.instance.FlowInstance`, which
    holds this object) is an argument, not an attribute: a back-pointer would make every
    conversation a reference cycle, freed only by the cyclic garbage collector once it
    ended. The one reference to it held here is the pending timer's, dropped when the timer
    fires or is cancelled (as the conversation ends).
    """

    __slots__ = ("_clock", "_cursor", "_due", "_epoch", "_since", "_timer", "_timers")

    def __init__(self, timers: Timers) -> None:
        self._timers = timers
        self._clock = timers.clock
        self._epoch = 0
        self._since = 0.0
        self._cursor = 0  # the next entry of the schedule to fire
        self._timer: TimerHandle | None = None
        self._due = 0.0

    def restart(self, owner: Any, schedule: Schedule) -> None:
        """A state was entered: its schedule starts now."""
        self.cancel()
        self._epoch += 1
        self.heard(owner, schedule)

    def heard(self, owner: Any, schedule: Schedule) -> None:
        """The caller spoke: the schedule starts again from now."""
        since = self._since = self._clock.monotonic()
        self._cursor = 0
        if self._timer is not None and schedule and self._due <= since + schedule[0][0]:
            return  # what :meth:`_arm` decides then (the usual case), a call less
        self._arm(owner, schedule)

    def fire(self, owner: Any, epoch: int, schedule: Schedule) -> FlowMachine.Entry | None:
        """The timer went off: the entry due now, or ``None`` (stale, or not due yet)."""
        if epoch != self._epoch:
            return None
        self._timer = None
        if self._cursor >= len(schedule):
            return None
        entry = schedule[self._cursor]
        if self._clock.monotonic() + 1e-6 < self._since + entry[0]:
            self._arm(owner, schedule)  # the caller spoke since this timer was set: not due yet
            return None
        self._cursor += 1
        self._arm(owner, schedule)
        return entry

    def to_data(self, now: float) -> dict[str, float | int]:
        """Where the silence stands, as data: its start in epoch seconds (``now`` is the
        wall clock at this moment) and the next entry of the schedule to fire."""
        return {"since": now - (self._clock.monotonic() - self._since), "cursor": self._cursor}

    def due(self, schedule: Schedule, now: float) -> float | None:
        """When (epoch seconds) the next entry of ``schedule`` is due, if any is left."""
        if self._cursor >= len(schedule):
            return None
        return now - self._clock.monotonic() + self._since + schedule[self._cursor][0]

    def resume(
        self, owner: Any, data: Mapping[str, float] | None, schedule: Schedule, now: float
    ) -> None:
        """Carry on from :meth:`to_data` (taken by another process, perhaps): an entry that
        fell due meanwhile fires at once, and only once. No data: start afresh."""
        if not data:
            self.restart(owner, schedule)
            return
        self.cancel()
        self._epoch += 1
        self._since = self._clock.monotonic() - (now - float(data["since"]))
        self._cursor = int(data["cursor"])
        self._arm(owner, schedule)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, owner: Any, schedule: Schedule) -> None:
        """Make sure a timer goes off by the next due entry.

        Caller messages only move the start of the silence: a timer already set for an
        earlier moment is kept and re-armed when it fires early, so a busy conversation
        does not allocate a timer per message.
        """
        if self._cursor >= len(schedule):
            return
        due = self._since + schedule[self._cursor][0]
        if self._timer is not None:
            if self._due <= due:
                return
            self._timer.cancel()
        delay = due - self._clock.monotonic()
        self._timer = self._timers.post_timer(owner, delay, self._epoch)
        self._due = due

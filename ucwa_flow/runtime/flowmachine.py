"""A flow's states as a ``transitions`` machine, shared by every conversation running it.

The flow interpreter keeps each conversation's position in the flow as the state of a model
registered with this machine (see :class:`~ucwa_flow.lifecycle.machine.SharedMachine` for why
one shared synchronous machine serves them all, and why nothing is bound onto the models).
"""

from __future__ import annotations

from typing import Any, cast

from ucwa_flow.flow import ActionRef, Flow, Say, State, UnknownActionList
from ucwa_flow.lifecycle.machine import SharedMachine
from ucwa_flow.runtime.matching import Candidate, candidates

__all__ = ["FlowMachine", "Plans"]

#: a list not looked at yet (``Plans.says_only``; typed as an answer: no cast per read)
_UNDECIDED = cast("tuple[Say, ...]", object())


class FlowMachine(SharedMachine):
    """The states of one flow as a shared ``transitions`` machine.

    Every flow state is a machine state; trigger ``enter:<name>`` moves any instance there
    (from any state, including itself: re-entering runs ``enter`` again), and ``end`` moves
    it to the terminal ``(ended)`` state.
    """

    NEW = "(new)"
    ENDED = "(ended)"

    #: one entry of a state's silence schedule: (seconds of silence, timeout step or -1)
    Entry = tuple[float, int]

    def __init__(self, flow: Flow) -> None:
        names = list(flow.states)
        transitions: list[dict[str, Any]] = [
            {"trigger": f"enter:{name}", "source": "*", "dest": name} for name in names
        ]
        transitions.append({"trigger": "end", "source": "*", "dest": self.ENDED})
        super().__init__(
            f"flow {flow.name}", [self.NEW, *names, self.ENDED], transitions, initial=self.NEW
        )
        #: the per-state and per-list lookups (a message reads this once: :class:`Plans`)
        self.plans = Plans(flow)


class Plans:
    """What a flow version's states and action lists come to, worked out once and shared
    by every conversation running it: a plain object, because a ``transitions.Machine``
    has a ``__getattr__``, so that every attribute read on one (a :class:`FlowMachine`)
    takes Python's slow path; a message's lookups are made here instead."""

    __slots__ = ("_candidates", "_flow", "_heard", "_idle", "_says", "_schedules", "_starts")

    def __init__(self, flow: Flow) -> None:
        self._idle = flow.settings.idle_timeout
        self._schedules: dict[str, tuple[FlowMachine.Entry, ...]] = {}
        self._candidates: dict[str, tuple[Candidate, ...]] = {}
        self._starts: dict[str, tuple[ActionRef]] = {}
        self._flow = flow
        self._says: dict[str, tuple[Say, ...] | None] = {}
        self._heard: dict[str, tuple[tuple[FlowMachine.Entry, ...], tuple[Candidate, ...]]] = {}

    def start_of(self, list_id: str) -> tuple[ActionRef]:
        """The frames that run action list ``list_id`` from its start (made once: the
        same for every conversation)."""
        found = self._starts.get(list_id)
        if found is None:
            found = self._starts[list_id] = (ActionRef(list_id, 0),)
        return found

    def says_only(self, flow: Flow, list_id: str) -> tuple[Say, ...] | None:
        """``flow``'s action list ``list_id`` when it holds nothing but ``say`` actions (a
        handler's ``say:`` alone), which run without a coroutine; ``None`` otherwise, and
        for a flow other than the one these plans were made for (another copy of its
        version). Decided once per list."""
        if flow is not self._flow:
            return None
        found = self._says.get(list_id, _UNDECIDED)
        if found is not _UNDECIDED:
            return found
        try:
            actions = flow.action_list(list_id)
        except UnknownActionList:
            return None  # the general path reports it
        says = None
        if all(type(action) is Say for action in actions):
            says = cast("tuple[Say, ...]", actions)
        self._says[list_id] = says
        return says

    def heard_in(self, state: State) -> tuple[tuple[FlowMachine.Entry, ...], tuple[Candidate, ...]]:
        """What a message in ``state`` needs: :meth:`silence_schedule` and
        :meth:`candidates`, in one call."""
        found = self._heard.get(state.name)
        if found is None:
            found = self._heard[state.name] = self.silence_schedule(state), self.candidates(state)
        return found

    def candidates(self, state: State) -> tuple[Candidate, ...]:
        """What a message in ``state`` is tried against, in order
        (:func:`~ucwa_flow.runtime.matching.candidates`). Computed once per state."""
        found = self._candidates.get(state.name)
        if found is None:
            found = self._candidates[state.name] = candidates(state)
        return found

    def silence_schedule(self, state: State) -> tuple[FlowMachine.Entry, ...]:
        """What happens as the caller stays silent in ``state``, in order of time.

        Each entry is (seconds since the silence began, index of the state's timeout step),
        with step -1 for the flow's idle timeout. Computed once per state.
        """
        found = self._schedules.get(state.name)
        if found is None:
            entries = [(step.after, i) for i, step in enumerate(state.timeouts)]
            if self._idle:
                entries.append((self._idle, -1))
            found = self._schedules[state.name] = tuple(sorted(entries))
        return found

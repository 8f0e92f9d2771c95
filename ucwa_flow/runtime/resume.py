"""Walking a flow's action lists from places kept as data.

An instance runs actions from :class:`~ucwa_flow.flow.ActionRef` places (an action list's
id and a position), never from live slices of the flow: an ``if`` pushes the place of its
branch and of the rest of its list, and an ``invite`` or ``webhook`` leaves the places still
to run as a :class:`~ucwa_flow.runtime.services.Continuation`, plain data that a store can
keep and a process running the same flow version can resume.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ucwa_flow.flow import Action, ActionRef, Flow, branch_list_id
from ucwa_flow.runtime.services import Continuation

__all__ = ["ActionCursor"]


class ActionCursor:
    """The actions to run from ``frames``, in order, one at a time (iterate it once;
    :meth:`branch` and :meth:`suspend` act on the action it gave last).

    Resolving a place may raise :class:`~ucwa_flow.flow.UnknownActionList` (the flow
    changed incompatibly since the place was taken).
    """

    __slots__ = ("_actions", "_flow", "_list", "_next", "_work")

    def __init__(self, flow: Flow, frames: tuple[ActionRef, ...]) -> None:
        self._flow = flow
        # the places still to run, the next one last (taken with pop(), pushed with append)
        self._work = list(frames) if len(frames) < 2 else list(reversed(frames))
        self._list = ""
        self._actions: tuple[Action, ...] = ()
        self._next = 0

    def __iter__(self) -> Iterator[Action]:
        # a generator: no method call per action, no StopIteration raised at the end
        while True:
            while self._next >= len(self._actions):
                if not self._work:
                    return
                frame = self._work.pop()
                self._actions = self._flow.action_list(frame.list_id)
                self._list, self._next = frame.list_id, frame.position
            action = self._actions[self._next]
            self._next += 1
            yield action

    def branch(self, name: str) -> None:
        """Run branch ``name`` of the action just returned, then the rest of its list."""
        at = self._next - 1
        branch = ActionRef(branch_list_id(self._list, at, name), 0)
        self._work += (ActionRef(self._list, self._next), branch)
        self._actions, self._next = (), 0

    def suspend(self, extras: Mapping[str, Any], after_end: bool) -> Continuation:
        """What is left once the action just returned (an invite or webhook) is answered."""
        after = (ActionRef(self._list, self._next), *reversed(self._work))
        return Continuation(ActionRef(self._list, self._next - 1), after, extras, after_end)

"""Semantic checks of ``handoff`` actions: the rules F150-F159.

* F150, F151 (warnings): no ``no_answer`` / ``agent_left`` branch: nothing is said when
  nobody takes the caller, or when the agent leaves (the caller is back in the state, in
  silence);
* F152: an empty list of agents;
* F153: ``connected`` runs a ``goto``, ``stop``, ``call`` or ``return``: the bridge starts
  after it, so it must leave the conversation where it is (use ``done`` to go back);
* F154: a handoff in an ``ended`` list or an outbound flow's outcome: no caller is there.

``done.goto`` to an unknown state is F101 like any ``goto`` (the branch is a ``goto``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ucwa_flow.flow._diagnostics import Diagnostic
from ucwa_flow.flow._handoff import Handoff
from ucwa_flow.flow._loader import Document
from ucwa_flow.flow._model import Action, Call, Flow, Goto, Return, Stop, iter_actions

__all__ = ["HANDOFF_CHECKS"]


def _handoffs(actions: Iterable[tuple[Action, ...]]) -> Iterator[Handoff]:
    seen: set[object] = set()
    for listed in actions:
        for action in iter_actions(listed):
            if isinstance(action, Handoff) and action.location not in seen:
                seen.add(action.location)
                yield action


def _all_lists(flow: Flow) -> Iterator[tuple[Action, ...]]:
    for state in flow.states.values():
        yield from state.all_action_lists()


def check_handoffs(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    """F150-F153 on every handoff of ``flow``."""
    for handoff in _handoffs(_all_lists(flow)):
        at = handoff.location
        if handoff.no_answer is None:
            message = "handoff has no no_answer branch: say what happens when no agent takes it"
            yield Diagnostic.at(at, "F150", message)
        if handoff.agent_left is None:
            message = "handoff has no agent_left branch: say what happens when the agent leaves"
            yield Diagnostic.at(at, "F151", message)
        if not handoff.to:
            yield Diagnostic.at(at, "F152", "handoff to nobody: give at least one agent in `to`")
        for action in iter_actions(handoff.connected or ()):
            if isinstance(action, Goto | Stop | Call | Return):
                message = (
                    "`connected` must not leave the state (goto, stop, call, return): the "
                    "relay starts after it; give the caller back with `done`"
                )
                yield Diagnostic.at(action.location, "F153", message)


def check_no_caller(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    """F154: a handoff where the conversation has no caller any more (or never had)."""
    lists = [state.ended for state in flow.states.values()]
    if flow.outbound is not None:
        lists += [flow.outbound.declined or (), flow.outbound.no_answer or ()]
    for handoff in _handoffs(lists):
        message = "handoff where there is no caller to hand over (`ended`, outbound outcomes)"
        yield Diagnostic.at(handoff.location, "F154", message)


HANDOFF_CHECKS: tuple[Callable[[Flow, Document], Iterable[Diagnostic]], ...] = (
    check_handoffs,
    check_no_caller,
)

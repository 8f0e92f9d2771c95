"""Transitions provably out of reach of any conversation test, read from the flow alone.

* A silence step (``after 1m``) is never due when the idle timeout is shorter, or when
  the conversation always leaves the state earlier: an earlier timeout step leaves or
  stops, or the state's ``enter`` waits for a webhook or an invitation whose every
  branch leaves, a wait bounded by its timeout (an unanswered invitation also by the
  simulated server, which gives up after 30 s). The idle timeout is never due when
  that holds in every state.
* ``delivery failed`` cannot be caused by a test script: the simulated server loses no
  message the script can point at.

The search stops once everything else is taken; the report gives these reasons.
"""

from __future__ import annotations

from collections.abc import Sequence

from ucwa_flow.flow import Action, Flow, Handoff, Invite, State, Webhook, format_duration
from ucwa_flow.graph import Edge, EdgeKind, Graph
from ucwa_flow.graph._paths import trace_exits

__all__ = ["out_of_reach"]

#: the simulated server gives up on an unanswered invitation after this many seconds
SERVER_GIVES_UP = 30.0


def out_of_reach(flow: Flow, graph: Graph) -> dict[Edge, str]:
    """The transitions of ``graph`` that no script can take, with the reason."""
    found: dict[Edge, str] = {}
    for edge in graph.edges:
        if edge.kind is EdgeKind.DELIVERY_FAILED:
            found[edge] = "a test script cannot make the simulated server lose a message"
        elif edge.kind is EdgeKind.TIMEOUT:
            why = _timeout(flow, edge)
            if why:
                found[edge] = why
    return found


def _timeout(flow: Flow, edge: Edge) -> str:
    head = edge.label.split(" → ", 1)[0]
    if head.startswith("idle "):
        idle = flow.settings.idle_timeout or 0.0
        if all(_left_before(state, idle) for state in flow.states.values()):
            return (
                f"no state stays silent for {format_duration(idle)}: each ends the "
                "conversation or leaves before (its timeouts, or the webhook or invitation "
                "its enter waits for)"
            )
        return ""
    state = flow.states.get(edge.source.name)
    if state is None:
        return ""
    spelled = head.removeprefix("after ")
    limit = flow.settings.idle_timeout
    for step in state.timeouts:
        if format_duration(step.after) != spelled:
            continue
        if limit is not None and limit < step.after:
            return (
                f"the flow's idle timeout ({format_duration(limit)}) ends the conversation "
                f"before {spelled} of silence"
            )
        if _left_before(state, step.after):
            return (
                f"{state.name} is always left before {spelled} of silence (an earlier "
                "timeout step, or the webhook or invitation its enter waits for)"
            )
    return ""


def _left_before(state: State, seconds: float) -> bool:
    """The conversation surely leaves ``state`` (or ends) before ``seconds`` of silence."""
    for step in state.timeouts:
        if step.after < seconds and _always_leaves(step.actions):
            return True
    bound = _enter_wait(state.enter)
    return bound is not None and bound < seconds


def _always_leaves(actions: Sequence[Action]) -> bool:
    return all(exit_.target is not None for exit_ in trace_exits(actions))


def _enter_wait(actions: Sequence[Action]) -> float | None:
    """How long at most until the enter actions leave, through a webhook or an invite."""
    for action in actions:
        branches: tuple[tuple[Action, ...], ...]
        if isinstance(action, Webhook):
            branches = (action.success, action.failure or ())
            if all(_always_leaves(branch) for branch in branches):
                return action.timeout
        elif isinstance(action, Invite):
            branches = (action.accepted or (), action.declined or (), action.no_answer or ())
            if all(_always_leaves(branch) for branch in branches):
                return min(action.timeout, SERVER_GIVES_UP)
        elif isinstance(action, Handoff):
            return None  # a bridge lasts as long as the agent and the caller talk
    return None

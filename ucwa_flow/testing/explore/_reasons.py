"""Why a transition was not taken: one line per transition, for the explorer's report.

The reasons come from what the search noted (a handler no message could be built for,
an invitation rule no caller and time fits) and from reading the flow where a
transition is provably out of reach:

* a silence step (``after 1m``, ``idle 30m``) is never due when the conversation always
  leaves the state earlier: an earlier timeout step leaves or stops, or the state's
  ``enter`` waits for a webhook or an invitation whose every branch leaves, and that wait
  is bounded by its timeout (an unanswered invitation also by the simulated server,
  which gives up after 30 s);
* a branch of ``if`` that the values tried never took names its condition;
* ``delivery failed`` cannot be caused by a test script.
"""

from __future__ import annotations

from collections.abc import Sequence

from ucwa_flow.flow import Action, Flow, Invite, State, Webhook, format_duration
from ucwa_flow.graph import Edge, EdgeKind, NodeKind
from ucwa_flow.graph._paths import trace_exits
from ucwa_flow.testing.explore._messages import handler_label, ordered
from ucwa_flow.testing.explore._search import Exploration

__all__ = ["reasons"]

_SERVER_GIVES_UP = 30.0


def reasons(found: Exploration) -> dict[Edge, str]:
    """A reason for every transition of the flow that no kept path took."""
    entered: set[str] = {
        obs.state
        for play, _ in found.plays
        for obs in play.observations
        if obs.state is not None and obs.state in found.flow.states
    }
    why: dict[Edge, str] = {}
    for edge in found.graph.edges:
        if edge not in found.covered:
            why[edge] = _reason(found, edge, entered)
    return why


def _reason(found: Exploration, edge: Edge, entered: set[str]) -> str:
    flow = found.flow
    source = edge.source
    if source.kind is NodeKind.START:
        for label, text in found.entry_missed.items():
            if label == edge.label:
                return text
    if source.kind is NodeKind.STATE and source.name not in entered:
        return f"the state {source.name} is never entered"
    if edge.kind is EdgeKind.DELIVERY_FAILED:
        return "a test script cannot make the simulated server lose a message"
    if edge.kind is EdgeKind.TIMEOUT:
        timed = _timeout_reason(flow, edge, entered)
        if timed:
            return timed
    if edge.kind in (EdgeKind.MESSAGE, EdgeKind.COMMAND):
        note = _handler_note(found, edge)
        if note:
            return note
    branch = _condition(edge.label)
    if branch:
        return branch
    spent = f"; the search stopped after {found.runs} runs" if found.budget_spent else ""
    return f"no explored path took it ({found.runs} paths played{spent})"


def _handler_note(found: Exploration, edge: Edge) -> str:
    head = edge.label.split(" → ", 1)[0]
    for (state_name, index), note in found.handler_notes.items():
        if edge.source.kind is NodeKind.STATE and state_name != edge.source.name:
            continue
        handler = ordered(found.flow.states[state_name])[index]
        label = handler_label(handler)
        if head in label:
            return f"{label} in {state_name}: {note}"
    return ""


def _condition(label: str) -> str:
    for part in label.split(" → "):
        if part.startswith("if "):
            return f"its condition `{part[3:]}` was never true with the values tried"
        if part == "else":
            return "its `if` condition was never false with the values tried"
    return ""


def _timeout_reason(flow: Flow, edge: Edge, entered: set[str]) -> str:
    if edge.label.startswith("idle "):
        idle = flow.settings.idle_timeout or 0.0
        for name in sorted(entered & set(flow.states)):
            if not _left_before(flow.states[name], idle):
                return ""
        return (
            f"no state stays silent for {format_duration(idle)}: each ends the conversation "
            "or leaves before (its timeouts, or the webhook or invitation its enter waits for)"
        )
    state = flow.states.get(edge.source.name)
    after = _seconds(edge.label.split(" → ", 1)[0].removeprefix("after "), state)
    if state is not None and after is not None and _left_before(state, after):
        return (
            f"{state.name} is always left before {format_duration(after)} of silence "
            "(an earlier timeout step, or the webhook or invitation its enter waits for)"
        )
    return ""


def _seconds(spelled: str, state: State | None) -> float | None:
    if state is None:
        return None
    for step in state.timeouts:
        if format_duration(step.after) == spelled:
            return step.after
    return None


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
        if isinstance(action, Webhook):
            branches: tuple[tuple[Action, ...], ...] = (action.success, action.failure or ())
            if all(_always_leaves(branch) for branch in branches):
                return action.timeout
        elif isinstance(action, Invite):
            branches = (action.accepted or (), action.declined or (), action.no_answer or ())
            if all(_always_leaves(branch) for branch in branches):
                return min(action.timeout, _SERVER_GIVES_UP)
    return None

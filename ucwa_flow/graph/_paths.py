"""Where a list of flow actions can lead: the exits of an action list.

Running a state's action list ends in one of three ways: a ``goto`` moves to another
state, a ``stop`` ends the conversation, or the list runs out and the conversation stays
where it is. A ``call`` moves into a sub-flow's start state (the actions after it run once
the sub-flow returns: :func:`after_calls`), and a ``return`` goes back to the caller.
Branching actions (``if``, an outbound ``invite``, a ``webhook``, a ``handoff``) split the run into
several paths, each named by the branches it took. :func:`trace_exits` lists those paths
so the flow extractor can draw one edge per path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ucwa_flow.flow import Action, Call, Goto, Handoff, If, Invite, Return, Stop, Webhook
from ucwa_flow.graph._model import EdgeKind

__all__ = ["END_OF_CONVERSATION", "HANDOFF_STEPS", "RETURN", "Exit", "after_calls", "trace_exits"]

#: how the graph names the ends of a handoff (by branch)
HANDOFF_STEPS = {"done": "agent done", "agent_left": "agent left", "no_answer": "no answer"}

#: the ``target`` of an exit that ends the conversation
END_OF_CONVERSATION = "\x00end"
#: the ``target`` of an exit that returns from a sub-flow to its caller
RETURN = "\x00return"

# A flow with many nested branches could make the number of paths explode; past this
# many, further branching is not followed (the graph stays readable and cheap).
_MAX_PATHS = 64


@dataclass(frozen=True)
class Exit:
    """One way an action list can end.

    ``steps`` names the branches taken (``("webhook ok", "if vars.vip")``); ``kind`` is
    the kind of the first outbound-invite or webhook branch taken, if any; ``target`` is
    a state name, :data:`END_OF_CONVERSATION`, or ``None`` when the list simply runs out
    and the conversation stays in its state.
    """

    steps: tuple[str, ...] = ()
    kind: EdgeKind | None = None
    target: str | None = None

    def then(self, later: Exit) -> Exit:
        """This path followed by ``later`` (which starts where this one ran out)."""
        return Exit(self.steps + later.steps, self.kind or later.kind, later.target)


def trace_exits(actions: Sequence[Action]) -> list[Exit]:
    """Every way ``actions`` can end, in the order the flow file shows them.

    Paths that leave (goto, stop) come first in discovery order, then the paths that run
    out. Branches that all run out without leaving are merged into one unnamed path,
    since which branch ran makes no difference to where the conversation is.
    """
    running = [Exit()]
    finished: list[Exit] = []
    for action in actions:
        outcomes = _outcomes(action)
        still_running: list[Exit] = []
        for path in running:
            for outcome in outcomes:
                combined = path.then(outcome)
                (finished if combined.target is not None else still_running).append(combined)
        running = still_running[: max(_MAX_PATHS - len(finished), 1)]
        if not running:
            break
    return _unique(finished + running)


def _outcomes(action: Action) -> list[Exit]:
    if isinstance(action, Goto):
        return [Exit(target=action.target)]
    if isinstance(action, Stop):
        return [Exit(target=END_OF_CONVERSATION)]
    if isinstance(action, Call):
        return [Exit((f"call {action.subflow}",), target=action.target)]
    if isinstance(action, Return):
        return [Exit(("return",), target=RETURN)]
    branches: list[tuple[str, EdgeKind | None, Sequence[Action]]]
    if isinstance(action, If):
        branches = [
            (f"if {action.condition.source}", None, action.then),
            ("else", None, action.otherwise),
        ]
    elif isinstance(action, Invite):
        branches = [
            ("invite accepted", EdgeKind.INVITE, action.accepted or ()),
            ("invite declined", EdgeKind.INVITE, action.declined or ()),
            ("no answer", EdgeKind.INVITE, action.no_answer or ()),
        ]
    elif isinstance(action, Webhook):
        branches = [
            ("webhook ok", EdgeKind.WEBHOOK, action.success),
            ("webhook failed", EdgeKind.WEBHOOK, action.failure or ()),
        ]
    elif isinstance(action, Handoff):  # `connected` cannot leave (F153): the bridge's ends
        branches = [
            (HANDOFF_STEPS[name], EdgeKind.INVITE, branch or ())
            for name, branch in action.branches()
            if name != "connected"
        ]
    else:
        return [Exit()]
    outcomes = [
        Exit((step,), kind).then(exit_)
        for step, kind, branch in branches
        for exit_ in trace_exits(branch)
    ]
    if all(outcome.target is None for outcome in outcomes):
        return [Exit()]
    return outcomes


def _unique(exits: list[Exit]) -> list[Exit]:
    return list(dict.fromkeys(exits))


def after_calls(
    actions: Sequence[Action], after: tuple[Action, ...] = ()
) -> Iterator[tuple[Call, tuple[Action, ...]]]:
    """Every ``call`` in ``actions`` (branches included) with the actions that run once
    its sub-flow returns: the rest of its list, then of the lists around it."""
    for i, action in enumerate(actions):
        rest = (*actions[i + 1 :], *after)
        if isinstance(action, Call):
            yield action, rest
        elif isinstance(action, If):
            yield from after_calls(action.then, rest)
            yield from after_calls(action.otherwise, rest)
        elif isinstance(action, Invite):
            for branch in (action.accepted, action.declined, action.no_answer):
                yield from after_calls(branch or (), rest)
        elif isinstance(action, Webhook):
            yield from after_calls(action.success, rest)
            yield from after_calls(action.failure or (), rest)
        elif isinstance(action, Handoff):
            for _, branch in action.branches():
                yield from after_calls(branch or (), rest)

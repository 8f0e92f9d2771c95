"""Extract a :class:`Graph` from a compiled :class:`~ucwa_flow.flow.Flow`.

Every state of the flow becomes a node, in file order. Edges, per state:

* the ``enter`` actions' ``goto``/``stop`` (kind ``enter``, or the invite/webhook branch
  that leads there);
* each message handler, labelled by its matcher (``/regex/``, ``"1" or "password"``,
  ``words: printer, paper``, ``any message``); a handler that does not move draws a loop;
* the no-match ladder, one edge per destination (``no match 1-2`` loops, ``no match 3+``
  leaves; the last rung repeats) and each step of the timeout ladder (``after 2m``);
* ``ended`` (``caller left``, always to the end) and ``delivery failed`` when handled;
* commands the state defines or overrides.

A ``call`` is an edge into the sub-flow's start state (``call confirm``); its states are
drawn like the flow's own (named ``confirm/ask``); each ``return`` is an edge back to every
state that calls the sub-flow, and what the caller does after the return is drawn from
the calling state (``confirm returned → ...``).

Global commands and the flow's idle timeout apply in every state, so they are drawn once
from the "any state" node instead of from each state. The start arrow carries the
invitation policy when there is one (each rule, then the default), and an outbound flow's
invitation outcomes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ucwa_flow.flow import (
    Action,
    Flow,
    InvitationPolicy,
    InvitationRule,
    Location,
    MessageHandler,
    Outbound,
    State,
    format_duration,
)
from ucwa_flow.graph._model import ANY, END, START, EdgeKind, Graph, GraphBuilder, Node
from ucwa_flow.graph._paths import END_OF_CONVERSATION, RETURN, after_calls, trace_exits

__all__ = ["extract_flow", "matcher_label"]

#: each part of a label (trigger, branch) longer than this is cut with an ellipsis
MAX_LABEL = 48
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def extract_flow(flow: Flow) -> Graph:
    """The graph of ``flow``: its states, and an edge per way of moving between them.

    The flow must be the compiled result of a load without errors (every ``goto``
    names a state); the graph is then complete for every state in the file.

    The graph's :attr:`~ucwa_flow.graph.Graph.lines` give each state the line of its key
    in the file and each edge the line of what it comes from: the handler, command,
    ladder rung, timeout step or invitation rule (the flow's first line when nothing
    nearer is known, as for the idle timeout).
    """
    builder = GraphBuilder(flow.name)
    for state in flow.states.values():
        builder.add_state(state.name, state.location.line)
    _add_entry(builder, flow)
    global_commands = {command.location for command in flow.commands}
    for command in flow.commands:
        _add_paths(
            builder,
            ANY,
            EdgeKind.COMMAND,
            command_label(command),
            command.actions,
            line=command.location.line,
        )
    if flow.settings.idle_timeout is not None:
        idle = f"idle {format_duration(flow.settings.idle_timeout)}"
        builder.add_edge(ANY, END, EdgeKind.TIMEOUT, idle, flow.location.line)
    callers = _callers(flow)
    owner = {name: sub.name for sub in flow.subflows.values() for name in sub.states}
    for state in flow.states.values():
        builder.returns_to = callers.get(owner.get(state.name, ""), [])
        _add_state(builder, state, global_commands)
    return builder.build()


def _callers(flow: Flow) -> dict[str, list[str]]:
    """Sub-flow name -> the states that call it; drawn: what runs after each return."""
    callers: dict[str, list[str]] = {}
    for state in flow.states.values():
        for actions in state.all_action_lists():
            for call, _ in after_calls(actions):
                names = callers.setdefault(call.subflow, [])
                if state.name not in names:
                    names.append(state.name)
    return callers


def _add_returns(builder: GraphBuilder, node: Node, state: State) -> None:
    for actions in state.all_action_lists():
        for call, rest in after_calls(actions):
            trigger = f"{call.subflow} returned"
            line = call.location.line
            _add_paths(builder, node, EdgeKind.ENTER, trigger, rest, loop=False, line=line)


def _add_state(builder: GraphBuilder, state: State, global_commands: set[Location]) -> None:
    line = state.location.line
    node = builder.add_state(state.name, line)
    _add_returns(builder, node, state)
    enter_line = _first_line(state.enter, line)
    _add_paths(builder, node, EdgeKind.ENTER, "", state.enter, loop=False, line=enter_line)
    for command in state.commands:
        if command.location not in global_commands:
            label = command_label(command)
            _add_paths(
                builder, node, EdgeKind.COMMAND, label, command.actions, command.location.line
            )
    for handler in state.handlers:
        label = matcher_label(handler)
        _add_paths(builder, node, EdgeKind.MESSAGE, label, handler.actions, handler.location.line)
    _add_no_match_ladder(builder, node, state)
    for step in state.timeouts:
        label = f"after {format_duration(step.after)}"
        _add_paths(builder, node, EdgeKind.TIMEOUT, label, step.actions, step.location.line)
    if state.ended:
        ended_line = _first_line(state.ended, line)
        builder.add_edge(node, END, EdgeKind.ENDED, "caller left", ended_line)
    if state.delivery_failed:
        failed_line = _first_line(state.delivery_failed, line)
        _add_paths(
            builder,
            node,
            EdgeKind.DELIVERY_FAILED,
            "delivery failed",
            state.delivery_failed,
            failed_line,
        )


def _first_line(actions: Sequence[Action], default: int) -> int:
    """The line of the first of ``actions`` (``default`` for none)."""
    return actions[0].location.line if actions else default


def _add_no_match_ladder(builder: GraphBuilder, node: Node, state: State) -> None:
    """One edge per destination of the ladder: ``no match 1-2`` (stays), ``no match 3+``.

    The last rung repeats for every further miss, hence its ``+``.
    """
    rungs: dict[tuple[str | None, tuple[str, ...]], list[int]] = {}
    lines: dict[tuple[str | None, tuple[str, ...]], int] = {}
    for number, rung in enumerate(state.no_match, start=1):
        for exit_ in trace_exits(rung.actions):
            rungs.setdefault((exit_.target, exit_.steps), []).append(number)
            lines.setdefault((exit_.target, exit_.steps), rung.location.line)
    last = len(state.no_match)
    for (target, steps), numbers in rungs.items():
        label = "no match " + _number_ranges(numbers) + ("+" if numbers[-1] == last else "")
        line = lines[(target, steps)]
        target_node = _target(builder, node, target)
        _add_edge(builder, node, target_node, EdgeKind.NO_MATCH, label, steps, line)


def _number_ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``1-3, 5``."""
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(parts)


def _add_paths(
    builder: GraphBuilder,
    source: Node,
    kind: EdgeKind,
    trigger: str,
    actions: Sequence[Action],
    line: int | None = None,
    *,
    loop: bool = True,
) -> None:
    """One edge per exit of ``actions``; an exit that stays draws a loop if ``loop``."""
    for exit_ in trace_exits(actions):
        if exit_.target is None and not loop:
            continue
        edge_kind = exit_.kind if kind is EdgeKind.ENTER and exit_.kind else kind
        targets = [exit_.target] if exit_.target != RETURN else builder.returns_to
        for target in targets:
            node = _target(builder, source, target)
            _add_edge(builder, source, node, edge_kind, trigger, exit_.steps, line)


def _target(builder: GraphBuilder, source: Node, target: str | None) -> Node:
    if target is None:
        return source
    if target == END_OF_CONVERSATION:
        return END
    return builder.add_state(target)


def _add_edge(
    builder: GraphBuilder,
    source: Node,
    target: Node,
    kind: EdgeKind,
    trigger: str,
    steps: tuple[str, ...],
    line: int | None = None,
) -> None:
    label = " → ".join(_shorten(part) for part in (trigger, *steps) if part)
    builder.add_edge(source, target, kind, label, line)


def _add_entry(builder: GraphBuilder, flow: Flow) -> None:
    start = builder.add_state(flow.start)
    start_line = flow.start_state.location.line
    if flow.outbound is not None:
        _add_outbound(builder, flow.outbound, start)
    policy = flow.invitation
    if not policy.rules:
        if flow.outbound is not None and policy.default == "accept":
            return  # the outbound invitation is the way in
        if policy.default == "accept":
            builder.add_edge(START, start, EdgeKind.EVENT, line=start_line)
        else:
            label = "decline every invitation"
            builder.add_edge(START, END, EdgeKind.EVENT, label, flow.location.line)
        return
    for rule in policy.rules:
        target = END if rule.action == "decline" else builder.add_state(rule.goto or flow.start)
        label = _shorten(_rule_label(rule))
        builder.add_edge(START, target, EdgeKind.EVENT, label, rule.location.line)
    default_target = start if policy.default == "accept" else END
    line = start_line if policy.default == "accept" else flow.location.line
    builder.add_edge(START, default_target, EdgeKind.EVENT, _default_label(policy), line)


def _add_outbound(builder: GraphBuilder, outbound: Outbound, start: Node) -> None:
    line = outbound.location.line
    builder.add_edge(START, start, EdgeKind.INVITE, "invite accepted", line)
    for label, branch in (
        ("invite declined", outbound.declined),
        ("no answer", outbound.no_answer),
    ):
        if branch is not None:
            builder.add_edge(START, END, EdgeKind.INVITE, label, line)


def _rule_label(rule: InvitationRule) -> str:
    conditions: list[str] = []
    if rule.callers:
        conditions.append(" or ".join(rule.callers))
    if rule.subjects:
        conditions.append("subject " + " or ".join(f'"{s}"' for s in rule.subjects))
    if rule.days is not None:
        conditions.append(_days_label(rule.days))
    if rule.hours is not None:
        conditions.append(f"{rule.hours.start:%H:%M}-{rule.hours.end:%H:%M}")
    return f"{rule.action} {', '.join(conditions)}".strip()


def _default_label(policy: InvitationPolicy) -> str:
    return f"otherwise {policy.default}"


def _days_label(days: Iterable[int]) -> str:
    ordered = sorted(days)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{_DAYS[ordered[0] - 1]}-{_DAYS[ordered[-1] - 1]}"
    return ",".join(_DAYS[day - 1] for day in ordered)


def matcher_label(handler: MessageHandler) -> str:
    """What a reader sees on a message handler's edge: the pattern, words or choices."""
    matcher = handler.matcher
    if matcher.kind == "regex":
        return _shorten(f"/{matcher.values[0]}/")
    if matcher.kind == "choice":
        return _shorten(" or ".join(f'"{value}"' for value in matcher.values))
    if matcher.kind == "keywords":
        return _shorten("words: " + ", ".join(matcher.values))
    return "any message"


def command_label(command: MessageHandler) -> str:
    """A command's edge label: the words that invoke it (``agent, human``)."""
    if command.matcher.kind in ("keywords", "choice"):
        return _shorten(", ".join(command.matcher.values))
    return matcher_label(command)


def _shorten(label: str) -> str:
    label = " ".join(label.split())
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"

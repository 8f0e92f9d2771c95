"""Extract a :class:`Graph` from a compiled :class:`~ucwa_flow.flow.Flow`.

Every state of the flow becomes a node, in file order. Edges, per state:

* the ``enter`` actions' ``goto``/``stop`` (kind ``enter``, or the invite/webhook branch
  that leads there);
* each message handler, labelled by its matcher (``/regex/``, ``"1" or "password"``,
  ``words: printer, paper``, ``any message``); a handler that does not move draws a loop;
* the no-match ladder, one edge per destination (``no match 1-2`` loops, ``no match 3+``
  leaves; the last rung repeats) and each step of the timeout ladder (``after 2m``);
* ``ended`` (``caller left``, always to the end) and ``delivery failed`` when handled;
* commands the state defines or overrides;
* ``goto: back`` (kind ``back``, drawn dashed, the label ending in ``→ back``): one edge
  to each state with a ``goto`` into the state (where the conversation may have come
  from), and one to "any state" when a global command leads into it.

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

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ucwa_flow.flow import (
    BACK,
    Action,
    Flow,
    InvitationPolicy,
    InvitationRule,
    Location,
    MessageHandler,
    Outbound,
    State,
    back_targets,
    format_duration,
    global_goto,
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
    nearer is known, as for the idle timeout). What comes from another file than the
    flow's own (an included file, a sub-flow) has that file in
    :attr:`~ucwa_flow.graph.Graph.files`, relative to the flow file's folder.
    """
    builder = _Builder(flow.name, home=flow.location.file)
    for state in flow.states.values():
        builder.add_state(state.name, *builder.at(state.location))
    _add_entry(builder, flow)
    builder.back_to[ANY] = (ANY,)
    for name, sources in back_targets(flow, global_commands=False).items():
        into = (
            *(builder.add_state(s) for s in sources),
            *((ANY,) if global_goto(flow, name) else ()),
        )
        builder.back_to[builder.add_state(name)] = into
    global_commands = {command.location for command in flow.commands}
    for command in flow.commands:
        _add_paths(
            builder,
            ANY,
            EdgeKind.COMMAND,
            command_label(command),
            command.actions,
            at=command.location,
        )
    if flow.settings.idle_timeout is not None:
        idle = f"idle {format_duration(flow.settings.idle_timeout)}"
        builder.add_edge(ANY, END, EdgeKind.TIMEOUT, idle, *builder.at(flow.location))
    callers = _callers(flow)
    owner = {name: sub.name for sub in flow.subflows.values() for name in sub.states}
    for state in flow.states.values():
        builder.returns_to = callers.get(owner.get(state.name, ""), [])
        _add_state(builder, state, global_commands)
    return builder.build()


@dataclass
class _Builder(GraphBuilder):
    """A graph builder that knows the flow's own file, to place lines of other files."""

    home: str = ""

    def at(self, location: Location | None) -> tuple[int | None, str | None]:
        """The line of ``location`` and its file, ``None`` for the flow's own file."""
        if location is None:
            return None, None
        if location.file == self.home:
            return location.line, None
        folder = posixpath.dirname(self.home.replace("\\", "/")) or "."
        return location.line, posixpath.relpath(location.file.replace("\\", "/"), folder)


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


def _add_returns(builder: _Builder, node: Node, state: State) -> None:
    for actions in state.all_action_lists():
        for call, rest in after_calls(actions):
            trigger = f"{call.subflow} returned"
            _add_paths(builder, node, EdgeKind.ENTER, trigger, rest, loop=False, at=call.location)


def _add_state(builder: _Builder, state: State, global_commands: set[Location]) -> None:
    here = state.location
    node = builder.add_state(state.name, *builder.at(here))
    _add_returns(builder, node, state)
    enter_at = _first_at(state.enter, here)
    _add_paths(builder, node, EdgeKind.ENTER, "", state.enter, loop=False, at=enter_at)
    for command in state.commands:
        if command.location not in global_commands:
            label = command_label(command)
            _add_paths(builder, node, EdgeKind.COMMAND, label, command.actions, command.location)
    for handler in state.handlers:
        label = matcher_label(handler)
        _add_paths(builder, node, EdgeKind.MESSAGE, label, handler.actions, handler.location)
    _add_no_match_ladder(builder, node, state)
    for step in state.timeouts:
        label = f"after {format_duration(step.after)}"
        _add_paths(builder, node, EdgeKind.TIMEOUT, label, step.actions, step.location)
    if state.ended:
        ended_at = builder.at(_first_at(state.ended, here))
        builder.add_edge(node, END, EdgeKind.ENDED, "caller left", *ended_at)
    if state.delivery_failed:
        failed_at = _first_at(state.delivery_failed, here)
        _add_paths(
            builder,
            node,
            EdgeKind.DELIVERY_FAILED,
            "delivery failed",
            state.delivery_failed,
            failed_at,
        )


def _first_at(actions: Sequence[Action], default: Location) -> Location:
    """The location of the first of ``actions`` (``default`` for none)."""
    return actions[0].location if actions else default


def _add_no_match_ladder(builder: _Builder, node: Node, state: State) -> None:
    """One edge per destination of the ladder: ``no match 1-2`` (stays), ``no match 3+``.

    The last rung repeats for every further miss, hence its ``+``.
    """
    rungs: dict[tuple[str | None, tuple[str, ...]], list[int]] = {}
    places: dict[tuple[str | None, tuple[str, ...]], Location] = {}
    for number, rung in enumerate(state.no_match, start=1):
        for exit_ in trace_exits(rung.actions):
            rungs.setdefault((exit_.target, exit_.steps), []).append(number)
            places.setdefault((exit_.target, exit_.steps), rung.location)
    last = len(state.no_match)
    for (target, steps), numbers in rungs.items():
        label = "no match " + _number_ranges(numbers) + ("+" if numbers[-1] == last else "")
        at = places[(target, steps)]
        if target == BACK:
            _add_back(builder, node, label, steps, at)
            continue
        target_node = _target(builder, node, target)
        _add_edge(builder, node, target_node, EdgeKind.NO_MATCH, label, steps, at)


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
    builder: _Builder,
    source: Node,
    kind: EdgeKind,
    trigger: str,
    actions: Sequence[Action],
    at: Location | None = None,
    *,
    loop: bool = True,
) -> None:
    """One edge per exit of ``actions``; an exit that stays draws a loop if ``loop``."""
    for exit_ in trace_exits(actions):
        if exit_.target is None and not loop:
            continue
        if exit_.target == BACK:
            _add_back(builder, source, trigger, exit_.steps, at)
            continue
        edge_kind = exit_.kind if kind is EdgeKind.ENTER and exit_.kind else kind
        targets = [exit_.target] if exit_.target != RETURN else builder.returns_to
        for target in targets:
            node = _target(builder, source, target)
            _add_edge(builder, source, node, edge_kind, trigger, exit_.steps, at)


def _add_back(
    builder: _Builder, source: Node, trigger: str, steps: tuple[str, ...], at: Location | None
) -> None:
    """A ``goto: back`` from ``source``: a dashed edge to each state it may return to."""
    for target in builder.back_to.get(source, ()):
        _add_edge(builder, source, target, EdgeKind.BACK, trigger, (*steps, BACK), at)


def _target(builder: GraphBuilder, source: Node, target: str | None) -> Node:
    if target is None:
        return source
    if target == END_OF_CONVERSATION:
        return END
    return builder.add_state(target)


def _add_edge(
    builder: _Builder,
    source: Node,
    target: Node,
    kind: EdgeKind,
    trigger: str,
    steps: tuple[str, ...],
    at: Location | None = None,
) -> None:
    label = " → ".join(_shorten(part) for part in (trigger, *steps) if part)
    builder.add_edge(source, target, kind, label, *builder.at(at))


def _add_entry(builder: _Builder, flow: Flow) -> None:
    start = builder.add_state(flow.start)
    start_at = builder.at(flow.start_state.location)
    flow_at = builder.at(flow.location)
    if flow.outbound is not None:
        _add_outbound(builder, flow.outbound, start)
    policy = flow.invitation
    if not policy.rules:
        if flow.outbound is not None and policy.default == "accept":
            return  # the outbound invitation is the way in
        if policy.default == "accept":
            builder.add_edge(START, start, EdgeKind.EVENT, "", *start_at)
        else:
            label = "decline every invitation"
            builder.add_edge(START, END, EdgeKind.EVENT, label, *flow_at)
        return
    for rule in policy.rules:
        target = END if rule.action == "decline" else builder.add_state(rule.goto or flow.start)
        label = _shorten(_rule_label(rule))
        builder.add_edge(START, target, EdgeKind.EVENT, label, *builder.at(rule.location))
    default_target = start if policy.default == "accept" else END
    default_at = start_at if policy.default == "accept" else flow_at
    builder.add_edge(START, default_target, EdgeKind.EVENT, _default_label(policy), *default_at)


def _add_outbound(builder: _Builder, outbound: Outbound, start: Node) -> None:
    at = builder.at(outbound.location)
    builder.add_edge(START, start, EdgeKind.INVITE, "invite accepted", *at)
    for label, branch in (
        ("invite declined", outbound.declined),
        ("no answer", outbound.no_answer),
    ):
        if branch is not None:
            builder.add_edge(START, END, EdgeKind.INVITE, label, *at)


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

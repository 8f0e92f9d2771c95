"""Coverage of a flow by conversation tests: states entered, transitions taken.

The universe is what ``ucwa-flow graph`` draws: every state of the flow, and every edge
of :func:`ucwa_flow.graph.extract_flow` (message handlers, commands, no-match rungs,
timeout steps, the idle timeout, ``caller left``, the entry edges of the invitation
policy, invite and webhook branches). A scenario's trace records are replayed to find
which of those edges the bot actually took:

* a *trigger* starts a path: a handler or command matched, a no-match, a timeout, the
  caller leaving, or entering a state (its ``enter`` actions);
* the branches it takes on the way become the path's steps (``if``/``else``, ``webhook
  ok``/``failed``, ``invite accepted``/``declined``/``no answer``); a path that waits for
  a webhook or an invitation is parked and resumed when the outcome arrives;
* the path ends where the graph's edge does: in another state, at the end of the
  conversation, or back where it started when the next trigger begins;
* a ``goto: back`` makes the path a ``back`` edge to the state it returned to (or to
  "any state", when the graph draws it so: a global command's ``back``, or a return
  into a state a global command led to).

The edge taken is the graph's edge with the same source, target and trigger label; its
branch steps pick between edges that differ only by them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ucwa_flow.flow import (
    BACK,
    Action,
    Flow,
    If,
    Location,
    MessageHandler,
    State,
    format_duration,
    iter_actions,
)
from ucwa_flow.graph import ANY, END, START, Edge, EdgeKind, Graph, Node, NodeKind, extract_flow
from ucwa_flow.graph._flow import (
    _default_label,
    _rule_label,
    _shorten,
    command_label,
    matcher_label,
)
from ucwa_flow.runtime import trace as t

__all__ = ["Coverage", "FlowCoverage"]

# how the graph names the branches a path took (see ucwa_flow.graph._paths)
_BRANCHES = (
    "if ",
    "else",
    "webhook ok",
    "webhook failed",
    "invite ",
    "no answer",
    "call ",
    "return",
)


@dataclass(slots=True)
class FlowCoverage:
    """What the tests of one flow covered; ``graph`` is the universe of transitions.

    ``states`` and ``edges`` are what was covered; ``state_counts`` and ``edge_counts``
    how many times, over every scenario, each state was entered and each edge taken.
    """

    flow: Flow
    graph: Graph
    states: set[str] = field(default_factory=set)
    edges: set[Edge] = field(default_factory=set)
    state_counts: Counter[str] = field(default_factory=Counter)
    edge_counts: Counter[Edge] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return self.flow.name

    @property
    def state_total(self) -> int:
        return len(self.flow.states)

    @property
    def edge_total(self) -> int:
        return len(self.graph.edges)

    @property
    def state_percent(self) -> float:
        return 100.0 * len(self.states) / self.state_total if self.state_total else 100.0

    @property
    def edge_percent(self) -> float:
        return 100.0 * len(self.edges) / self.edge_total if self.edge_total else 100.0

    def missed_states(self) -> list[str]:
        return [name for name in self.flow.states if name not in self.states]

    def missed_edges(self) -> list[Edge]:
        return [edge for edge in self.graph.edges if edge not in self.edges]

    def add(self, traces: Iterable[t.Trace], flow: Flow | None = None) -> None:
        """Count what one scenario's trace records show.

        ``flow`` is the flow the scenario ran, when it was loaded apart from this
        coverage's (a script naming it ``../x.flow.yaml``, a directory finding it as
        ``x.flow.yaml``): the records locate handlers in *its* file, and the transitions
        taken are the same edges.
        """
        if flow is None or flow is self.flow:
            _Replay(self).run(traces)
        else:
            other = FlowCoverage(
                flow, self.graph, self.states, self.edges, self.state_counts, self.edge_counts
            )
            _Replay(other).run(traces)


class Coverage:
    """Coverage of every flow that was tested, keyed by flow file."""

    def __init__(self) -> None:
        self.flows: dict[str, FlowCoverage] = {}

    def of(self, key: str, flow: Flow) -> FlowCoverage:
        """The coverage of the flow in file ``key`` (created on first use)."""
        found = self.flows.get(key)
        if found is None:
            found = self.flows[key] = FlowCoverage(flow, extract_flow(flow))
        return found


@dataclass(slots=True)
class _Path:
    source: Node
    kind: EdgeKind
    trigger: str
    steps: list[str] = field(default_factory=list)
    stays: bool = True  # a path that runs out is a loop (not for `enter`)
    back: bool = False  # it took a `goto: back`


class _Replay:
    def __init__(self, cov: FlowCoverage) -> None:
        self.cov = cov
        flow = cov.flow
        self.global_commands = {command.location for command in flow.commands}
        self.ifs = {
            a.location: a
            for state in flow.states.values()
            for actions in _action_lists(state)
            for a in iter_actions(actions)
            if isinstance(a, If)
        }
        self.owner = {name: sub.name for sub in flow.subflows.values() for name in sub.states}
        self.current: dict[str, _Path | None] = {}
        self.accepted_by: dict[str, str] = {}  # conversation -> the rule that accepted it
        self.parked: dict[tuple[str, Location], _Path] = {}

    def run(self, traces: Iterable[t.Trace]) -> None:
        for record in traces:
            self._record(record)
        for conversation, path in self.current.items():
            self._conclude(conversation, path, None)

    def _record(self, r: t.Trace) -> None:
        conv = r.conversation
        if isinstance(r, t.StateEntered):
            self.cov.states.add(r.state)
            self.cov.state_counts[r.state] += 1
            path = self.current.get(conv)
            if r.previous is None:
                self._entry(conv, r.state)
            elif path is not None:
                self._take(path, _state(r.state))
            returned = path is not None and path.steps[-1:] == ["return"]
            trigger = f"{self.owner.get(r.previous or '')} returned" if returned else ""
            self.current[conv] = _Path(_state(r.state), EdgeKind.ENTER, trigger, stays=False)
        elif isinstance(r, t.InvitationDecided) and r.decision == "decline":
            self._take(_Path(START, EdgeKind.EVENT, self._rule(r.location)), END)
        elif isinstance(r, t.InvitationDecided) and r.decision == "accept":
            self.accepted_by[conv] = self._rule(r.location)
        elif isinstance(r, t.HandlerMatched):
            self._begin(conv, self._handler(r))
        elif isinstance(r, t.NoMatch):
            self._begin(conv, _Path(_state(r.state), EdgeKind.NO_MATCH, f"#{r.miss}"))
        elif isinstance(r, t.TimeoutFired):
            if r.location is None:
                idle = f"idle {format_duration(r.after)}"
                self._begin(conv, _Path(ANY, EdgeKind.TIMEOUT, idle))
            else:
                label = f"after {format_duration(r.after)}"
                self._begin(conv, _Path(_state(r.state), EdgeKind.TIMEOUT, label))
        elif isinstance(r, t.ActionDone):
            self._action(conv, r)
        elif isinstance(r, t.OutcomeReceived):
            self._outcome(conv, r)
        elif isinstance(r, t.Ended):
            path = self.current.pop(conv, None)
            if r.by == "bot" and path is not None:
                self._take(path, END)
                return
            if path is not None and path.stays:  # a handler that stayed, then the caller left
                self._take(path, path.source)
            if r.by == "caller" and r.state is not None:
                state = self.cov.flow.states.get(r.state)
                if state is not None and state.ended:
                    self._take(_Path(_state(r.state), EdgeKind.ENDED, "caller left"), END)

    # -- paths --------------------------------------------------------------------------

    def _begin(self, conv: str, path: _Path) -> None:
        self._conclude(conv, self.current.get(conv), None)
        self.current[conv] = path

    def _conclude(self, conv: str, path: _Path | None, target: Node | None) -> None:
        """The path ran out (the next trigger began): it stayed where it was."""
        if path is not None and path.stays:
            self._take(path, target or path.source)
        self.current[conv] = None

    def _action(self, conv: str, r: t.ActionDone) -> None:
        path = self.current.get(conv)
        if path is None:
            return
        if r.action == "if":
            branch = self.ifs.get(r.location)
            if branch is not None:
                then = r.detail == "then"
                path.steps.append(f"if {branch.condition.source}" if then else "else")
        elif r.action == "goto" and r.detail == BACK:
            path.steps.append(BACK)
            path.back = True
        elif r.action in ("call", "return"):
            path.steps.append(f"call {r.detail}" if r.action == "call" else "return")
        elif r.action in ("webhook", "invite", "handoff"):
            self.parked[(conv, r.location)] = path
            self.current[conv] = None

    def _outcome(self, conv: str, r: t.OutcomeReceived) -> None:
        if r.action == "campaign" or r.branch == "connected":
            return  # a campaign's report: no transition; a bridge: its path goes on at its end
        step = {
            "done": "agent done",
            "agent_left": "agent left",
            "accepted": "invite accepted",
            "declined": "invite declined",
            "no_answer": "no answer",
            "success": "webhook ok",
            "failure": "webhook failed",
        }[r.branch]
        if conv.startswith("outbound:") or conv == "":
            if r.branch != "accepted":
                self._take(_Path(START, EdgeKind.INVITE, step), END)
            return
        path = self.parked.pop((conv, r.location), None)
        if path is not None:
            path.steps.append(step)
            self._conclude(conv, self.current.get(conv), None)
            self.current[conv] = path

    def _entry(self, conv: str, state: str) -> None:
        flow = self.cov.flow
        if flow.outbound is not None:
            self._take(_Path(START, EdgeKind.INVITE, "invite accepted"), _state(state))
        else:
            rule = self.accepted_by.pop(conv, "*")  # "*": a record without the decision
            self._take(_Path(START, EdgeKind.EVENT, rule), _state(state))

    def _rule(self, location: Location | None) -> str:
        policy = self.cov.flow.invitation
        for rule in policy.rules:
            if rule.location == location:
                return _shorten(_rule_label(rule))
        return _default_label(policy) if policy.rules else "*"

    def _handler(self, r: t.HandlerMatched) -> _Path:
        state = self.cov.flow.states[r.state]
        handler = _find(state, r.location)
        if r.command is not None:
            label = command_label(handler) if handler is not None else r.command
            source = ANY if r.location in self.global_commands else _state(r.state)
            return _Path(source, EdgeKind.COMMAND, label)
        label = matcher_label(handler) if handler is not None else ""
        return _Path(_state(r.state), EdgeKind.MESSAGE, label)

    # -- matching a path to an edge of the graph --------------------------------------------

    def _take(self, path: _Path, target: Node) -> None:
        if path.source is ANY and (target == path.source or path.back):
            target = ANY
        candidates = [e for e in self.cov.graph.edges if self._fits(e, path, target)]
        if not candidates and path.back:  # returned into a state a global command led to
            candidates = [e for e in self.cov.graph.edges if self._fits(e, path, ANY)]
        if not candidates:
            return
        full = " → ".join(_shorten(part) for part in (path.trigger, *path.steps) if part)
        exact = [e for e in candidates if e.label == full]
        taken = (exact or candidates)[0]
        self.cov.edges.add(taken)
        self.cov.edge_counts[taken] += 1

    def _fits(self, edge: Edge, path: _Path, target: Node) -> bool:
        if edge.source != path.source or edge.target != target:
            return False
        if path.back != (edge.kind is EdgeKind.BACK):
            return False
        if path.kind is EdgeKind.ENTER:
            kinds = (EdgeKind.ENTER, EdgeKind.WEBHOOK, EdgeKind.INVITE, EdgeKind.BACK)
            return edge.kind in kinds and _steps_fit(edge.label, path.steps)
        if edge.kind is not path.kind and not path.back:
            return False
        if path.kind is EdgeKind.NO_MATCH:
            return int(path.trigger[1:]) in _rungs(edge.label)
        if path.source is START:
            return path.trigger in ("*", edge.label)
        head = edge.label.split(" → ", 1)[0]
        return head == _shorten(path.trigger) and _steps_fit(edge.label, path.steps)


def _state(name: str) -> Node:
    return Node(NodeKind.STATE, name)


def _find(state: State, location: Location) -> MessageHandler | None:
    for handler in (*state.commands, *state.handlers):
        if handler.location == location:
            return handler
    return None


def _action_lists(state: State) -> Iterable[tuple[Action, ...]]:
    yield state.enter
    for handler in (*state.commands, *state.handlers):
        yield handler.actions
    for rung in state.no_match:
        yield rung.actions
    for step in state.timeouts:
        yield step.actions
    yield state.ended or ()
    yield state.delivery_failed or ()


def _steps_fit(label: str, steps: list[str]) -> bool:
    """Every branch the edge's label names was taken (an unnamed path fits any branches)."""
    taken = {_shorten(step) for step in steps}
    parts = label.split(" → ")
    named = parts if parts[0].startswith(_BRANCHES) else parts[1:]
    return all(part in taken for part in named if part)


def _rungs(label: str) -> set[int]:
    """The miss numbers a ``no match 1-2, 4+`` label stands for."""
    numbers: set[int] = set()
    text = label.split(" → ", 1)[0].removeprefix("no match ").strip()
    for part in text.split(","):
        part = part.strip()
        repeat = part.endswith("+")
        lo, _, hi = part.rstrip("+").partition("-")
        numbers.update(range(int(lo), int(hi or lo) + 1))
        if repeat:
            numbers.update(range(int(hi or lo), 10_000))
    return numbers

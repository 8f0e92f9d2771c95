"""Breadth-first exploration of a flow, by playing paths on the simulator.

A node is a path (a :class:`Setup` and caller steps); playing it shows where the
conversation is. Its *situation* is what decides what can happen next: the state, whether
it ended, the misses of the no-match ladder, how many silence steps fired, the invites
and webhooks still waiting, and the values of the variables the flow's ``if:``
conditions read. A situation is expanded once, with every stimulus that can take a
transition there:

* a message for each command and handler (:mod:`._messages`; several texts when the
  handler captures a variable a condition reads), and one nothing takes (a no-match);
* waiting until the next step of the state's silence schedule (timeouts, idle timeout);
* accepting or declining a pending invitation, or letting it go unanswered;
* with a handoff's bridge on, the agent typing the handoff's ``done`` command or leaving;
* the caller leaving, where the state handles ``ended``.

A path that made webhook calls gets siblings in which one of those calls fails, so both
branches of every webhook are tried. Paths are kept when they took a transition no
earlier path took. The search stops when every transition is taken (but those
:mod:`._reach` proves out of reach), when its budget is spent, or when it has played as
many paths again as it took to find the last new transition (at least 100) without
finding another. Breadth first makes each kept path a shortest one.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ucwa_flow.flow import Flow, Handoff, If, Invite, MessageHandler, State, iter_actions
from ucwa_flow.graph import START, Edge, Graph, extract_flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.testing import _script as s
from ucwa_flow.testing._coverage import FlowCoverage
from ucwa_flow.testing._stage import invitees
from ucwa_flow.testing.explore._entry import entries
from ucwa_flow.testing.explore._messages import messages_for, ordered, unmatched_messages
from ucwa_flow.testing.explore._play import HERE, Act, Play, Setup, WebMocks, play, wait_step
from ucwa_flow.testing.explore._reach import SERVER_GIVES_UP, out_of_reach
from ucwa_flow.testing.explore._unbuildable import unbuildable

__all__ = ["Exploration", "explore"]

#: the search gives up after this many paths (at least) without a new transition
_PATIENCE = 100


@dataclass(slots=True)
class Exploration:
    """What the search found: kept paths, transitions taken, and notes for the report."""

    flow: Flow
    graph: Graph
    web: WebMocks
    plays: list[tuple[Play, frozenset[Edge]]] = field(default_factory=list)
    covered: set[Edge] = field(default_factory=set)
    entry_missed: dict[str, str] = field(default_factory=dict)
    out_of_reach: dict[Edge, str] = field(default_factory=dict)
    unbuildable: dict[Edge, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    runs: int = 0
    budget_spent: bool = False


async def explore(flow: Flow, *, max_runs: int = 1500, max_depth: int = 16) -> Exploration:
    """Explore ``flow`` (see the module docstring)."""
    graph = extract_flow(flow)
    found = Exploration(flow, graph, WebMocks(flow))
    ways = entries(flow)
    found.entry_missed = ways.missed
    search = _Search(flow, found)
    queue: deque[tuple[Setup, tuple[Act, ...]]] = deque()
    for setup in ways.setups:
        first: tuple[Act, ...] = (
            () if setup.entry.startswith("outbound") else (_invite(setup.subject),)
        )
        queue.append((setup, first))
    queued = set(queue)
    found.out_of_reach = out_of_reach(flow, graph)
    found.unbuildable = unbuildable(flow, graph, search.literals)
    entry_edges = {e for e in graph.edges if e.source == START and e.label in ways.missed}
    wanted = set(graph.edges) - set(found.out_of_reach) - set(found.unbuildable) - entry_edges
    last_new = 0
    while queue and not wanted <= found.covered:
        if found.runs >= max_runs or found.runs - last_new > max(_PATIENCE, last_new):
            found.budget_spent = True
            break
        setup, steps = queue.popleft()
        result = await play(flow, setup, steps, search.web)
        found.runs += 1
        if result.error is not None:
            if search.web.learn(result.unmocked):
                queue.appendleft((setup, steps))  # again, with that URL mocked
                continue
            if not isinstance(steps[-1], s.Accept | s.Decline):  # those are guesses
                found.errors.append(result.error)
            continue
        cov = FlowCoverage(flow, graph)
        cov.add(result.traces)
        new = frozenset(cov.edges) - found.covered
        if new:
            last_new = found.runs
            found.plays.append((result, frozenset(cov.edges)))
            found.covered |= new
        pinned = setup
        for url, calls in result.calls.items():
            before = setup.answer_list(url)
            extra = max(0, calls - len(before))
            pinned = pinned.with_answers(url, before + ("ok",) * extra)
            for k in range(extra):
                for answer in ("fail", "slow"):
                    other = setup.with_answers(url, before + ("ok",) * k + (answer,))
                    _push(queue, queued, (other, steps))
        if len(steps) >= max_depth:
            continue
        for act in search.stimuli(result):
            _push(queue, queued, (pinned, (*steps, act)))
    return found


def _push(
    queue: deque[tuple[Setup, tuple[Act, ...]]],
    queued: set[tuple[Setup, tuple[Act, ...]]],
    item: tuple[Setup, tuple[Act, ...]],
) -> None:
    if item not in queued:
        queued.add(item)
        queue.append(item)


def _invite(subject: str) -> s.Invite:
    return s.Invite(location=HERE, text=None, subject=subject)


class _Search:
    def __init__(self, flow: Flow, found: Exploration) -> None:
        self.flow = flow
        self.found = found
        self.web = found.web
        self.relevant = _condition_names(flow)
        self.literals = _condition_literals(flow)
        self.seen: set[tuple[Any, ...]] = set()
        self.tried: set[tuple[Any, ...]] = set()
        self.invites: dict[Any, Invite | Handoff] = {
            a.location: a
            for state in flow.states.values()
            for actions in state.all_action_lists()
            for a in iter_actions(actions)
            if isinstance(a, Invite | Handoff)
        }

    def stimuli(self, result: Play) -> Iterator[Act]:
        """The next steps worth trying after ``result`` (none for a known situation)."""
        last = result.last
        if last.ended:
            return
        facts = _Facts(result)
        values = tuple(sorted((n, repr(last.variables.get(n))) for n in self.relevant))
        base = (last.state, values, facts.pending)
        key = (*base, facts.misses, facts.fired)
        if key in self.seen:
            return
        self.seen.add(key)
        if last.state is None:  # an outbound invitation not answered yet
            yield from self._fresh(base, "outbound", self._answers(None))
            return
        if facts.bridge is not None:  # the caller talks with an agent: only the agent moves
            yield from self._fresh(base, "bridge", self._agent_acts(*facts.bridge))
            return
        state = self.flow.states[last.state]
        for index, handler in enumerate(ordered(state)):
            yield from self._fresh(base, ("say", index), self._messages(state, index, handler))
        if state.no_match:
            texts = unmatched_messages(state).texts[:1]
            yield from self._fresh((*base, facts.misses), "no match", [_say(t) for t in texts])
        schedule = sorted(
            [step.after for step in state.timeouts]
            + ([self.flow.settings.idle_timeout] if self.flow.settings.idle_timeout else [])
        )
        if facts.fired < len(schedule):
            previous = schedule[facts.fired - 1] if facts.fired else 0.0
            wait = wait_step(schedule[facts.fired] - previous)
            yield from self._fresh((*base, facts.fired), "wait", [wait])
        if facts.pending:
            yield from self._fresh(base, "answer", self._answers(facts.pending))
        if state.ended:
            yield from self._fresh((last.state,), "hang up", [s.HangUp(location=HERE)])

    def _fresh(self, situation: tuple[Any, ...], what: Any, acts: list[Act]) -> Iterator[Act]:
        for act in acts:
            mark = (situation, what, act)
            if mark not in self.tried:
                self.tried.add(mark)
                yield act

    def _messages(self, state: State, index: int, handler: MessageHandler) -> list[Act]:
        candidates = messages_for(state, index, self.literals)
        wanted = 1
        if handler.matcher.groups & self.relevant or "message" in self.relevant:
            wanted = 3 + len(self.literals)
        return [_say(text) for text in candidates.texts[:wanted]]

    def _answers(self, pending: tuple[Any, ...] | None) -> list[Act]:
        """Accept, decline, or let the invitation time out."""
        if pending is None:
            outbound = self.flow.outbound
            timeout = outbound.timeout if outbound is not None else SERVER_GIVES_UP
            return [
                s.Accept(location=HERE, who=None),
                s.Decline(location=HERE, who=None),
                wait_step(min(timeout, SERVER_GIVES_UP)),
            ]
        acts: list[Act] = []
        people = invitees(self.flow, "")
        for who in people:
            acts += [s.Accept(location=HERE, who=who), s.Decline(location=HERE, who=who)]
        timeouts = [self.invites[loc].timeout for loc in pending if loc in self.invites]
        acts.append(wait_step(min([*timeouts, SERVER_GIVES_UP])))
        return acts

    def _agent_acts(self, location: Any, agent: str) -> list[Act]:
        """A bridged agent gives the caller back (the handoff's ``done``) or leaves."""
        handoff = self.invites.get(location)
        acts: list[Act] = [s.HangUp(location=HERE, who=agent)]
        if isinstance(handoff, Handoff) and handoff.done is not None:
            acts.insert(0, s.Say(location=HERE, text=handoff.done_command, who=agent))
        return acts


#: actions that leave the conversation waiting for an outcome
_WAITING = ("invite", "webhook", "handoff")


def _say(text: str) -> s.Say:
    return s.Say(location=HERE, text=text)


class _Facts:
    """Counters of the caller's conversation, read from the trace records."""

    def __init__(self, result: Play) -> None:
        self.misses = 0
        self.fired = 0
        self.bridge: tuple[Any, str] | None = None  # a handoff's place, the agent bridged
        waiting: dict[Any, int] = {}
        for record in result.traces:
            if isinstance(record, t.StateEntered):
                self.misses = self.fired = 0
            elif isinstance(record, t.MessageIn):
                self.fired = 0
            elif isinstance(record, t.HandlerMatched):
                self.misses = 0
            elif isinstance(record, t.NoMatch):
                self.misses = record.miss
            elif isinstance(record, t.TimeoutFired):
                self.fired += 1
            elif isinstance(record, t.ActionDone) and record.action in _WAITING:
                waiting[record.location] = waiting.get(record.location, 0) + 1
            elif isinstance(record, t.OutcomeReceived):
                if record.branch not in ("done", "agent_left"):  # `connected` ended the wait
                    waiting[record.location] = waiting.get(record.location, 0) - 1
                if record.branch != "connected":
                    self.bridge = None
            elif isinstance(record, t.BridgeEvent) and record.event == "connected":
                self.bridge = (self._handoff(result, record), record.agent)
        self.pending = tuple(sorted((loc for loc, n in waiting.items() if n > 0), key=str))

    @staticmethod
    def _handoff(result: Play, connected: t.BridgeEvent) -> Any:
        """The place of the handoff whose bridge ``connected`` opened (its last start)."""
        starts = [
            r.location
            for r in result.traces
            if isinstance(r, t.ActionDone) and r.action == "handoff" and r.at <= connected.at
        ]
        return starts[-1] if starts else None


def _conditions(flow: Flow) -> Iterator[str]:
    for state in flow.states.values():
        for actions in state.all_action_lists():
            for action in iter_actions(actions):
                if isinstance(action, If):
                    yield action.condition.source


def _condition_literals(flow: Flow) -> tuple[str, ...]:
    """The texts and numbers ``if:`` conditions compare with (``code == 'vip'``: vip)."""
    found: list[str] = []
    for source in _conditions(flow):
        for quoted, double, number in re.findall(r"'([^']*)'|\"([^\"]*)\"|\b(\d+)\b", source):
            found.append(quoted or double or number)
    return tuple(dict.fromkeys(value for value in found if value))[:8]


def _condition_names(flow: Flow) -> frozenset[str]:
    """Names that ``if:`` conditions read (variables, captures, ``message``...)."""
    names: set[str] = set()
    for source in _conditions(flow):
        names.update(re.findall(r"[A-Za-z_]\w*", source))
    return frozenset(names)

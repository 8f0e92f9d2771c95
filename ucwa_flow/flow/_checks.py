"""Semantic checks on a compiled flow: the ``F`` rules that need the whole flow.

Each check is a function ``(flow, document) -> diagnostics`` registered in
:data:`CHECKS`; the document gives positions for what the model does not carry (the
``start`` key, a rule's ``goto``). The rules and their codes are listed in
``docs/flow-language.md``; compile-time rules (regexes, templates, durations, time zones)
are reported by the builder instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping

from ucwa_flow.flow._back import BACK, back_targets, check_back
from ucwa_flow.flow._campaign import check_campaign
from ucwa_flow.flow._diagnostics import Diagnostic, Location
from ucwa_flow.flow._handoff_checks import HANDOFF_CHECKS
from ucwa_flow.flow._loader import Document
from ucwa_flow.flow._model import (
    Action,
    Call,
    Flow,
    Goto,
    Handoff,
    If,
    Invite,
    MessageHandler,
    Return,
    State,
    Stop,
    Webhook,
    iter_actions,
)
from ucwa_flow.flow._name_checks import all_compiled, all_lists, check_names, check_secrets
from ucwa_flow.flow._name_checks import flow_lists as _lists
from ucwa_flow.flow._name_checks import scope_of as _scope_of
from ucwa_flow.flow._name_checks import suggest as _suggest
from ucwa_flow.flow._texts import check_texts

__all__ = ["CHECKS", "all_compiled", "all_lists", "run_checks"]

Check = Callable[[Flow, Document], Iterable[Diagnostic]]


def run_checks(flow: Flow, document: Document) -> list[Diagnostic]:
    """Run every check of :data:`CHECKS` and return all diagnostics."""
    return [diagnostic for check in CHECKS for diagnostic in check(flow, document)]


def _targets(state: State) -> set[str]:
    lists = [state.enter, *(h.actions for h in (*state.commands, *state.handlers))]
    lists += [rung.actions for rung in state.no_match]
    lists += [step.actions for step in state.timeouts]
    lists.append(state.delivery_failed)  # the graph draws these edges too
    actions = [a for listed in lists for a in iter_actions(listed)]
    return {a.target for a in actions if isinstance(a, Goto | Call)}


# --- F101, F102: unknown states ------------------------------------------------------


def check_targets(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    seen: set[Location] = set()  # global commands appear in every state: report once
    scope_of = _scope_of(flow)
    for state, actions in _lists(flow):
        scope = scope_of.get(state.name, "") if state else ""
        for action in iter_actions(actions):
            if isinstance(action, Goto) and scope_of.get(action.target, scope) != scope:
                seen.add(action.location)
                message = (
                    f"goto {action.target!r}: that state belongs to sub-flow "
                    f"{scope_of[action.target]!r}; run it with `call`"
                )
                yield Diagnostic.at(action.location, "F101", message)
            unknown = (
                isinstance(action, Goto)
                and action.target not in flow.states  # (not in a tuple of all states)
                and action.target != BACK
            )
            if unknown and action.location not in seen:
                assert isinstance(action, Goto)
                seen.add(action.location)
                yield Diagnostic.at(
                    action.location,
                    "F101",
                    f"goto {action.target!r}: there is no state named {action.target!r}"
                    + _suggest(action.target, flow.states),
                )
    for i, rule in enumerate(flow.invitation.rules):
        if rule.goto is not None and rule.goto not in flow.states:
            yield Diagnostic.at(
                doc.locate(("invitation", "rules", i, "goto")),
                "F101",
                "an invitation rule cannot go back: the conversation has no previous state"
                if rule.goto == BACK
                else f"goto {rule.goto!r}: there is no state named {rule.goto!r}"
                + _suggest(rule.goto, flow.states),
            )
    if flow.start not in flow.states:
        yield Diagnostic.at(
            doc.locate(("start",)),
            "F102",
            f"start state {flow.start!r} does not exist" + _suggest(flow.start, flow.states),
        )


# --- F103, F104: reachability --------------------------------------------------------


def _edges(
    flow: Flow, targets: Mapping[str, set[str]], back: Mapping[str, tuple[str, ...]] | None = None
) -> dict[str, list[str]]:
    """Each state's successors from its ``targets``; with ``back``, ``goto: back`` leads
    to them."""
    edges: dict[str, list[str]] = {}
    for name, found in targets.items():
        successors = [t for t in found if t in flow.states]
        if back is not None and BACK in found:
            successors.extend(back[name])
        edges[name] = successors
    return edges


def _reachable(edges: Mapping[str, list[str]], roots: Iterable[str]) -> set[str]:
    """The states reachable from ``roots`` along ``edges`` (one pass: linear in the graph)."""
    seen: set[str] = set()
    todo = [name for name in roots if name in edges]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(edges[name])
    return seen


def check_reachability(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    if flow.start not in flow.states:
        return
    roots = [flow.start, *(rule.goto for rule in flow.invitation.rules if rule.goto)]
    targets = {name: _targets(state) for name, state in flow.states.items()}  # read once
    reachable = _reachable(_edges(flow, targets), roots)
    for name, state in flow.states.items():
        if name not in reachable:
            yield Diagnostic.at(
                state.location,
                "F103",
                f"state {name!r} cannot be reached: no goto leads to it from {flow.start!r}",
            )
    if flow.settings.idle_timeout is not None:
        return  # the idle timeout ends every conversation that goes quiet
    # the states from which an exit can be reached: one search back from the exits
    predecessors: dict[str, list[str]] = {name: [] for name in flow.states}
    for name, successors in _edges(flow, targets, back_targets(flow)).items():
        for successor in successors:
            predecessors[successor].append(name)
    exits = [name for name, state in flow.states.items() if _can_end(state)]
    can_end = _reachable(predecessors, exits)
    for name, state in flow.states.items():
        if name in reachable and name not in can_end:
            yield Diagnostic.at(
                state.location,
                "F104",
                f"a conversation can get stuck in state {name!r}: no path from it reaches a "
                "`stop` or a timeout (add a timeout, a stop, or settings.idle_timeout)",
            )


def _can_end(state: State) -> bool:
    if state.timeouts:
        return True
    lists = [state.enter, *(h.actions for h in (*state.commands, *state.handlers))]
    lists += [step.actions for step in state.no_match]
    return any(isinstance(a, Stop | Return) for actions in lists for a in iter_actions(actions))


# --- F108, F119: shadowing -----------------------------------------------------------


def check_shadowing(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    for state in flow.states.values():
        catch_all: MessageHandler | None = next(
            (h for h in state.commands if h.matcher.is_catch_all), None
        )
        for handler in state.handlers:
            if catch_all is not None:
                line = catch_all.location.line
                yield Diagnostic.at(
                    handler.location,
                    "F108",
                    f"this handler never runs: the catch-all at line {line} matches first",
                )
            elif handler.matcher.is_catch_all:
                catch_all = handler
        if catch_all is not None and state.no_match:
            yield Diagnostic.at(
                state.no_match[0].location,
                "F119",
                f"no_match never runs in state {state.name!r}: the catch-all at line "
                f"{catch_all.location.line} matches every message",
            )


# --- F109, F110, F118: branches and dead actions -------------------------------------


def check_branches(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    seen: set[Location] = set()
    for _, actions in _lists(flow):
        for action in iter_actions(actions):
            if action.location in seen:
                continue
            seen.add(action.location)
            if isinstance(action, Invite):
                missing = [b for b in ("declined", "no_answer") if getattr(action, b) is None]
                if missing:
                    yield Diagnostic.at(
                        action.location,
                        "F109",
                        f"invite has no {' or '.join(missing)} branch: say what happens when "
                        "nobody takes the conversation",
                    )
            elif isinstance(action, Webhook) and action.failure is None:
                yield Diagnostic.at(
                    action.location,
                    "F110",
                    "webhook has no failure branch: say what happens when the call fails",
                )


def _nested(actions: tuple[Action, ...]) -> Iterator[tuple[Action, ...]]:
    yield actions
    for action in actions:
        if isinstance(action, If):
            yield from _nested(action.then)
            yield from _nested(action.otherwise)
        elif isinstance(action, Invite):
            for branch in (action.accepted, action.declined, action.no_answer):
                yield from _nested(branch or ())
        elif isinstance(action, Webhook):
            yield from _nested(action.success)
            yield from _nested(action.failure or ())
        elif isinstance(action, Handoff):
            for _, branch in action.branches():
                yield from _nested(branch or ())


def check_dead_actions(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    seen: set[Location] = set()
    for _, top in _lists(flow):
        for actions in _nested(top):
            for before, after in itertools.pairwise(actions):
                if isinstance(before, Goto | Stop) and after.location not in seen:
                    seen.add(after.location)
                    what = f"goto {before.target!r}" if isinstance(before, Goto) else "stop"
                    yield Diagnostic.at(
                        after.location,
                        "F118",
                        f"this action never runs: it comes after {what} "
                        f"(line {before.location.line})",
                    )
                    break


def check_ended_calls(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    """F139: ``call`` or ``return`` in an ``ended`` list: the caller has left, so no
    sub-flow can talk with them, and a return would leave the call stack half undone."""
    for state in flow.states.values():
        for action in iter_actions(state.ended):
            if isinstance(action, Call | Return):
                what = "call" if isinstance(action, Call) else "return"
                message = f"{what} in `ended`: the conversation is over (use set, log, webhook)"
                yield Diagnostic.at(action.location, "F139", message)


CHECKS: tuple[Check, ...] = (
    check_targets,
    check_reachability,
    check_names,
    check_secrets,
    check_shadowing,
    check_branches,
    check_dead_actions,
    check_back,
    check_texts,
    check_ended_calls,
    check_campaign,
    *HANDOFF_CHECKS,
)

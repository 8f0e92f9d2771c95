"""``goto: back``: the built-in target that returns to the previous state.

What "previous" means (``docs/flow-language.md``, "goto back"): the state the conversation
was in when it entered the current one by a ``goto``. Each ``goto`` into another state
pushes the state it leaves on the conversation's *back stack*; a ``goto`` into the state
the conversation is already in (a re-entry) pushes nothing; ``goto: back`` pops the top
and enters it (pushing nothing). Entering the start state, or the state an invitation rule
names, pushes nothing, so right after the start there is nowhere to go back to: ``goto:
back`` then is a run-time error at its ``file:line:col`` (the action is skipped). The stack
is bounded (:data:`BACK_DEPTH` states; the oldest are forgotten) and kept in the
conversation's durable record.

Statically, ``back`` from a state can only lead to a state with a ``goto`` into it
(:func:`back_targets`); the graph draws those edges and the checks warn (``F141``) where
``back`` can never work: in a state no ``goto`` leads to, which is entered only as the
start (or by an invitation rule). A state may not be named ``back`` (``F140``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ucwa_flow.flow._diagnostics import Diagnostic, Location
from ucwa_flow.flow._loader import Document
from ucwa_flow.flow._model import Action, Flow, Goto, State, iter_actions

__all__ = ["BACK", "BACK_DEPTH", "back_targets", "check_back", "global_goto", "own_lists"]

#: the built-in ``goto`` target
BACK = "back"
#: how many previous states a conversation remembers
BACK_DEPTH = 16


def own_lists(state: State, global_commands: set[Location]) -> Iterator[tuple[Action, ...]]:
    """The action lists of ``state`` itself: not the global commands in force in it
    (their ``location`` is in ``global_commands``), nor ``ended`` (nothing moves then)."""
    yield state.enter
    for handler in (*state.commands, *state.handlers):
        if handler.location not in global_commands:
            yield handler.actions
    yield from (rung.actions for rung in state.no_match)
    yield from (step.actions for step in state.timeouts)
    yield state.delivery_failed


def _gotos(lists: Iterator[tuple[Action, ...]]) -> Iterator[Goto]:
    for actions in lists:
        yield from (a for a in iter_actions(actions) if isinstance(a, Goto))


def back_targets(flow: Flow, *, global_commands: bool = True) -> dict[str, tuple[str, ...]]:
    """For each state, the states ``back`` can return to from it, in file order: those
    with a ``goto`` into it (other than a re-entry, or ``goto: back`` itself). With
    ``global_commands``, a global command's ``goto`` counts from every state in which it
    is in force; without, only the states' own lists count."""
    known = {command.location for command in flow.commands}
    found: dict[str, dict[str, None]] = {name: {} for name in flow.states}
    for name, state in flow.states.items():
        lists = own_lists(state, set() if global_commands else known)
        for goto in _gotos(lists):
            if goto.target in found and goto.target not in (name, BACK):
                found[goto.target][name] = None
    return {name: tuple(sources) for name, sources in found.items()}


def global_goto(flow: Flow, target: str) -> bool:
    """Whether a global command has a ``goto`` into ``target``."""
    return any(g.target == target for g in _gotos(c.actions for c in flow.commands))


def check_back(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    """F140: a state named ``back``; F141: ``goto: back`` where nothing came before."""
    for name, state in flow.states.items():
        if name == BACK or name.endswith("/" + BACK):  # a sub-flow's states: "ask/back"
            yield Diagnostic.at(
                state.location,
                "F140",
                "a state cannot be named 'back': `goto: back` returns to the previous state",
            )
    known = {command.location for command in flow.commands}
    targets = back_targets(flow)
    seen: set[Location] = set()
    for name, state in flow.states.items():
        if targets[name]:
            continue
        for goto in _gotos(own_lists(state, known)):
            if goto.target == BACK and goto.location not in seen:
                seen.add(goto.location)
                yield Diagnostic.at(
                    goto.location,
                    "F141",
                    f"`goto: back` never works in state {name!r}: no goto leads to it, so "
                    "it is only entered as the start and there is no previous state",
                )

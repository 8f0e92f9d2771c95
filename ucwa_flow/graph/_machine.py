"""Extract a :class:`Graph` from a ``transitions`` state machine's configuration.

The UCWA lifecycles (conversation, messaging invitation, messaging modality) are
``transitions`` machines built from a list of states and a list of transitions. This
module reads those same lists, in every shape ``transitions`` accepts, so a lifecycle can
be drawn without building a ``GraphMachine`` (which keeps per-model graphs and costs
memory at runtime):

* a state is a name, a ``{"name": ..., "final": ...}`` dict, or an object with ``name``
  (a ``transitions.State``, an :class:`~enum.Enum` member);
* a transition is a ``[trigger, source, dest, conditions, unless]`` list or a dict with
  those keys; ``source`` may be a name, a list of names or ``"*"``; ``dest`` may be
  ``None`` (internal transition) or ``"="`` (reflexive), both drawn as a loop.

:func:`extract_live_machine` reads the same information from a built ``Machine``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ucwa_flow.graph._model import ANY, END, START, EdgeKind, Graph, GraphBuilder, Node

__all__ = ["extract_live_machine", "extract_machine"]

_WILDCARD = "*"
_REFLEXIVE = "="


def extract_machine(
    title: str,
    states: Iterable[object],
    transitions: Iterable[Sequence[Any] | Mapping[str, Any]],
    *,
    initial: str | None = None,
    final: Iterable[str] = (),
) -> Graph:
    """The graph of a ``transitions`` machine given as its constructor arguments.

    Each transition becomes an :attr:`EdgeKind.EVENT` edge labelled with its trigger and,
    when it has any, its guards (``accept [is_ready]``, ``drop [not is_open]``). A ``"*"``
    source is drawn once, from the "any state" node. ``initial`` gets the start arrow;
    each ``final`` state (and each state marked final in ``states``) an arrow to the end.
    Raises :class:`ValueError` for a transition that names an unknown state.
    """
    builder = GraphBuilder(title)
    finals = list(final)
    for state in states:
        name, is_final = _state_name(state)
        builder.add_state(name)
        if is_final and name not in finals:
            finals.append(name)
    known = {node.name for node in builder.build().states}
    if initial is not None:
        builder.add_edge(START, _known_state(builder, known, initial), EdgeKind.EVENT)
    for spec in transitions:
        trigger, sources, dest, guards = _normalise(spec)
        label = f"{trigger} [{guards}]" if guards else trigger
        for source in sources:
            source_node = ANY if source == _WILDCARD else _known_state(builder, known, source)
            if dest is None or dest == _REFLEXIVE:
                target_node = source_node
            else:
                target_node = _known_state(builder, known, dest)
            builder.add_edge(source_node, target_node, EdgeKind.EVENT, label)
    for name in finals:
        builder.add_edge(_known_state(builder, known, name), END, EdgeKind.EVENT)
    return builder.build()


def extract_live_machine(
    machine: Any, title: str | None = None, *, final: Iterable[str] = ()
) -> Graph:
    """The graph of a built ``transitions.Machine`` (its states, events and initial state).

    Automatic ``to_<state>`` triggers are left out. ``title`` defaults to the machine's
    ``name``; ``final`` adds states to those the machine marks final.
    """
    auto = {f"to_{name}" for name in machine.states} if machine.auto_transitions else set()
    specs: list[dict[str, Any]] = []
    for trigger, event in machine.events.items():
        if trigger in auto:
            continue
        for source, transitions in event.transitions.items():
            for transition in transitions:
                conditions = [c.func for c in transition.conditions if c.target]
                unless = [c.func for c in transition.conditions if not c.target]
                specs.append(
                    {
                        "trigger": trigger,
                        "source": source,
                        "dest": transition.dest,
                        "conditions": conditions,
                        "unless": unless,
                    }
                )
    states = list(machine.states.values())
    # transitions stores the name as "name: " for its log lines
    name = title or str(getattr(machine, "name", "") or "").strip().rstrip(":") or "machine"
    return extract_machine(name, states, specs, initial=machine.initial, final=final)


def _state_name(state: Any) -> tuple[str, bool]:
    if isinstance(state, str):
        return state, False
    if isinstance(state, Mapping):
        return str(state["name"]), bool(state.get("final", False))
    return str(state.name), bool(getattr(state, "final", False))


def _known_state(builder: GraphBuilder, known: set[str], name: str) -> Node:
    if name not in known:
        raise ValueError(f"the machine's transitions name an unknown state {name!r}")
    return builder.add_state(name)


def _normalise(
    spec: Sequence[Any] | Mapping[str, Any],
) -> tuple[str, list[str], str | None, str]:
    if isinstance(spec, Mapping):
        trigger, source, dest = spec["trigger"], spec["source"], spec.get("dest")
        conditions, unless = spec.get("conditions"), spec.get("unless")
    else:
        trigger, source, dest = spec[0], spec[1], spec[2]
        conditions = spec[3] if len(spec) > 3 else None
        unless = spec[4] if len(spec) > 4 else None
    sources = [_name(item) for item in _as_list(source)]
    guards = [_name(item) for item in _as_list(conditions)]
    guards += [f"not {_name(item)}" for item in _as_list(unless)]
    return str(trigger), sources, None if dest is None else _name(dest), ", ".join(guards)


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _name(item: object) -> str:
    if isinstance(item, str):
        return item
    return str(getattr(item, "name", None) or getattr(item, "__name__", None) or item)

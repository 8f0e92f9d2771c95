"""Transitions no message can trigger, known before anything is played.

A handler is out of the explorer's reach when no text it builds is taken by it: its
pattern cannot be inverted, the text generated does not match (a lookaround), or an
earlier command or handler of the state takes every candidate (first match wins). A
no-match ladder is out of reach when every message is taken in the state. These come
from :mod:`._messages`; here they are tied to the graph's edges, so that the search
does not look for them and the report can say why.

A global command is drawn once, from "any state": it is out of reach only when no
state can build a message for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ucwa_flow.flow import Flow, MessageHandler
from ucwa_flow.graph import Edge, EdgeKind, Graph, NodeKind
from ucwa_flow.graph._flow import command_label, matcher_label
from ucwa_flow.testing.explore._messages import (
    handler_label,
    messages_for,
    ordered,
    unmatched_messages,
)

__all__ = ["unbuildable"]


def unbuildable(flow: Flow, graph: Graph, hints: Sequence[str] = ()) -> dict[Edge, str]:
    """The edges of ``graph`` that no message can take, with the reason."""
    found: dict[Edge, str] = {}
    global_commands = {command.location for command in flow.commands}
    global_ok: set[str] = set()
    global_why: dict[str, str] = {}
    for state in flow.states.values():
        for index, handler in enumerate(ordered(state)):
            built = messages_for(state, index, hints)
            is_global = handler.location in global_commands
            label = _graph_label(handler)
            if is_global:
                if built.texts:
                    global_ok.add(label)
                else:
                    global_why.setdefault(label, f"{handler_label(handler)}: {built.reason}")
                continue
            if built.texts:
                continue
            why = f"{handler_label(handler)} in {state.name}: {built.reason}"
            for edge in _edges(graph, state.name, handler):
                found[edge] = why
        if state.no_match and not unmatched_messages(state).texts:
            for edge in graph.edges:
                if edge.kind is EdgeKind.NO_MATCH and edge.source.name == state.name:
                    found[edge] = "every message is taken by a handler or a command of the state"
    for edge in graph.edges:
        head = edge.label.split(" → ", 1)[0]
        is_command = edge.source.kind is NodeKind.ANY and edge.kind is EdgeKind.COMMAND
        if is_command and head in global_why and head not in global_ok:
            found[edge] = global_why[head]
    return found


def _graph_label(handler: MessageHandler) -> str:
    return command_label(handler) if handler.name is not None else matcher_label(handler)


def _edges(graph: Graph, state: str, handler: MessageHandler) -> list[Edge]:
    kind = EdgeKind.COMMAND if handler.name is not None else EdgeKind.MESSAGE
    label = _graph_label(handler)
    return [
        edge
        for edge in graph.edges
        if edge.kind is kind
        and edge.source.kind is NodeKind.STATE
        and edge.source.name == state
        and edge.label.split(" → ", 1)[0] == label
    ]

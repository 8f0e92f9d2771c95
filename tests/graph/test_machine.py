"""Extracting graphs from ``transitions`` machines (the shape the UCWA lifecycles use)."""

from __future__ import annotations

import enum

import pytest
from transitions import Machine

from ucwa_flow.graph import (
    ANY,
    END,
    START,
    Edge,
    EdgeKind,
    Node,
    NodeKind,
    extract_live_machine,
    extract_machine,
    render_mermaid,
)

STATES = ["Incoming", "Connecting", "Connected", "Disconnected"]
TRANSITIONS = [
    {"trigger": "accept", "source": "Incoming", "dest": "Connecting"},
    ["connected", "Connecting", "Connected"],
    {"trigger": "refresh", "source": "Connected", "dest": None},
    {"trigger": "disconnected", "source": "*", "dest": "Disconnected"},
    {
        "trigger": "drop",
        "source": ["Incoming", "Connecting"],
        "dest": "Disconnected",
        "conditions": "is_remote",
        "unless": ["is_muted"],
    },
]


def _state(name: str) -> Node:
    return Node(NodeKind.STATE, name)


def test_states_transitions_initial_and_final() -> None:
    graph = extract_machine(
        "conversation", STATES, TRANSITIONS, initial="Incoming", final=["Disconnected"]
    )
    assert graph.title == "conversation"
    assert [node.name for node in graph.states] == STATES
    assert set(graph.edges) == {
        Edge(START, _state("Incoming"), EdgeKind.EVENT),
        Edge(_state("Incoming"), _state("Connecting"), EdgeKind.EVENT, "accept"),
        Edge(_state("Connecting"), _state("Connected"), EdgeKind.EVENT, "connected"),
        Edge(_state("Connected"), _state("Connected"), EdgeKind.EVENT, "refresh"),
        Edge(ANY, _state("Disconnected"), EdgeKind.EVENT, "disconnected"),
        Edge(
            _state("Incoming"),
            _state("Disconnected"),
            EdgeKind.EVENT,
            "drop [is_remote, not is_muted]",
        ),
        Edge(
            _state("Connecting"),
            _state("Disconnected"),
            EdgeKind.EVENT,
            "drop [is_remote, not is_muted]",
        ),
        Edge(_state("Disconnected"), END, EdgeKind.EVENT),
    }


def test_states_as_dicts_and_enums() -> None:
    class Phase(enum.Enum):
        IDLE = 1
        DONE = 2

    graph = extract_machine(
        "phases",
        [Phase.IDLE, {"name": "DONE", "final": True}],
        [["finish", "IDLE", "DONE"]],
        initial="IDLE",
    )
    assert Edge(_state("DONE"), END, EdgeKind.EVENT) in graph.edges
    assert "IDLE --> DONE : finish" in render_mermaid(graph)


def test_unknown_state_in_a_transition_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown state 'Ghost'"):
        extract_machine("bad", STATES, [["go", "Incoming", "Ghost"]])


def test_live_machine_matches_its_configuration() -> None:
    def is_remote(event: object) -> bool:
        return True

    machine = Machine(
        model=None,
        states=STATES,
        transitions=[
            ["accept", "Incoming", "Connecting"],
            {
                "trigger": "drop",
                "source": "Incoming",
                "dest": "Disconnected",
                "conditions": [is_remote],
            },
        ],
        initial="Incoming",
        name="conversation",
    )
    graph = extract_live_machine(machine)
    assert graph.title == "conversation"
    assert [node.name for node in graph.states] == STATES
    # Automatic to_<state> triggers are left out; guards keep their names.
    assert {edge.label for edge in graph.edges} == {"", "accept", "drop [is_remote]"}

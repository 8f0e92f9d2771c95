"""Graphs of flows that call sub-flows: a call is an edge into the sub-flow's start, each
return an edge back to every calling state, and what the caller does after the return an
edge from the calling state."""

from __future__ import annotations

from pathlib import Path

from ucwa_flow.flow import load_flow
from ucwa_flow.graph import extract_flow

RESET = Path(__file__).resolve().parents[2] / "flows" / "password-reset.flow.yaml"


def test_calls_returns_and_what_follows_are_edges() -> None:
    graph = extract_flow(load_flow(RESET).raise_for_errors())
    edges = {(e.source.name, e.target.name, e.label) for e in graph.edges}
    assert ("identify", "employee-id/ask", "call employee-id") in edges
    assert ("confirm", "confirm/ask", "call confirm") in edges
    assert ("confirm/ask", "confirm", '"no" or "n" or "nope" → return') in edges
    assert ("employee-id/ask", "identify", "cancel → return") in edges
    assert ("confirm", "resetting", "confirm returned → if confirmed") in edges
    assert ("confirm", "goodbye", "confirm returned → else") in edges
    assert ("identify", "handoff", "employee-id returned → else") in edges
    # a return goes back to the sub-flow's callers only
    assert not any(s == "confirm/ask" and t == "identify" for s, t, _ in edges)

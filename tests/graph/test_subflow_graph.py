"""Graphs of flows that call sub-flows: a call is an edge into the sub-flow's start, each
return an edge back to every calling state, and what the caller does after the return an
edge from the calling state."""

from __future__ import annotations

from pathlib import Path

from ucwa_flow.flow import load_flow
from ucwa_flow.graph import extract_flow, render_svg

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


def test_lines_of_included_files_and_sub_flows_carry_their_file() -> None:
    graph = extract_flow(load_flow(RESET).raise_for_errors())
    handoff, ask = graph.state("handoff"), graph.state("confirm/ask")
    assert (graph.lines[handoff], graph.files[handoff]) == (12, "lib/desk.states.yaml")
    assert (graph.lines[ask], graph.files[ask]) == (16, "lib/confirm.subflow.yaml")
    assert graph.state("menu") not in graph.files  # the flow's own file: no entry
    agent = next(e for e in graph.edges if e.target == handoff and e.kind == "command")
    assert (graph.lines[agent], graph.files[agent]) == (7, "lib/desk.states.yaml")
    every = set(graph.files.values())
    assert every == {
        "lib/desk.states.yaml",
        "lib/confirm.subflow.yaml",
        "lib/employee-id.subflow.yaml",
    }


def test_the_svg_names_the_file_of_a_line_of_another_file() -> None:
    svg = render_svg(extract_flow(load_flow(RESET).raise_for_errors()))
    assert 'data-state="handoff" id="node-handoff" data-line="12" ' in svg
    assert 'data-file="lib/desk.states.yaml"' in svg
    menu = next(line for line in svg.split("<g ") if 'data-state="menu"' in line)
    assert "data-file" not in menu.split(">", 1)[0]
    helpdesk = RESET.with_name("helpdesk.flow.yaml")
    assert "data-file" not in render_svg(extract_flow(load_flow(helpdesk).raise_for_errors()))

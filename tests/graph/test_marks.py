"""The graph model's style hook: marks drawn by the SVG and HTML renderers."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from ucwa_flow.graph import (
    END,
    START,
    Edge,
    EdgeKind,
    Graph,
    Node,
    NodeKind,
    render_html,
    render_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
MENU, HELP = Node(NodeKind.STATE, "menu"), Node(NodeKind.STATE, "help")
GONE = Edge(MENU, END, EdgeKind.TIMEOUT, "after 5m")
NEW = Edge(MENU, HELP, EdgeKind.MESSAGE, '"?"')
STAYS = Edge(HELP, HELP, EdgeKind.NO_MATCH, "no match 1+")


def _graph() -> Graph:
    edges = (Edge(START, MENU, EdgeKind.EVENT), NEW, GONE, STAYS)
    marks = {HELP: "added", MENU: "changed", NEW: "added", GONE: "removed", STAYS: "added"}
    return Graph("t", (START, MENU, HELP, END), edges, marks)


def test_marked_nodes_and_edges_carry_data_mark() -> None:
    svg = ElementTree.fromstring(render_svg(_graph()))
    groups = list(svg.iter(f"{SVG}g"))
    nodes = {g.get("data-state"): g.get("data-mark") for g in groups if g.get("data-state")}
    assert nodes == {"menu": "changed", "help": "added"}
    edges = {
        (g.get("data-source"), g.get("data-target")): g.get("data-mark")
        for g in groups
        if g.get("data-source") is not None
    }
    assert edges[("menu", "help")] == "added"
    assert edges[("menu", "end")] == "removed"
    assert edges[("start", "menu")] is None
    loops = [g for g in groups if "loop" in (g.get("class") or "").split()]
    assert [g.get("data-mark") for g in loops] == ["added"]


def test_an_unmarked_graph_draws_as_before() -> None:
    graph = _graph()
    plain = Graph(graph.title, graph.nodes, graph.edges)
    assert "data-mark" not in render_svg(plain)
    assert "mark-added" not in render_html(plain)
    assert plain == graph  # marks are a style, not part of the graph's identity


def test_the_page_has_a_legend_of_the_marks_and_the_appendix() -> None:
    page = render_html(_graph(), appendix="<p id='extra'>list</p>")
    assert '<li class="mark-added">' in page
    assert '<li class="mark-removed">' in page
    assert page.index("</svg>\n</div>") < page.index("<p id='extra'>")


def test_an_unknown_mark_or_a_stranger_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mark"):
        Graph("t", (MENU,), (), {MENU: "new"})
    with pytest.raises(ValueError, match="outside the graph"):
        Graph("t", (MENU,), (), {HELP: "added"})

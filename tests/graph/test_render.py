"""The graph model and the text renderers, on small hand-built graphs (exact output)."""

from __future__ import annotations

import pytest

from ucwa_flow.graph import (
    ANY,
    END,
    START,
    Edge,
    EdgeKind,
    Graph,
    GraphBuilder,
    Node,
    NodeKind,
    escape_dot,
    escape_mermaid,
    render_dot,
    render_mermaid,
)


def _menu_graph() -> Graph:
    builder = GraphBuilder("helpdesk")
    menu = builder.add_state("menu")
    reset = builder.add_state("password reset")
    builder.add_edge(START, menu, EdgeKind.EVENT)
    builder.add_edge(menu, reset, EdgeKind.MESSAGE, '"1" or "password"')
    builder.add_edge(menu, menu, EdgeKind.TIMEOUT, "after 2m")
    builder.add_edge(menu, END, EdgeKind.TIMEOUT, "after 5m")
    builder.add_edge(menu, reset, EdgeKind.NO_MATCH, "no match 3")
    builder.add_edge(ANY, END, EdgeKind.COMMAND, "stop")
    return builder.build()


def test_mermaid_exact_output() -> None:
    assert render_mermaid(_menu_graph()) == (
        "---\n"
        'title: "helpdesk"\n'
        "---\n"
        "stateDiagram-v2\n"
        "    classDef anyState fill:none,stroke-dasharray:5 5\n"
        '    state "menu" as menu\n'
        '    state "password reset" as password_reset\n'
        '    state "any state" as __any__\n'
        "    class __any__ anyState\n"
        "    [*] --> menu\n"
        "    menu --> password_reset : #34;1#34; or #34;password#34;\n"
        "    menu --> menu : ⏱ after 2m\n"
        "    menu --> [*] : ⏱ after 5m\n"
        "    menu --> password_reset : ✗ no match 3\n"
        "    __any__ --> [*] : ⌘ stop\n"
    )


def test_dot_exact_output() -> None:
    assert render_dot(_menu_graph()) == (
        'digraph "helpdesk" {\n'
        '    graph [label="helpdesk", labelloc=t, rankdir=LR, fontname="Helvetica"];\n'
        '    node [shape=box, style=rounded, fontname="Helvetica"];\n'
        '    edge [fontname="Helvetica", fontsize=10];\n'
        '    "__start__" [label="", shape="circle", style="filled", fillcolor="black",'
        ' width="0.2", fixedsize="true"];\n'
        '    "menu" [label="menu"];\n'
        '    "password_reset" [label="password reset"];\n'
        '    "__any__" [label="any state", shape="box", style="rounded,dashed"];\n'
        '    "__end__" [label="", shape="doublecircle", style="filled", fillcolor="black",'
        ' width="0.2", fixedsize="true"];\n'
        '    "__start__" -> "menu";\n'
        '    "menu" -> "password_reset" [label="\\"1\\" or \\"password\\""];\n'
        '    "menu" -> "menu" [label="after 2m", style="dashed", color="#b45309",'
        ' fontcolor="#b45309"];\n'
        '    "menu" -> "__end__" [label="after 5m", style="dashed", color="#b45309",'
        ' fontcolor="#b45309"];\n'
        '    "menu" -> "password_reset" [label="no match 3", style="dotted", color="#b91c1c",'
        ' fontcolor="#b91c1c"];\n'
        '    "__any__" -> "__end__" [label="stop", color="#1d4ed8", fontcolor="#1d4ed8"];\n'
        "}\n"
    )


def test_timeout_and_no_match_edges_are_drawn_differently_from_messages() -> None:
    dot = render_dot(_menu_graph()).splitlines()
    message = next(line for line in dot if "password" in line and "->" in line and "1" in line)
    timeout = next(line for line in dot if "after 2m" in line)
    no_match = next(line for line in dot if "no match" in line)
    assert "style" not in message
    assert 'style="dashed"' in timeout
    assert 'style="dotted"' in no_match


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        (r"^(?P<id>E\d{6})$", "^(?P#60;id#62;E#92;d#123;6#125;)$"),
        ('say "hi"', "say #34;hi#34;"),
        ("a:b;c", "a#58;b#59;c"),
        ("50% off %% not a comment", "50#37; off #37;#37; not a comment"),
        ("#quot; stays literal", "#35;quot#59; stays literal"),
        ("x | y & z", "x #124; y #38; z"),
        ("`code`", "#96;code#96;"),
        ("two\nlines\ttab", "two lines tab"),
        ("ask direction LR", "ask direction#32;LR"),
        ("café ☕", "café ☕"),
    ],
)
def test_escape_mermaid(text: str, escaped: str) -> None:
    assert escape_mermaid(text) == escaped


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        (r"^E\d{6}$", r'"^E\\d{6}$"'),
        ('say "hi"', r'"say \"hi\""'),
        ("ends with \\", r'"ends with \\"'),
        ("two\nlines", r'"two\nlines"'),
        ("<b>|{x}", '"<b>|{x}"'),
        ("tab\there", '"tab here"'),
        # Graphviz reads entities in labels: a keyword "&amp;" was drawn as "&"
        ("&amp; & &#60;", '"&amp;amp; &amp; &amp;#60;"'),
    ],
)
def test_escape_dot(text: str, escaped: str) -> None:
    assert escape_dot(text) == escaped


def test_regex_label_survives_both_renderers() -> None:
    builder = GraphBuilder("regex")
    ask, done = builder.add_state("ask"), builder.add_state("done")
    builder.add_edge(ask, done, EdgeKind.MESSAGE, r"/(?P<employee_id>E\d{6})/")
    graph = builder.build()
    assert "ask --> done : /(?P#60;employee_id#62;E#92;d#123;6#125;)/\n" in render_mermaid(graph)
    assert r'[label="/(?P<employee_id>E\\d{6})/"]' in render_dot(graph)


def test_awkward_state_names_get_safe_distinct_ids() -> None:
    names = ["404", "main menu", "main-menu", "state", "note", "defaultish", "ok", "über"]
    builder = GraphBuilder("names")
    builder.add_states(names)
    mermaid = render_mermaid(builder.build())
    declared = [line.strip() for line in mermaid.splitlines() if line.strip().startswith("state ")]
    assert declared == [
        'state "404" as s_404',
        'state "main menu" as main_menu',
        'state "main-menu" as main_menu_2',
        'state "state" as s_state',
        'state "note" as s_note',
        'state "defaultish" as s_defaultish',
        'state "ok" as ok',
        'state "über" as ber',
    ]


@pytest.mark.parametrize(
    "name", ["click", "href", "Click", "HREF", "accTitle", "accDescr", "root_start", "root_end"]
)
def test_mermaid_keywords_are_not_ids(name: str) -> None:
    # Mermaid's state-diagram lexer reads "click" and "href" as keywords (in any case), and
    # "accTitle :" and "accDescr :" before a label: `[*] --> click` or `a --> accTitle : m`
    # was a parse error, and the diagram did not render at all; "root_start" and "root_end"
    # are Mermaid's own ids of the [*] dots, which a state so named merged with
    builder = GraphBuilder("links")
    builder.add_edge(START, builder.add_state(name), EdgeKind.EVENT)
    assert f'state "{name}" as s_{name}' in render_mermaid(builder.build())


@pytest.mark.parametrize("name", ["root", "constructor", "toString", "valueOf"])
def test_names_mermaid_keeps_for_itself_are_not_ids(name: str) -> None:
    # "root" is Mermaid's id of the diagram, and its states live in plain JavaScript
    # objects: a state with such an id ("constructor", "toString") made the whole diagram
    # fail to render ("Cannot read properties of undefined")
    builder = GraphBuilder("links")
    builder.add_edge(START, builder.add_state(name), EdgeKind.EVENT)
    assert f'state "{name}" as s_{name}' in render_mermaid(builder.build())


def test_state_called_start_is_not_the_start_node() -> None:
    builder = GraphBuilder("clash")
    start_state = builder.add_state("start")
    builder.add_edge(START, start_state, EdgeKind.EVENT)
    graph = builder.build()
    assert graph.nodes == (START, Node(NodeKind.STATE, "start"))
    assert "[*] --> start\n" in render_mermaid(graph)
    assert '"__start__" -> "start";' in render_dot(graph)


def test_states_called_end_and_any_state_are_not_the_pseudo_nodes() -> None:
    # the end dot and "any state" keep ids of their own (__end__, __any__) in both texts
    builder = GraphBuilder("clash")
    end, anywhere = builder.add_state("end"), builder.add_state("any state")
    builder.add_edge(START, end, EdgeKind.EVENT)
    builder.add_edge(end, anywhere, EdgeKind.MESSAGE)
    builder.add_edge(anywhere, END, EdgeKind.MESSAGE)
    builder.add_edge(ANY, end, EdgeKind.COMMAND, "menu")
    graph = builder.build()
    mermaid = render_mermaid(graph)
    lines = mermaid.splitlines()
    for line in ("[*] --> s_end", "s_end --> any_state", "any_state --> [*]"):
        assert f"    {line}" in lines
    assert "    __any__ --> s_end : ⌘ menu" in lines
    assert 'state "any state" as any_state\n' in mermaid
    assert 'state "any state" as __any__\n' in mermaid
    dot = render_dot(graph)
    for line in (
        '"__start__" -> "s_end";',
        '"s_end" -> "any_state";',
        '"any_state" -> "__end__";',
        '"__any__" -> "s_end" [',
    ):
        assert line in dot


def test_builder_drops_duplicate_edges_and_orders_nodes() -> None:
    builder = GraphBuilder("dupes")
    a = builder.add_state("a")
    builder.add_edge(a, END, EdgeKind.MESSAGE, "bye")
    builder.add_edge(a, END, EdgeKind.MESSAGE, "bye")
    builder.add_edge(START, a, EdgeKind.EVENT)
    graph = builder.build()
    assert [node.kind for node in graph.nodes] == [NodeKind.START, NodeKind.STATE, NodeKind.END]
    assert len(graph.edges) == 2
    assert graph.edges_from(a) == (Edge(a, END, EdgeKind.MESSAGE, "bye"),)
    assert graph.state("a") == a
    with pytest.raises(KeyError):
        graph.state("b")


@pytest.mark.parametrize(
    "edges",
    [
        (Edge(Node(NodeKind.STATE, "a"), Node(NodeKind.STATE, "ghost"), EdgeKind.MESSAGE),),
        (Edge(Node(NodeKind.STATE, "a"), START, EdgeKind.MESSAGE),),
        (Edge(END, Node(NodeKind.STATE, "a"), EdgeKind.MESSAGE),),
    ],
)
def test_graph_rejects_broken_edges(edges: tuple[Edge, ...]) -> None:
    with pytest.raises(ValueError, match=r"edge|start|end"):
        Graph("bad", (START, Node(NodeKind.STATE, "a"), END), edges)


def test_graph_rejects_two_start_nodes() -> None:
    with pytest.raises(ValueError, match="at most one start"):
        Graph("bad", (START, Node(NodeKind.START, "other")))


def test_graph_without_edges_still_lists_its_states() -> None:
    graph = Graph("lonely", (Node(NodeKind.STATE, "only"),))
    assert 'state "only" as only' in render_mermaid(graph)
    assert '"only" [label="only"];' in render_dot(graph)
    assert "classDef" not in render_mermaid(graph)

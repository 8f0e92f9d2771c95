"""One graph of two flow versions: the merged picture of a :class:`FlowDiff`.

Both flows are drawn with :func:`~ucwa_flow.graph.extract_flow`; the old graph's state
names are mapped through the diff's renames, then the two are merged: every node and edge
of the new graph in its order, then those only the old one had. Marks (the graph
model's style hook) say what each is:

* a node: ``added`` / ``removed`` for a state only one version has, ``changed`` for a
  renamed state or one whose parts differ;
* an edge: ``added`` / ``removed`` when only one version has it (an edge whose label
  changed, say a new timeout, is a removed edge and an added one).

:func:`render_diff_html` is the review page: the legend, the picture and the text list.
"""

from __future__ import annotations

from ucwa_flow.diff._model import FlowDiff
from ucwa_flow.diff._text import format_change, state_lines
from ucwa_flow.flow import Flow
from ucwa_flow.graph import (
    Edge,
    Graph,
    GraphBuilder,
    Node,
    NodeKind,
    extract_flow,
    render_html,
)
from ucwa_flow.graph._svg import escape, quoteattr

__all__ = ["diff_graph", "render_diff_html"]


def diff_graph(old: Flow, new: Flow, diff: FlowDiff) -> Graph:
    """The merged graph of ``old`` and ``new``, marked from ``diff``."""
    renames = diff.renames

    def renamed(node: Node) -> Node:
        if node.kind is NodeKind.STATE and node.name in renames:
            return Node(NodeKind.STATE, renames[node.name])
        return node

    old_graph = extract_flow(old)
    new_graph = extract_flow(new)
    old_edges = [
        Edge(renamed(e.source), renamed(e.target), e.kind, e.label) for e in old_graph.edges
    ]
    builder = GraphBuilder(
        f"{diff.old_name} → {diff.new_name}" if diff.old_name != diff.new_name else new.name
    )
    for node in new_graph.nodes:
        if node.kind is NodeKind.STATE:
            builder.add_state(node.name)
    for node in old_graph.nodes:
        if node.kind is NodeKind.STATE:
            builder.add_state(renamed(node).name)
    for edge in (*new_graph.edges, *old_edges):
        builder.add_edge(edge.source, edge.target, edge.kind, edge.label)
    merged = builder.build()
    marks: dict[Node | Edge, str] = {}
    for state in diff.states:
        node = Node(NodeKind.STATE, state.name)
        if state.status in ("added", "removed"):
            marks[node] = state.status
        elif state.status in ("changed", "renamed"):
            marks[node] = "changed"
    new_set, old_set = set(new_graph.edges), set(old_edges)
    for edge in merged.edges:
        if edge not in old_set:
            marks[edge] = "added"
        elif edge not in new_set:
            marks[edge] = "removed"
    return Graph(merged.title, merged.nodes, merged.edges, marks)


_STYLE = """
.changes { font-size: .9em; margin-top: 1.2em; }
.changes h2 { font-size: 1.1em; margin: 1em 0 .3em; }
.changes pre { margin: .2em 0 .6em 1em; white-space: pre-wrap; }
.changes .added { color: #15803d; } .changes .removed { color: #b91c1c; }
.changes .changed, .changes .renamed { color: #b45309; }
""".strip()


def render_diff_html(old: Flow, new: Flow, diff: FlowDiff) -> str:
    """The self-contained review page: the merged graph, then every change as text."""
    return render_html(diff_graph(old, new, diff), appendix=_changes_html(diff), extra_style=_STYLE)


def _changes_html(diff: FlowDiff) -> str:
    parts = ['<section class="changes">', "<h2>Changes</h2>"]
    if not diff.has_differences:
        parts.append("<p>No differences.</p>")
    if diff.flow:
        parts.append("<h2>Flow</h2><pre>")
        parts.extend(escape(line) for change in diff.flow for line in format_change(change))
        parts.append("</pre>")
    for state in diff.changed_states:
        heading = f"state {state.name}: {state.status}"
        if state.status == "renamed":
            heading += f" from {state.old_name}"
        parts.append(
            f'<h2 class="{state.status}" data-state={quoteattr(state.name)}>{escape(heading)}</h2>'
        )
        lines = state_lines(state)
        if lines:
            parts.append("<pre>" + "\n".join(escape(line) for line in lines) + "</pre>")
    parts.append("</section>")
    return "\n".join(parts)

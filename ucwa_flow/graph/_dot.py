"""Render a :class:`Graph` as Graphviz DOT text (no Graphviz needed to produce it).

Every id and label is written as a DOT quoted string. Inside one, DOT itself only
unescapes ``\\"``, but Graphviz then reads labels as *escString*s where ``\\n``, ``\\l``,
``\\N``, ``\\G`` ... have meanings, and entities such as ``&amp;`` are decoded; so
backslashes are doubled, quotes escaped, ``&`` written ``&amp;`` and newlines as ``\\n``.
``<``, ``>``, ``|`` and braces need nothing, because no node uses an HTML-like label or
a record shape.

Edge kinds get their own line style and colour (see :data:`EDGE_STYLES`): timeouts
dashed amber, no-match steps dotted red, global commands blue, invitation branches
purple, webhook branches teal, "caller left" and delivery failures grey, ``goto: back``
dashed blue.
"""

from __future__ import annotations

from ucwa_flow.graph._ids import assign_ids
from ucwa_flow.graph._model import Edge, EdgeKind, Graph, Node, NodeKind

__all__ = ["EDGE_STYLES", "escape_dot", "render_dot"]

#: DOT attributes per edge kind (message and lifecycle-event edges use the defaults)
EDGE_STYLES: dict[EdgeKind, dict[str, str]] = {
    EdgeKind.MESSAGE: {},
    EdgeKind.EVENT: {},
    EdgeKind.TIMEOUT: {"style": "dashed", "color": "#b45309", "fontcolor": "#b45309"},
    EdgeKind.NO_MATCH: {"style": "dotted", "color": "#b91c1c", "fontcolor": "#b91c1c"},
    EdgeKind.COMMAND: {"color": "#1d4ed8", "fontcolor": "#1d4ed8"},
    EdgeKind.INVITE: {"color": "#7c3aed", "fontcolor": "#7c3aed"},
    EdgeKind.WEBHOOK: {"color": "#0f766e", "fontcolor": "#0f766e"},
    EdgeKind.ENTER: {"color": "#4b5563", "fontcolor": "#4b5563"},
    EdgeKind.ENDED: {"style": "dashed", "color": "#6b7280", "fontcolor": "#6b7280"},
    EdgeKind.DELIVERY_FAILED: {"style": "dotted", "color": "#6b7280", "fontcolor": "#6b7280"},
    EdgeKind.BACK: {"style": "dashed", "color": "#0369a1", "fontcolor": "#0369a1"},
}

_NODE_STYLES: dict[NodeKind, dict[str, str]] = {
    NodeKind.START: {"shape": "circle", "style": "filled", "fillcolor": "black", "label": ""},
    NodeKind.END: {
        "shape": "doublecircle",
        "style": "filled",
        "fillcolor": "black",
        "label": "",
    },
    NodeKind.ANY: {"shape": "box", "style": "rounded,dashed"},
    NodeKind.STATE: {},
}

_INDENT = "    "


def escape_dot(text: str) -> str:
    """``text`` as a DOT quoted string, quotes included, safe as a label."""
    chars: list[str] = []
    for char in text:
        if char == "\\":
            chars.append("\\\\")
        elif char == '"':
            chars.append('\\"')
        elif char == "&":
            chars.append("&amp;")  # Graphviz decodes entities: "&amp;" would show as "&"
        elif char == "\n":
            chars.append("\\n")
        elif ord(char) < 32 or ord(char) == 127:
            chars.append(" ")
        else:
            chars.append(char)
    return '"' + "".join(chars) + '"'


def render_dot(graph: Graph) -> str:
    """The DOT source of ``graph``, ending with a newline.

    Nodes are declared in the graph's order, then edges in the graph's order, so the
    output is stable. States are rounded boxes, the start is a filled dot, the end a
    filled double circle, "any state" a dashed box.
    """
    ids = assign_ids(graph.nodes)
    title = escape_dot(graph.title)
    lines = [
        f"digraph {title} {{",
        f'{_INDENT}graph [label={title}, labelloc=t, rankdir=LR, fontname="Helvetica"];',
        f'{_INDENT}node [shape=box, style=rounded, fontname="Helvetica"];',
        f'{_INDENT}edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.nodes:
        attrs = {"label": node.name, **_NODE_STYLES[node.kind]}
        if node.kind in (NodeKind.START, NodeKind.END):
            attrs |= {"width": "0.2", "fixedsize": "true"}
        lines.append(f"{_INDENT}{escape_dot(ids[node])} [{_attributes(attrs)}];")
    lines.extend(_INDENT + _edge(edge, ids) for edge in graph.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge(edge: Edge, ids: dict[Node, str]) -> str:
    attrs = dict(EDGE_STYLES[edge.kind])
    if edge.label:
        attrs = {"label": edge.label, **attrs}
    text = f"{escape_dot(ids[edge.source])} -> {escape_dot(ids[edge.target])}"
    return f"{text} [{_attributes(attrs)}];" if attrs else f"{text};"


def _attributes(attrs: dict[str, str]) -> str:
    return ", ".join(f"{key}={escape_dot(value)}" for key, value in attrs.items())

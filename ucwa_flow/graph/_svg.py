"""Render a :class:`Graph` as SVG with the built-in layout: no Graphviz, no fonts needed.

The picture follows :func:`~ucwa_flow.graph._layout.layout_graph`: states are rounded
boxes (edges that stay in a state are rows inside its box, with a loop mark), the start
a filled dot, the end a ringed dot, "any state" (global commands) a dashed box. Each
edge kind has the colour and dash of :data:`~ucwa_flow.graph._dot.EDGE_STYLES`, the one
table the DOT output uses too, so both pictures read the same.

Elements carry classes and ``data-`` attributes so a page can style or find them: a state
is ``<g class="node state" id="node-menu" data-state="menu" data-line="12">`` (the id is
:func:`node_id`: whitespace and ``%`` in the name are percent-encoded, ``node-any%20state``),
an edge ``<g class="edge timeout" data-from="menu" data-to="bye" data-from-kind="state"
data-to-kind="state" data-line="20">`` (the names also as ``data-source``/``data-target``).
A pseudo-node is named ``start``, ``any state`` or ``end``, which a state may be called
too; ``data-from-kind``/``data-to-kind`` tell them apart: the :class:`NodeKind` of each
end, ``start``, ``state``, ``any`` or ``end`` (a state called ``end`` is ``data-to="end"
data-to-kind="state"``, the end dot ``data-to="end" data-to-kind="end"``). An edge that
stays in its state is a row of the state's box drawn as ``<g class="edge loop ...">`` with
the same attributes. ``data-line`` is the source line of
:attr:`~ucwa_flow.graph.Graph.lines`, when the graph has one; a line of another file than
the main one (an included file or sub-flow of a flow) comes with ``data-file`` naming it
(:attr:`~ucwa_flow.graph.Graph.files`, ``data-file="lib/desk.states.yaml"``), so a
``data-line`` without ``data-file`` is a line of the main file. A page's own hooks (an id,
coverage counts, live counters) come as :class:`~ucwa_flow.graph.Decorations`.

A graph's marks (:attr:`~ucwa_flow.graph.Graph.marks`) are drawn in the styles of
:data:`MARK_STYLES`: an added node is green, a removed one red and dashed, a changed one
amber; a marked edge gets a wide halo of that colour under its own kind's line (a removed
edge is also faded). Marked elements carry ``data-mark="added"`` and a ``mark-added`` class.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.sax import saxutils

from ucwa_flow.graph._curves import Point, bezier
from ucwa_flow.graph._decorations import PLAIN, Decorations
from ucwa_flow.graph._dot import EDGE_STYLES
from ucwa_flow.graph._layout import (
    LABEL_FONT,
    NODE_FONT,
    Layout,
    Measure,
    PlacedEdge,
    PlacedNode,
    estimate_width,
    layout_graph,
    tag_text,
)
from ucwa_flow.graph._model import Edge, EdgeKind, Graph, Node, NodeKind

__all__ = [
    "DASHES",
    "MARK_STYLES",
    "edge_color",
    "escape",
    "node_id",
    "quoteattr",
    "render_svg",
    "svg_of_layout",
]

FONT_FAMILY = "Helvetica, Arial, sans-serif"
#: stroke-dasharray per DOT style name
DASHES = {"dashed": "6 4", "dotted": "2 3"}
_DEFAULT_COLOR = "#111827"
#: mark -> (fill, stroke, dash) of a marked node; the stroke is also a marked edge's halo
MARK_STYLES: dict[str, tuple[str, str, str]] = {
    "added": ("#dcfce7", "#16a34a", ""),
    "removed": ("#fee2e2", "#dc2626", "6 3"),
    "changed": ("#fef3c7", "#d97706", ""),
}
_Marks = Mapping[Node | Edge, str]
_Lines = Mapping[Node | Edge, int]
_Files = Mapping[Node | Edge, str]


#: characters XML 1.0 does not allow (control characters but tab, newline, return)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape(text: str) -> str:
    """``text`` safe as XML character data (characters XML cannot hold become spaces)."""
    return saxutils.escape(_NOT_XML.sub(" ", text))


def quoteattr(text: str) -> str:
    """``text`` as a quoted XML attribute value, safe likewise."""
    return saxutils.quoteattr(_NOT_XML.sub(" ", text))


#: what a state's ``id`` percent-encodes: whitespace (an HTML id holds none), control
#: characters and the rest XML cannot hold, and ``%`` itself
_NOT_IN_ID = re.compile("[\x00-\x20\x7f%\ufffe\uffff]")


def node_id(state: str) -> str:
    """The ``id`` of a state's box: ``node-`` and the name, its whitespace, control
    characters and ``%`` percent-encoded as UTF-8 (``node-any%20state``), so the id is a
    valid HTML id and no two states share one."""
    return "node-" + _NOT_IN_ID.sub(_percent, state)


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match[0].encode("utf-8", "surrogatepass"))


def edge_color(kind: EdgeKind) -> str:
    """The colour of an edge kind (the DOT table's, else near-black)."""
    return EDGE_STYLES[kind].get("color", _DEFAULT_COLOR)


def render_svg(
    graph: Graph, measure: Measure = estimate_width, decorations: Decorations = PLAIN
) -> str:
    """The SVG document of ``graph``, laid out by the built-in layout."""
    layout = layout_graph(graph, measure)
    return svg_of_layout(layout, graph.marks, graph.lines, decorations, graph.files)


def svg_of_layout(
    layout: Layout,
    marks: _Marks | None = None,
    lines: _Lines | None = None,
    decorations: Decorations = PLAIN,
    files: _Files | None = None,
) -> str:
    """The SVG document drawing ``layout`` (no XML declaration: it can be inlined), with
    the nodes and edges named in ``marks`` drawn in their mark's style, ``lines`` as
    their ``data-line`` (and ``files`` as ``data-file``) and a page's ``decorations``."""
    draw = _Drawing(marks or {}, lines or {}, decorations, files or {})
    width, height = round(layout.width), round(layout.height)
    svg_id = f" id={quoteattr(decorations.svg_id)}" if decorations.svg_id else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg"{svg_id} width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family={quoteattr(FONT_FAMILY)} '
        'class="ucwa-flow-graph">',
        f"<title>{escape(layout.title)}</title>",
        _defs(),
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text class="graph-title" x="{width / 2:.1f}" y="24" text-anchor="middle" '
        f'font-size="{NODE_FONT + 3:g}" font-weight="bold">{escape(layout.title)}</text>',
    ]
    parts.extend(draw.edge(edge) for edge in layout.edges)
    parts.extend(draw.node(node) for node in layout.nodes)
    parts.extend(draw.node(edge.end) for edge in layout.edges if edge.end is not None)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


class _Drawing:
    """The per-picture lookups: marks, source lines, decorations."""

    def __init__(
        self, marks: _Marks, lines: _Lines, decorations: Decorations, files: _Files
    ) -> None:
        self.marks = marks
        self.lines = lines
        self.files = files
        self.decorations = decorations

    def edge_attrs(self, edge: Edge) -> tuple[str, str]:
        """The extra classes and attributes of an edge (loops included)."""
        cls, attrs = self.decorations.edge_attrs(edge)
        source, target = edge.source, edge.target
        ends = f" data-from={quoteattr(source.name)} data-to={quoteattr(target.name)}"
        ends += f' data-from-kind="{source.kind.value}" data-to-kind="{target.kind.value}"'
        ends += f" data-source={quoteattr(source.name)} data-target={quoteattr(target.name)}"
        return cls, ends + self.line_attr(edge) + attrs

    def line_attr(self, item: Node | Edge) -> str:
        line = self.lines.get(item)
        if line is None:
            return ""
        file = self.files.get(item)
        where = f" data-file={quoteattr(file)}" if file is not None else ""
        return f' data-line="{line}"{where}'

    def edge(self, placed: PlacedEdge) -> str:
        return _edge(placed, self.marks.get(placed.edge, ""), self.edge_attrs(placed.edge))

    def node(self, placed: PlacedNode) -> str:
        return _node(placed, self)


def _defs() -> str:
    markers = [
        f'<marker id="arrow-{kind.value}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{edge_color(kind)}"/></marker>'
        for kind in EdgeKind
    ]
    return "<defs>" + "".join(markers) + "</defs>"


def _mark_attrs(mark: str) -> tuple[str, str]:
    """The extra class and the ``data-mark`` attribute of a marked element."""
    return (f" mark-{mark}", f' data-mark="{mark}"') if mark else ("", "")


def _edge(placed: PlacedEdge, mark: str, extra: tuple[str, str]) -> str:
    edge = placed.edge
    color = edge_color(edge.kind)
    dash = DASHES.get(EDGE_STYLES[edge.kind].get("style", ""), "")
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    cls, mark_attr = _mark_attrs(mark)
    title = _edge_title(placed) + (f" [{mark}]" if mark else "")
    lines = [
        f'<g class="edge {edge.kind.value}{cls}{extra[0]}"{extra[1]}{mark_attr}>',
        f"<title>{escape(title)}</title>",
    ]
    if mark:
        lines.append(
            f'<path class="halo" d="{_path(placed.points)}" fill="none" '
            f'stroke="{MARK_STYLES[mark][1]}" stroke-width="7" stroke-opacity="0.35"/>'
        )
    opacity = ' opacity="0.55"' if mark == "removed" else ""
    lines.append(
        f'<path d="{_path(placed.points)}" fill="none" stroke="{color}" stroke-width="1.3"'
        f'{dash_attr}{opacity} marker-end="url(#arrow-{edge.kind.value})"/>'
    )
    if placed.label_at is not None and edge.label:
        x, y = placed.label_at
        lines.append(
            f'<text x="{x:.1f}" y="{y + LABEL_FONT + 1:.1f}" font-size="{LABEL_FONT:g}" '
            f'fill="{color}">{escape(edge.label)}</text>'
        )
    lines.append("</g>")
    return "".join(lines)


def _edge_title(placed: PlacedEdge) -> str:
    edge = placed.edge
    label = f" ({edge.label})" if edge.label else ""
    return f"{edge.source.name} → {edge.target.name}{label}"


def _path(points: tuple[Point, ...]) -> str:
    start = points[0]
    curves = " ".join(
        f"C{a[0]:.1f},{a[1]:.1f} {b[0]:.1f},{b[1]:.1f} {end[0]:.1f},{end[1]:.1f}"
        for _, a, b, end in bezier(points)
    )
    return f"M{start[0]:.1f},{start[1]:.1f} {curves}"


def _node(placed: PlacedNode, draw: _Drawing) -> str:
    node = placed.node
    mark = draw.marks.get(node, "")
    x, y, w, h = placed.x, placed.y, placed.width, placed.height
    cx, cy = placed.center
    if node.kind is NodeKind.START:
        return f'<g class="node start"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="{w / 2:.1f}"/></g>'
    if node.kind is NodeKind.END:
        return (
            f'<g class="node end"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="{w / 2:.1f}" '
            f'fill="#fff" stroke="#000" stroke-width="1.5"/>'
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{w / 2 - 4:.1f}"/></g>'
        )
    if placed.stand_in:
        return _tag(placed)
    dash = ' stroke-dasharray="5 3"' if node.kind is NodeKind.ANY else ""
    fill, stroke, width = "#f8fafc", "#334155", "1.3"
    if mark:
        fill, stroke, mark_dash = MARK_STYLES[mark]
        dash = f' stroke-dasharray="{mark_dash}"' if mark_dash else dash
        width = "2.2"
    data = ""
    if node.kind is NodeKind.STATE:
        data = f" data-state={quoteattr(node.name)} id={quoteattr(node_id(node.name))}"
        data += draw.line_attr(node)
    cls, mark_attr = _mark_attrs(mark)
    cls += draw.decorations.node_class(node)
    title = node.name + (f" [{mark}]" if mark else "")
    parts = [
        f'<g class="node {node.kind.value}{cls}"{data}{mark_attr}>',
        f"<title>{escape(title)}</title>",
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}/>',
        f'<text x="{cx:.1f}" y="{y + 7 + NODE_FONT - 2:.1f}" text-anchor="middle" '
        f'font-size="{NODE_FONT:g}">{escape(node.name)}</text>',
    ]
    if draw.decorations.live_counts and node.kind is NodeKind.STATE:
        parts.append(
            f'<text class="live-count" data-state={quoteattr(node.name)} x="{x + w - 3:.1f}" '
            f'y="{y - 3:.1f}" text-anchor="end" font-size="{LABEL_FONT:g}" '
            'font-weight="bold"></text>'
        )
    row_y = y + 7 + NODE_FONT + 2
    for edge in placed.loops:
        color = edge_color(edge.kind)
        loop_cls, loop_attr = _mark_attrs(draw.marks.get(edge, ""))
        extra_cls, extra_attrs = draw.edge_attrs(edge)
        parts.append(
            f'<g class="edge loop {edge.kind.value}{loop_cls}{extra_cls}"{extra_attrs}{loop_attr}>'
            f'<path d="M{x + 14:.1f},{row_y + 6:.1f} '
            f'a4,4 0 1,1 -4,-4" fill="none" stroke="{color}" stroke-width="1.2"/>'
            f'<text x="{x + 20:.1f}" y="{row_y + LABEL_FONT - 1:.1f}" '
            f'font-size="{LABEL_FONT:g}" fill="{color}">{escape(edge.label or "stays")}'
            "</text></g>"
        )
        row_y += 15
    parts.append("</g>")
    return "".join(parts)


def _tag(placed: PlacedNode) -> str:
    """A tag standing for a state far up the picture, where a long edge back ends."""
    x, y, w, h = placed.x, placed.y, placed.width, placed.height
    name = placed.node.name
    return (
        f'<g class="node tag" data-goto={quoteattr(name)}><title>{escape(name)}</title>'
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{h / 2:.1f}" '
        f'fill="#ffffff" stroke="#64748b" stroke-dasharray="3 2"/>'
        f'<text x="{x + w / 2:.1f}" y="{y + h / 2 + LABEL_FONT / 2 - 1.5:.1f}" '
        f'text-anchor="middle" font-size="{LABEL_FONT:g}" fill="#334155">'
        f"{escape(tag_text(name))}</text></g>"
    )

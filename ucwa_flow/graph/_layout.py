"""A small layered (Sugiyama-style) layout, so pictures need no Graphviz.

:func:`layout_graph` places a :class:`Graph` top to bottom in four classic steps:

1. **cycles**: a depth-first search from the start marks back edges, which are laid out
   reversed (and drawn with their arrow the right way round);
2. **layers**: the longest path from the sources, every edge two layers long at least, so
   each edge gets a *label slot* (a virtual node as big as its label) in a layer of its
   own: labels never overlap nodes or each other;
3. **order**: barycenter sweeps, down then up, reduce crossings;
4. **coordinates**: each vertex is pulled towards the mean of its neighbours, and each
   layer pushed apart where boxes would overlap (:mod:`._placement`).

The end node is not placed: each edge to it ends in a dot of its own, next to where
it starts (:attr:`PlacedEdge.end`), and an edge back up more than one row of states
ends in a tag naming its target. An edge from a state to itself is not routed: it
becomes a row inside the state's box (:attr:`PlacedNode.loops`), which keeps "no match
1-2" or "after 2m" readable.
Text is measured by the caller's ``measure`` function, so the SVG (estimated widths)
and the PNG (the real font) each get boxes that fit their text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from ucwa_flow.graph._curves import Point
from ucwa_flow.graph._model import Edge, Graph, Node, NodeKind
from ucwa_flow.graph._placement import Vertex, order_layers, place_x

__all__ = [
    "LABEL_FONT",
    "NODE_FONT",
    "Layout",
    "PlacedEdge",
    "PlacedNode",
    "layout_graph",
    "tag_text",
]

#: font sizes (in layout units) of state names and of edge labels
NODE_FONT = 13.0
LABEL_FONT = 11.0
#: measure(text, font_size) -> width of the text in layout units
Measure = Callable[[str, float], float]

_PAD_X, _PAD_Y, _ROW = 10.0, 7.0, 15.0
_TERMINAL = 16.0  # diameter of the start and end dots
_FAR = 2  # an edge back up more layers than this (one row of states) ends in a tag
_LAYER_GAP, _MARGIN, _TITLE = 14.0, 28.0, 30.0


@dataclass(frozen=True)
class PlacedNode:
    """A node's box: ``x``, ``y`` its top-left corner; ``loops`` the edges that stay."""

    node: Node
    x: float
    y: float
    width: float
    height: float
    loops: tuple[Edge, ...] = ()
    #: a stand-in drawn where one edge ends (an end dot, or a tag naming a state)
    stand_in: bool = False

    @property
    def center(self) -> Point:
        return (self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class PlacedEdge:
    """An edge's route from source to target, and where its label's top-left corner is.

    ``end`` is a stand-in for the target, drawn where the edge stops: an end dot of the
    edge's own for an edge to the end node (rather than one end node that every state's
    "bye" and "after 10m" would cross the picture to reach), or a tag "back to menu" for
    an edge that would climb far back up the picture.
    """

    edge: Edge
    points: tuple[Point, ...]
    label_at: Point | None
    end: PlacedNode | None = None


@dataclass(frozen=True)
class Layout:
    """Everything placed: a renderer only draws what it finds here (``nodes`` has no end)."""

    title: str
    width: float
    height: float
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]


def estimate_width(text: str, size: float) -> float:
    """A font-free estimate of a sans-serif text's width, for SVG."""
    return sum(0.62 if char.isupper() or char in "mwMW@" else 0.54 for char in text) * size


def layout_graph(graph: Graph, measure: Measure = estimate_width) -> Layout:
    """Place every node and route every edge of ``graph``; see the module's docstring."""
    loops: dict[Node, list[Edge]] = {node: [] for node in graph.nodes}
    routed = [edge for edge in graph.edges if edge.source != edge.target]
    for edge in graph.edges:
        if edge.source == edge.target:
            loops[edge.source].append(edge)
    drawn = [node for node in graph.nodes if node.kind is not NodeKind.END]
    verts = [_node_vertex(node, loops[node], measure) for node in drawn]
    index = {node: number for number, node in enumerate(drawn)}
    targets = [index.get(edge.target, -1) for edge in routed]
    for number, edge in enumerate(routed):
        if edge.target.kind is NodeKind.END:
            targets[number] = _stand_in(verts, edge.target, measure)
    sources = [index[edge.source] for edge in routed]
    back = _back_edges(len(verts), list(zip(sources, targets, strict=True)))
    forward = [(s, t) for s, t, b in zip(sources, targets, back, strict=True) if not b]
    _assign_layers(verts, forward)
    for number, edge in enumerate(routed):  # a long way back up: a tag instead of a line
        if back[number] and verts[sources[number]].layer - verts[targets[number]].layer > _FAR:
            targets[number], back[number] = _stand_in(verts, edge.target, measure), False
    pairs = [(t, s) if b else (s, t) for s, t, b in zip(sources, targets, back, strict=True)]
    for vertex in verts:
        vertex.layer = 0
    _assign_layers(verts, pairs)
    boxes = len(verts)  # the vertices so far are drawn as boxes, the rest are virtual
    chains = [_chain(verts, edge, pair, measure) for edge, pair in zip(routed, pairs, strict=True)]
    layers = order_layers(verts)
    place_x(verts, layers, _MARGIN)
    tops = _tops(verts, layers)
    placed = {n: _placed(verts[n], tops, loops, n >= len(drawn)) for n in range(boxes)}
    edges = [
        _route(edge, chain, reverse, verts, tops, placed)
        for edge, chain, reverse in zip(routed, chains, back, strict=True)
    ]
    width = max((v.x + v.width / 2 for v in verts), default=0.0) + _MARGIN
    height = max((tops[v.layer] + v.height for v in verts), default=0.0) + _MARGIN
    title_width = measure(graph.title, NODE_FONT) + 2 * _MARGIN
    nodes = tuple(placed[n] for n in range(len(drawn)))
    return Layout(graph.title, max(width, title_width), height, nodes, tuple(edges))


def _stand_in(verts: list[Vertex], node: Node, measure: Measure) -> int:
    """Add a stand-in for ``node`` at one edge's end (an end dot, a state's tag)."""
    if node.kind is NodeKind.END:
        verts.append(Vertex(_TERMINAL, _TERMINAL, node))
    else:
        width = measure(tag_text(node.name), LABEL_FONT) + 2 * _PAD_X
        verts.append(Vertex(width, LABEL_FONT + 2 * _PAD_Y, node))
    return len(verts) - 1


def tag_text(name: str) -> str:
    """The text of the tag that stands for state ``name`` at the end of a long edge back."""
    return f"back to {name}"


def _node_vertex(node: Node, loops: list[Edge], measure: Measure) -> Vertex:
    if node.kind in (NodeKind.START, NodeKind.END):
        return Vertex(_TERMINAL, _TERMINAL, node)
    width = measure(node.name, NODE_FONT)
    for edge in loops:
        width = max(width, measure(edge.label or "stays", LABEL_FONT) + _ROW)
    height = NODE_FONT + 2 * _PAD_Y + _ROW * len(loops)
    return Vertex(width + 2 * _PAD_X, height, node)


def _back_edges(count: int, pairs: list[tuple[int, int]]) -> list[bool]:
    """Which edges close a cycle, by an iterative depth-first search in node order."""
    out: dict[int, list[tuple[int, int]]] = {n: [] for n in range(count)}
    for number, (source, target) in enumerate(pairs):
        out[source].append((target, number))
    state = [0] * count  # 0 new, 1 on the stack, 2 done
    back = [False] * len(pairs)
    for root in range(count):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            vertex, children = stack[-1]
            for target, number in children:
                if state[target] == 1:
                    back[number] = True
                elif state[target] == 0:
                    state[target] = 1
                    stack.append((target, iter(out[target])))
                    break
            else:
                state[vertex] = 2
                stack.pop()
    return back


def _assign_layers(verts: list[Vertex], pairs: list[tuple[int, int]]) -> None:
    """Longest path from the sources, two layers per edge (Kahn's order on the DAG)."""
    incoming = [0] * len(verts)
    out: dict[int, list[int]] = {n: [] for n in range(len(verts))}
    for source, target in pairs:
        out[source].append(target)
        incoming[target] += 1
    ready = [n for n in range(len(verts)) if incoming[n] == 0]
    while ready:
        vertex = ready.pop(0)
        for target in out[vertex]:
            verts[target].layer = max(verts[target].layer, verts[vertex].layer + 2)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)


def _chain(verts: list[Vertex], edge: Edge, pair: tuple[int, int], measure: Measure) -> list[int]:
    """Virtual vertices for every layer the edge crosses; the middle one holds the label."""
    source, target = pair
    span = verts[target].layer - verts[source].layer
    label_slot = (span - 2) // 2
    chain = [source]
    for step in range(span - 1):
        if step == label_slot and edge.label:
            width, height = measure(edge.label, LABEL_FONT) + 8, LABEL_FONT + 6
        else:
            width, height = 6.0, 0.0
        verts.append(Vertex(width, height, layer=verts[source].layer + step + 1))
        chain.append(len(verts) - 1)
    chain.append(target)
    for upper, lower in itertools.pairwise(chain):
        verts[upper].downs.append(lower)
        verts[lower].ups.append(upper)
    return chain


def _tops(verts: list[Vertex], layers: list[list[int]]) -> list[float]:
    """Each layer's top ``y``."""
    tops: list[float] = []
    y = _MARGIN + _TITLE
    for layer in layers:
        tops.append(y)
        y += max((verts[n].height for n in layer), default=0.0) + _LAYER_GAP
    return tops


def _placed(
    vertex: Vertex, tops: list[float], loops: dict[Node, list[Edge]], stand_in: bool
) -> PlacedNode:
    node = vertex.node
    assert node is not None
    left, top = vertex.x - vertex.width / 2, tops[vertex.layer]
    rows = () if stand_in else tuple(loops[node])
    return PlacedNode(node, left, top, vertex.width, vertex.height, rows, stand_in)


def _route(
    edge: Edge,
    chain: list[int],
    back: bool,
    verts: list[Vertex],
    tops: list[float],
    placed: dict[int, PlacedNode],
) -> PlacedEdge:
    label_at: Point | None = None
    middle: list[Point] = []
    for n in chain[1:-1]:
        vertex = verts[n]
        left, top = vertex.x - vertex.width / 2, tops[vertex.layer]
        if vertex.height:
            label_at = (left + 5, top)
            middle += [(left + 1, top), (left + 1, top + vertex.height)]
        else:
            middle.append((vertex.x, top))
    source, target = placed[chain[0]], placed[chain[-1]]
    if back:
        middle.reverse()
        source, target = target, source
    first = _clip(source, middle[0] if middle else target.center)
    last = _clip(target, middle[-1] if middle else source.center)
    end = target if target.stand_in else None
    return PlacedEdge(edge, (first, *middle, last), label_at, end)


def _clip(box: PlacedNode, toward: Point) -> Point:
    """Where the line from ``box``'s centre to ``toward`` leaves the box."""
    cx, cy = box.center
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return (cx, cy)
    scale = min(
        box.width / 2 / abs(dx) if dx else float("inf"),
        box.height / 2 / abs(dy) if dy else float("inf"),
    )
    return (cx + dx * min(scale, 1.0), cy + dy * min(scale, 1.0))

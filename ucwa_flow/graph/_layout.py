"""A small layered (Sugiyama-style) layout, so pictures need no Graphviz.

:func:`layout_graph` places a :class:`Graph` top to bottom in four classic steps:

1. **cycles**: a depth-first search from the start marks back edges, which are laid out
   reversed (and drawn with their arrow the right way round);
2. **layers**: the longest path from the sources, every edge two layers long at least, so
   each edge gets a *label slot* (a virtual node as big as its label) in a layer of its
   own: labels never overlap nodes or each other;
3. **order**: barycenter sweeps, down then up, reduce crossings;
4. **coordinates**: each layer is packed, then pulled towards the mean of its neighbours.

An edge from a state to itself is not routed: it becomes a row inside the state's box
(:attr:`PlacedNode.loops`), which keeps "no match 1-2" or "after 2m, stays" readable.
Text is measured by the caller's ``measure`` function, so the SVG (estimated widths)
and the PNG (the real font) each get boxes that fit their text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from ucwa_flow.graph._model import Edge, Graph, Node, NodeKind

__all__ = ["LABEL_FONT", "NODE_FONT", "Layout", "PlacedEdge", "PlacedNode", "layout_graph"]

#: font sizes (in layout units) of state names and of edge labels
NODE_FONT = 13.0
LABEL_FONT = 11.0
#: measure(text, font_size) -> width of the text in layout units
Measure = Callable[[str, float], float]

_PAD_X, _PAD_Y, _ROW = 10.0, 7.0, 15.0
_TERMINAL = 16.0  # diameter of the start and end dots
_SEP, _LAYER_GAP, _MARGIN, _TITLE = 18.0, 14.0, 16.0, 30.0
_SWEEPS = 6
Point = tuple[float, float]


@dataclass(frozen=True)
class PlacedNode:
    """A node's box: ``x``, ``y`` its top-left corner; ``loops`` the edges that stay."""

    node: Node
    x: float
    y: float
    width: float
    height: float
    loops: tuple[Edge, ...] = ()

    @property
    def center(self) -> Point:
        return (self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class PlacedEdge:
    """An edge's route from source to target, and where its label's top-left corner is."""

    edge: Edge
    points: tuple[Point, ...]
    label_at: Point | None


@dataclass(frozen=True)
class Layout:
    """Everything placed: a renderer only draws what it finds here."""

    title: str
    width: float
    height: float
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]


@dataclass
class _Vertex:
    width: float
    height: float
    node: Node | None = None
    layer: int = 0
    x: float = 0.0
    ups: list[int] = field(default_factory=list)
    downs: list[int] = field(default_factory=list)


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
    verts = [_node_vertex(node, loops[node], measure) for node in graph.nodes]
    index = {node: number for number, node in enumerate(graph.nodes)}
    reversed_ = _back_edges(len(verts), [(index[e.source], index[e.target]) for e in routed])
    pairs = [
        (index[e.target], index[e.source]) if back else (index[e.source], index[e.target])
        for e, back in zip(routed, reversed_, strict=True)
    ]
    _assign_layers(verts, pairs)
    chains = [_chain(verts, edge, pair, measure) for edge, pair in zip(routed, pairs, strict=True)]
    layers = _order(verts)
    tops = _place(verts, layers)
    placed = {
        node: _placed(node, verts[i], tops, loops[node]) for i, node in enumerate(graph.nodes)
    }
    edges = [
        _route(edge, chain, back, verts, tops, placed)
        for edge, chain, back in zip(routed, chains, reversed_, strict=True)
    ]
    width = max((v.x + v.width / 2 for v in verts), default=0.0) + _MARGIN
    height = max((tops[v.layer] + v.height for v in verts), default=0.0) + _MARGIN
    title_width = measure(graph.title, NODE_FONT) + 2 * _MARGIN
    return Layout(
        graph.title,
        max(width, title_width),
        height,
        tuple(placed[node] for node in graph.nodes),
        tuple(edges),
    )


def _node_vertex(node: Node, loops: list[Edge], measure: Measure) -> _Vertex:
    if node.kind in (NodeKind.START, NodeKind.END):
        return _Vertex(_TERMINAL, _TERMINAL, node)
    width = measure(node.name, NODE_FONT)
    for edge in loops:
        width = max(width, measure(edge.label or "stays", LABEL_FONT) + _ROW)
    height = NODE_FONT + 2 * _PAD_Y + _ROW * len(loops)
    return _Vertex(width + 2 * _PAD_X, height, node)


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


def _assign_layers(verts: list[_Vertex], pairs: list[tuple[int, int]]) -> None:
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


def _chain(verts: list[_Vertex], edge: Edge, pair: tuple[int, int], measure: Measure) -> list[int]:
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
        verts.append(_Vertex(width, height, layer=verts[source].layer + step + 1))
        chain.append(len(verts) - 1)
    chain.append(target)
    for upper, lower in itertools.pairwise(chain):
        verts[upper].downs.append(lower)
        verts[lower].ups.append(upper)
    return chain


def _order(verts: list[_Vertex]) -> list[list[int]]:
    """Layers of vertex numbers, ordered by barycenter sweeps down and up."""
    layers: list[list[int]] = [[] for _ in range(max(v.layer for v in verts) + 1)]
    for number, vertex in enumerate(verts):
        layers[vertex.layer].append(number)
    position = {n: i for layer in layers for i, n in enumerate(layer)}
    for sweep in range(_SWEEPS):
        down = sweep % 2 == 0
        for layer in layers[1:] if down else reversed(layers[:-1]):

            def key(n: int, down: bool = down) -> float:
                near = verts[n].ups if down else verts[n].downs
                return sum(position[m] for m in near) / len(near) if near else position[n]

            layer.sort(key=key)
            position.update({n: i for i, n in enumerate(layer)})
    return layers


def _place(verts: list[_Vertex], layers: list[list[int]]) -> list[float]:
    """Set each vertex's centre ``x``; return each layer's top ``y``."""
    tops: list[float] = []
    y = _MARGIN + _TITLE
    for layer in layers:
        tops.append(y)
        y += max((verts[n].height for n in layer), default=0.0) + _LAYER_GAP
        _pack(verts, layer, {n: 0.0 for n in layer})
    for sweep in range(4):
        for layer in layers if sweep % 2 == 0 else reversed(layers):
            wanted = {}
            for n in layer:
                near = verts[n].ups + verts[n].downs
                wanted[n] = sum(verts[m].x for m in near) / len(near) if near else verts[n].x
            _pack(verts, layer, wanted)
    shift = _MARGIN - min((v.x - v.width / 2 for v in verts), default=0.0)
    for vertex in verts:
        vertex.x += shift
    return tops


def _pack(verts: list[_Vertex], layer: list[int], wanted: dict[int, float]) -> None:
    """Put each vertex at its wanted centre, then push apart (in order) where they overlap."""
    previous: _Vertex | None = None
    for n in layer:
        vertex = verts[n]
        vertex.x = wanted[n]
        if previous is not None:
            least = previous.x + (previous.width + vertex.width) / 2 + _SEP
            vertex.x = max(vertex.x, least)
        previous = vertex
    # pull the row back left by half its push, so it stays centred on its neighbours
    if layer:
        drift = sum(verts[n].x - wanted[n] for n in layer) / len(layer)
        for n in layer:
            verts[n].x -= drift


def _placed(node: Node, vertex: _Vertex, tops: list[float], loops: list[Edge]) -> PlacedNode:
    left, top = vertex.x - vertex.width / 2, tops[vertex.layer]
    return PlacedNode(node, left, top, vertex.width, vertex.height, tuple(loops))


def _route(
    edge: Edge,
    chain: list[int],
    back: bool,
    verts: list[_Vertex],
    tops: list[float],
    placed: dict[Node, PlacedNode],
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
    if back:
        middle.reverse()
    source, target = placed[edge.source], placed[edge.target]
    first = _clip(source, middle[0] if middle else target.center)
    last = _clip(target, middle[-1] if middle else source.center)
    return PlacedEdge(edge, (first, *middle, last), label_at)


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

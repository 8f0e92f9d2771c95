"""Order and x-place the layers of the built-in layout (steps 3 and 4 of its docstring).

Vertices are the layout's nodes plus the virtual ones that carry edges across layers
(and their labels). Ordering is the barycenter heuristic, sweeping down then up.
Placement pulls each vertex towards the mean of its neighbours above and below, then
pushes the layer apart where boxes would overlap, a few sweeps down and up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ucwa_flow.graph._model import Node

__all__ = ["SEP", "Vertex", "order_layers", "place_x"]

#: the least horizontal gap between two vertices of a layer
SEP = 18.0
_ORDER_SWEEPS = 6
_PLACE_SWEEPS = 4


@dataclass
class Vertex:
    """A node (``node`` set) or a virtual vertex of an edge, with its neighbours."""

    width: float
    height: float
    node: Node | None = None
    layer: int = 0
    x: float = 0.0
    ups: list[int] = field(default_factory=list)
    downs: list[int] = field(default_factory=list)


def order_layers(verts: list[Vertex]) -> list[list[int]]:
    """Layers of vertex numbers, ordered by barycenter sweeps down and up."""
    layers: list[list[int]] = [[] for _ in range(max((v.layer for v in verts), default=0) + 1)]
    for number, vertex in enumerate(verts):
        layers[vertex.layer].append(number)
    position = {n: i for layer in layers for i, n in enumerate(layer)}
    for sweep in range(_ORDER_SWEEPS):
        down = sweep % 2 == 0
        for layer in layers[1:] if down else reversed(layers[:-1]):

            def key(n: int, down: bool = down) -> float:
                near = verts[n].ups if down else verts[n].downs
                return sum(position[m] for m in near) / len(near) if near else position[n]

            layer.sort(key=key)
            position.update({n: i for i, n in enumerate(layer)})
    return layers


def place_x(verts: list[Vertex], layers: list[list[int]], left: float) -> None:
    """Set each vertex's centre ``x``, the leftmost edge of the picture at ``left``.

    Each layer is packed, then, sweeping down and up, each vertex is pulled towards the
    mean of its neighbours above and below, and the layer packed again.
    """
    for layer in layers:
        _pack(verts, layer, {n: 0.0 for n in layer})
    for sweep in range(_PLACE_SWEEPS):
        for layer in layers if sweep % 2 == 0 else reversed(layers):
            wanted = {}
            for n in layer:
                near = verts[n].ups + verts[n].downs
                wanted[n] = sum(verts[m].x for m in near) / len(near) if near else verts[n].x
            _pack(verts, layer, wanted)
    shift = left - min((v.x - v.width / 2 for v in verts), default=0.0)
    for vertex in verts:
        vertex.x += shift


def _pack(verts: list[Vertex], layer: list[int], wanted: dict[int, float]) -> None:
    """Put each vertex at its wanted centre, push apart (in order) where they overlap."""
    previous: Vertex | None = None
    for n in layer:
        vertex = verts[n]
        vertex.x = wanted[n]
        if previous is not None:
            least = previous.x + (previous.width + vertex.width) / 2 + SEP
            vertex.x = max(vertex.x, least)
        previous = vertex
    if layer:  # then move the row back by its mean push, to stay centred on its neighbours
        drift = sum(verts[n].x - wanted[n] for n in layer) / len(layer)
        for n in layer:
            verts[n].x -= drift

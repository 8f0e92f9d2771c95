"""What a page adds to a drawn graph: ids, extra classes, coverage counts, live counters.

The review app (:mod:`ucwa_flow.review`) draws the same SVG as ``ucwa-flow graph`` and
then needs a few hooks on it; :class:`Decorations` carries them into
:func:`~ucwa_flow.graph.render_svg`, which otherwise draws exactly as before:

* ``svg_id``: the ``id`` of the ``<svg>`` element (``graph``);
* ``node_classes``: extra classes per node (``has-problem`` for a state ``validate``
  complains about);
* ``edge_counts``: how often tests took each edge (coverage); every edge then carries
  ``data-count="{k}"`` and an edge never taken the class ``untaken``;
* ``live_counts``: each state gets an empty ``<text class="live-count"
  data-state="{state}">`` in its box's top right corner, which a page's script fills
  with the number of conversations in that state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ucwa_flow.graph._model import Edge, Node

__all__ = ["Decorations"]


@dataclass(frozen=True)
class Decorations:
    """Page hooks for :func:`~ucwa_flow.graph.render_svg`; see the module's docstring."""

    svg_id: str | None = None
    node_classes: Mapping[Node, str] = field(default_factory=dict)
    edge_counts: Mapping[Edge, int] | None = None
    live_counts: bool = False

    def edge_attrs(self, edge: Edge) -> tuple[str, str]:
        """The extra class and attributes of an edge: ``(" untaken", ' data-count="0"')``."""
        if self.edge_counts is None:
            return "", ""
        count = self.edge_counts.get(edge, 0)
        return (" untaken" if count == 0 else ""), f' data-count="{count}"'

    def node_class(self, node: Node) -> str:
        """The extra classes of a node, with a leading space (or nothing)."""
        extra = self.node_classes.get(node, "")
        return f" {extra}" if extra else ""


#: no decorations: the plain picture
PLAIN = Decorations()

"""Graphs of flows and UCWA lifecycles, for review: Mermaid, DOT, SVG, PNG and HTML.

Drawing happens in three steps, each in its own module:

1. **extract** a :class:`Graph` from what is to be drawn: :func:`extract_flow` for a
   compiled :class:`~ucwa_flow.flow.Flow`, :func:`extract_machine` for a ``transitions``
   machine's states and transitions, :func:`extract_live_machine` for a built
   ``transitions.Machine``, :func:`lifecycle_graph` for one of the UCWA lifecycles
   (:data:`LIFECYCLES`: conversation, invitation, messaging);
2. the **graph model**: frozen :class:`Graph`, :class:`Node` (:class:`NodeKind` start,
   state, any, end) and :class:`Edge` (:class:`EdgeKind` message, timeout, no_match,
   command, invite, webhook, enter, ended, delivery_failed, event, with a label);
3. **render** it: :func:`render_mermaid` and :func:`render_dot` produce text;
   :func:`render_image` produces SVG or PNG bytes through Graphviz's ``dot`` when it is
   on ``PATH``, else with the built-in layered layout (:func:`layout_graph`,
   :func:`render_svg`, :func:`render_png` through Pillow); :func:`render_html` is one
   self-contained page. Nothing needs a system package. A page that inlines the SVG
   passes :class:`Decorations` (an id, extra classes, coverage counts, live counters).

Example::

    from ucwa_flow.flow import load_flow
    from ucwa_flow.graph import extract_flow, render_mermaid

    result = load_flow("flows/helpdesk.flow.yaml")
    print(render_mermaid(extract_flow(result.flow)))
"""

from __future__ import annotations

from ucwa_flow.graph._decorations import Decorations
from ucwa_flow.graph._dot import escape_dot, render_dot
from ucwa_flow.graph._flow import extract_flow
from ucwa_flow.graph._graphviz import (
    ENGINES,
    Engine,
    GraphvizError,
    GraphvizNotFound,
    ImageFormat,
    render_image,
)
from ucwa_flow.graph._html import render_html
from ucwa_flow.graph._layout import Layout, PlacedEdge, PlacedNode, layout_graph
from ucwa_flow.graph._lifecycles import LIFECYCLES, lifecycle_graph
from ucwa_flow.graph._machine import extract_live_machine, extract_machine
from ucwa_flow.graph._mermaid import escape_mermaid, render_mermaid
from ucwa_flow.graph._model import (
    ANY,
    END,
    MARKS,
    START,
    Edge,
    EdgeKind,
    Graph,
    GraphBuilder,
    Node,
    NodeKind,
)
from ucwa_flow.graph._png import render_png
from ucwa_flow.graph._svg import render_svg

__all__ = [
    "ANY",
    "END",
    "ENGINES",
    "LIFECYCLES",
    "MARKS",
    "START",
    "Decorations",
    "Edge",
    "EdgeKind",
    "Engine",
    "Graph",
    "GraphBuilder",
    "GraphvizError",
    "GraphvizNotFound",
    "ImageFormat",
    "Layout",
    "Node",
    "NodeKind",
    "PlacedEdge",
    "PlacedNode",
    "escape_dot",
    "escape_mermaid",
    "extract_flow",
    "extract_live_machine",
    "extract_machine",
    "layout_graph",
    "lifecycle_graph",
    "render_dot",
    "render_html",
    "render_image",
    "render_mermaid",
    "render_png",
    "render_svg",
]

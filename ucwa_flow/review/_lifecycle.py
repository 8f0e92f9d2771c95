"""The UCWA lifecycle machines a review page shows: their graphs and state names.

``/lifecycle/{kind}`` draws the conversation or messaging machine (the same machines
``ucwa-flow graph --lifecycle`` draws) with live counts per state; every page's
``#lifecycle`` bar lists their states. Graphs are built once per process.
"""

from __future__ import annotations

import functools

from ucwa_flow.graph import Graph
from ucwa_flow.graph import lifecycle_graph as _draw

__all__ = ["LIFECYCLE_KINDS", "lifecycle_graph", "lifecycle_states"]

#: the lifecycle kinds the live feed counts, in the order pages show them
LIFECYCLE_KINDS = ("conversation", "messaging")


@functools.cache
def lifecycle_graph(kind: str) -> Graph:
    """The graph of lifecycle ``kind`` (one of :data:`LIFECYCLE_KINDS`);
    :class:`KeyError` for another."""
    if kind not in LIFECYCLE_KINDS:
        raise KeyError(kind)
    return _draw(kind)


def lifecycle_states(kind: str) -> tuple[str, ...]:
    """The states of lifecycle ``kind``, in drawing order."""
    return tuple(node.name for node in lifecycle_graph(kind).states)

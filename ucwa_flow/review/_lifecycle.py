"""The UCWA lifecycle machines a review page shows: their graphs and state names.

``/lifecycle/{kind}`` draws the conversation or messaging machine (the same machines
``ucwa-flow graph --lifecycle`` draws) with live counts per state; every page's
``#lifecycle`` bar lists their states. Graphs are built once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ucwa_flow.graph import Graph, extract_live_machine

__all__ = ["LIFECYCLE_KINDS", "lifecycle_graph", "lifecycle_states"]

#: the lifecycle kinds the live feed counts, in the order pages show them
LIFECYCLE_KINDS = ("conversation", "messaging")


def _factory(kind: str) -> tuple[Callable[[], Any], tuple[str, ...]]:
    if kind == "conversation":
        from ucwa_flow.lifecycle.conversation import conversation_machine

        return conversation_machine, ("Disconnected",)
    from ucwa_flow.lifecycle.messaging import messaging_machine

    return messaging_machine, ()


@functools.cache
def lifecycle_graph(kind: str) -> Graph:
    """The graph of lifecycle ``kind`` (one of :data:`LIFECYCLE_KINDS`);
    :class:`KeyError` for another."""
    if kind not in LIFECYCLE_KINDS:
        raise KeyError(kind)
    factory, final = _factory(kind)
    return extract_live_machine(factory(), f"{kind} lifecycle", final=final)


def lifecycle_states(kind: str) -> tuple[str, ...]:
    """The states of lifecycle ``kind``, in drawing order."""
    return tuple(node.name for node in lifecycle_graph(kind).states)

"""Identifier-safe node ids for the text renderers.

State names are whatever the flow author wrote (``404``, ``main menu``, ``note``), but
Mermaid and DOT identifiers are not: Mermaid's lexer splits on ``-`` and ``:`` and treats
``state``, ``note``, ``class``, ``default``, ``click`` ... as keywords. Renderers therefore
draw each node under a generated id and show its real name as the label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ucwa_flow.graph._model import Node, NodeKind

__all__ = ["assign_ids"]

_PSEUDO_IDS = {NodeKind.START: "__start__", NodeKind.ANY: "__any__", NodeKind.END: "__end__"}

# Words that either Mermaid's stateDiagram lexer or DOT reads as keywords.
_RESERVED = frozenset(
    {
        "accdescr",
        "acctitle",
        "as",
        "class",
        "classdef",
        "click",
        "digraph",
        "direction",
        "edge",
        "end",
        "graph",
        "hide",
        "href",
        "node",
        "note",
        "root",  # Mermaid's id of the diagram itself: a state so named broke the render
        "root_end",  # Mermaid's own ids for [*] at the top level: a state so named merged
        "root_start",  # with the start or end dot
        "scale",
        "state",
        "statediagram",
        "strict",
        "style",
        "subgraph",
    }
)

# Mermaid keeps states in plain JavaScript objects: a state whose id is one of their
# properties ("constructor", "toString") made the whole diagram fail to render.
_RESERVED |= frozenset(
    {
        "constructor",
        "hasownproperty",
        "isprototypeof",
        "propertyisenumerable",
        "tolocalestring",
        "tostring",
        "valueof",
    }
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def assign_ids(nodes: Iterable[Node]) -> dict[Node, str]:
    """Give every node a distinct id made of ASCII letters, digits and underscores.

    A state keeps its own name when that is already a safe identifier, so the text
    output stays readable (``menu --> password``); otherwise unsafe characters become
    ``_``, a leading digit or a keyword gets an ``s_`` prefix, and clashes get a numeric
    suffix (``main_menu``, ``main_menu_2``). The ids are stable for a given node order.
    """
    ids: dict[Node, str] = {}
    taken: set[str] = set()
    nodes = list(nodes)
    for node in nodes:
        if node.kind is not NodeKind.STATE:
            ids[node] = _PSEUDO_IDS[node.kind]
            taken.add(ids[node])
    for node in nodes:
        if node.kind is NodeKind.STATE:
            ids[node] = _unique(_base_id(node.name), taken)
            taken.add(ids[node])
    return ids


def _base_id(name: str) -> str:
    base = _UNSAFE.sub("_", name).strip("_") or "unnamed"
    lowered = base.lower()
    # Mermaid's lexer matches "default" as a keyword even as a prefix of a longer word.
    if base[0].isdigit() or lowered in _RESERVED or lowered.startswith("default"):
        base = f"s_{base}"
    return base


def _unique(base: str, taken: set[str]) -> str:
    candidate, counter = base, 1
    while candidate in taken:
        counter += 1
        candidate = f"{base}_{counter}"
    return candidate

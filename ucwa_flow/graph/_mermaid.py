"""Render a :class:`Graph` as a Mermaid ``stateDiagram-v2`` (renders on GitHub and GitLab).

Mermaid's state-diagram lexer is unforgiving about label text: a transition label ends at
the first ``:``, ``;`` or newline, ``%%`` starts a comment anywhere on a line, a state
description ends at ``"``, and ``#word;`` is read as an entity code. Every such character
is therefore written as a numeric entity code (``#58;`` for ``:``), which Mermaid turns
back into the character when it draws. Regex backslashes, ``<``, ``>``, ``&``, braces
and ``|`` are encoded the same way, so a pattern like ``^(?P<id>E\\d{6})$`` shows exactly
as written.

A state diagram cannot style individual transitions, so edge kinds are told apart by a
label prefix: ``⏱`` for timeout steps, ``✗`` for no-match steps, ``⌘`` for global
commands, ``↩`` for ``goto: back``. The "any state" node is drawn dashed through a ``classDef``.
"""

from __future__ import annotations

import json
import re

from ucwa_flow.graph._ids import assign_ids
from ucwa_flow.graph._model import Edge, EdgeKind, Graph, Node, NodeKind

__all__ = ["KIND_PREFIXES", "escape_mermaid", "render_mermaid"]

#: label prefix per edge kind; kinds not listed get none
KIND_PREFIXES: dict[EdgeKind, str] = {
    EdgeKind.TIMEOUT: "⏱ ",
    EdgeKind.NO_MATCH: "✗ ",
    EdgeKind.COMMAND: "⌘ ",
    EdgeKind.BACK: "↩ ",
}

_ENCODED = frozenset('#;:"<>&%\\{}|`')
# The lexer reads "direction LR" anywhere on a line as a layout statement.
_DIRECTION = re.compile(r"(direction)(\s+)(tb|bt|rl|lr)", re.IGNORECASE)
_INDENT = "    "


def escape_mermaid(text: str) -> str:
    """Make ``text`` safe as a Mermaid state description or transition label.

    Control characters (newlines included) become spaces; the characters Mermaid's
    lexer or its HTML output would misread become ``#<code>;`` entity codes.
    """
    chars: list[str] = []
    for char in text:
        if char in _ENCODED:
            chars.append(f"#{ord(char)};")
        elif ord(char) < 32 or ord(char) == 127:
            chars.append(" ")
        else:
            chars.append(char)
    escaped = "".join(chars)
    return _DIRECTION.sub(lambda m: f"{m[1]}#32;{m[3]}", escaped)


def render_mermaid(graph: Graph) -> str:
    """The Mermaid source of ``graph``, ending with a newline.

    Every state is declared (``state "name" as id``) before any transition, so a state
    without transitions still appears; transitions follow in the graph's order. The
    title goes into Mermaid's front matter.
    """
    ids = assign_ids(graph.nodes)
    lines = ["---", f"title: {json.dumps(graph.title, ensure_ascii=False)}", "---"]
    lines.append("stateDiagram-v2")
    has_any = any(node.kind is NodeKind.ANY for node in graph.nodes)
    if has_any:
        lines.append(f"{_INDENT}classDef anyState fill:none,stroke-dasharray:5 5")
    for node in graph.nodes:
        if node.kind in (NodeKind.STATE, NodeKind.ANY):
            lines.append(f'{_INDENT}state "{escape_mermaid(node.name)}" as {ids[node]}')
    if has_any:
        lines.append(f"{_INDENT}class {ids[_any_node(graph)]} anyState")
    lines.extend(_INDENT + _transition(edge, ids) for edge in graph.edges)
    return "\n".join(lines) + "\n"


def _transition(edge: Edge, ids: dict[Node, str]) -> str:
    text = f"{_endpoint(edge.source, ids)} --> {_endpoint(edge.target, ids)}"
    label = KIND_PREFIXES.get(edge.kind, "") + edge.label
    if label.strip():
        text += f" : {escape_mermaid(label)}"
    return text


def _endpoint(node: Node, ids: dict[Node, str]) -> str:
    if node.kind in (NodeKind.START, NodeKind.END):
        return "[*]"
    return ids[node]


def _any_node(graph: Graph) -> Node:
    return next(node for node in graph.nodes if node.kind is NodeKind.ANY)

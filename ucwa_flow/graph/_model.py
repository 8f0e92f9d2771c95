"""The small graph model between the extractors and the renderers.

Extractors (a flow, a ``transitions`` machine) build a :class:`Graph`; renderers (Mermaid,
DOT, images) read one. Neither side knows about the other, so a new renderer works for
flows and lifecycles alike, and a renderer test needs nothing but a hand-built graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ANY",
    "END",
    "MARKS",
    "START",
    "Edge",
    "EdgeKind",
    "Graph",
    "GraphBuilder",
    "Node",
    "NodeKind",
]


class NodeKind(StrEnum):
    """What a node stands for."""

    #: where every conversation (or lifecycle) begins; drawn as a filled dot
    START = "start"
    #: a named state of the flow or machine
    STATE = "state"
    #: "whatever the current state is": the source of global commands and wildcard triggers
    ANY = "any"
    #: where the conversation ends (stop, decline, caller left, final lifecycle state)
    END = "end"


class EdgeKind(StrEnum):
    """What makes an edge fire; renderers draw each kind in its own style."""

    #: a message handler matched (regex, keywords, choice, catch-all)
    MESSAGE = "message"
    #: a step of a timeout ladder (silence for a while)
    TIMEOUT = "timeout"
    #: a step of a no-match ladder (the message matched no handler)
    NO_MATCH = "no_match"
    #: a global command (help, agent, stop ...)
    COMMAND = "command"
    #: an outbound invitation was accepted, declined or not answered
    INVITE = "invite"
    #: a webhook call succeeded or failed
    WEBHOOK = "webhook"
    #: unconditional, on entering a state (a ``goto`` among the ``enter`` actions)
    ENTER = "enter"
    #: the caller left the conversation
    ENDED = "ended"
    #: a message could not be delivered
    DELIVERY_FAILED = "delivery_failed"
    #: ``goto: back``: to a state the conversation may have come from (drawn dashed)
    BACK = "back"
    #: a named trigger of a lifecycle machine
    EVENT = "event"


@dataclass(frozen=True)
class Node:
    """A state or one of the pseudo-nodes (start, any, end).

    Nodes compare by ``(kind, name)``, so a state that happens to be called ``start`` is a
    different node from the start pseudo-node.
    """

    kind: NodeKind
    name: str


@dataclass(frozen=True)
class Edge:
    """A transition from ``source`` to ``target``, labelled with what triggers it.

    ``label`` is the text a reader sees, already phrased for people (``after 2m``,
    ``"1" or "password"``); renderers escape it but never rephrase it.
    """

    source: Node
    target: Node
    kind: EdgeKind
    label: str = ""


#: the marks a node or edge of a :class:`Graph` may carry
MARKS = ("added", "removed", "changed")

#: the start pseudo-node
START = Node(NodeKind.START, "start")
#: the end pseudo-node
END = Node(NodeKind.END, "end")
#: the "any state" pseudo-node, source of global commands and wildcard triggers
ANY = Node(NodeKind.ANY, "any state")


@dataclass(frozen=True)
class Graph:
    """A directed graph of states and labelled transitions, in drawing order.

    Invariants, checked on construction: every edge joins two nodes of the graph; there
    is at most one node of each pseudo kind (start, any, end); nothing enters the start
    node and nothing leaves the end node. Nodes are drawn in the order given, so the
    output of a renderer is stable and diff-friendly.

    ``marks`` is the style hook: a node or edge may carry a mark (``added``,
    ``removed``, ``changed``; see :data:`MARKS`) that the SVG and HTML renderers draw in
    its own style and expose as a ``data-mark`` attribute. The comparison of two flow
    versions uses it; an ordinary graph has none.

    ``lines`` maps a node or edge to the 1-based line of the source it was drawn from (a
    flow's state, the handler or ladder step behind an edge); the SVG renderer writes it
    as ``data-line`` so a page can open the source there. ``files`` names the file of
    such a line when it is not the main source file (a flow's included file or sub-flow,
    as a path relative to the flow file's folder, ``lib/desk.states.yaml``): no entry
    means the main file. The SVG renderer writes it as ``data-file``. Like marks, lines
    and files are no part of the graph's identity.
    """

    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()
    marks: Mapping[Node | Edge, str] = field(default_factory=dict, compare=False, hash=False)
    lines: Mapping[Node | Edge, int] = field(default_factory=dict, compare=False, hash=False)
    files: Mapping[Node | Edge, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        known = set(self.nodes)
        if len(known) != len(self.nodes):
            raise ValueError("a graph lists a node twice")
        for kind in (NodeKind.START, NodeKind.ANY, NodeKind.END):
            if sum(1 for node in self.nodes if node.kind is kind) > 1:
                raise ValueError(f"a graph has at most one {kind} node")
        for edge in self.edges:
            if edge.source not in known or edge.target not in known:
                raise ValueError(
                    f"edge {edge.source.name!r} -> {edge.target.name!r} leaves the graph"
                )
            if edge.target.kind is NodeKind.START:
                raise ValueError("no edge may enter the start node")
            if edge.source.kind is NodeKind.END:
                raise ValueError("no edge may leave the end node")
        for item, mark in self.marks.items():
            if mark not in MARKS:
                raise ValueError(f"unknown mark {mark!r}: one of {', '.join(MARKS)}")
            if item not in known and item not in self.edges:
                raise ValueError("a mark names a node or edge outside the graph")

    @property
    def states(self) -> tuple[Node, ...]:
        """The state nodes, in drawing order."""
        return tuple(node for node in self.nodes if node.kind is NodeKind.STATE)

    def state(self, name: str) -> Node:
        """The state node called ``name``; :class:`KeyError` if there is none."""
        node = Node(NodeKind.STATE, name)
        if node not in self.nodes:
            raise KeyError(name)
        return node

    def edges_from(self, node: Node) -> tuple[Edge, ...]:
        """The edges that leave ``node``, in drawing order."""
        return tuple(edge for edge in self.edges if edge.source == node)


@dataclass
class GraphBuilder:
    """Collects nodes and edges for a :class:`Graph`, in first-seen order.

    Extractors add states as they meet them and edges as they find triggers; an edge
    identical to one already added is dropped. Pseudo-nodes are added on first use, so
    a graph without global commands has no "any state" node.

    A ``line`` given with a node or edge is the source line it comes from (the first one
    given wins, as the first of identical edges is the one kept); ``file`` names the file
    of that line when it is not the main one (see :attr:`Graph.files`).
    """

    title: str
    #: where a ``return`` of the state being extracted goes: the states calling its sub-flow
    returns_to: list[str] = field(default_factory=list)
    #: where a ``goto: back`` from a node may lead (the flow extractor fills it)
    back_to: dict[Node, tuple[Node, ...]] = field(default_factory=dict)
    _nodes: dict[Node, None] = field(default_factory=dict)
    _edges: dict[Edge, None] = field(default_factory=dict)
    _lines: dict[Node | Edge, int] = field(default_factory=dict)
    _files: dict[Node | Edge, str] = field(default_factory=dict)

    def add_state(self, name: str, line: int | None = None, file: str | None = None) -> Node:
        """Add (or find) the state called ``name`` and return its node."""
        node = Node(NodeKind.STATE, name)
        self._nodes.setdefault(node, None)
        self._place(node, line, file)
        return node

    def _place(self, item: Node | Edge, line: int | None, file: str | None) -> None:
        """Record where ``item`` comes from, unless it already has a line."""
        if line is None or item in self._lines:
            return
        self._lines[item] = line
        if file is not None:
            self._files[item] = file

    def add_states(self, names: Iterable[str]) -> None:
        """Add several states, in order."""
        for name in names:
            self.add_state(name)

    def add_edge(
        self,
        source: Node,
        target: Node,
        kind: EdgeKind,
        label: str = "",
        line: int | None = None,
        file: str | None = None,
    ) -> None:
        """Add an edge, adding its endpoints too; an exact duplicate is ignored."""
        self._nodes.setdefault(source, None)
        self._nodes.setdefault(target, None)
        edge = Edge(source, target, kind, label)
        self._edges.setdefault(edge, None)
        self._place(edge, line, file)

    def build(self) -> Graph:
        """The finished graph: start first, then states and "any state", end last."""
        order = {NodeKind.START: 0, NodeKind.STATE: 1, NodeKind.ANY: 1, NodeKind.END: 2}
        nodes = sorted(self._nodes, key=lambda node: order[node.kind])
        return Graph(
            self.title,
            tuple(nodes),
            tuple(self._edges),
            lines=dict(self._lines),
            files=dict(self._files),
        )

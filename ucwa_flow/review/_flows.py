"""The flows a review shows: each file's text, graph and problems, loaded once.

:func:`review_flow` loads a flow file the way ``ucwa-flow validate`` does and keeps what
the page needs: the file's lines (the source pane), the graph with the source line of
every state and edge (:func:`~ucwa_flow.graph.extract_flow`), and ``validate``'s
problems, each pinned on the state whose lines hold it. A flow made of several files
(includes, sub-flows) keeps the text of each of its other files too (``parts``, by path
relative to the flow file's folder; see :mod:`ucwa_flow.review._files`).

A flow with errors is still shown: the problem list, and whatever graph can be read
from its YAML (:func:`skeleton_graph`: its states in file order, the start arrow and
the ``goto``\\ s that name a state); a file that is not YAML at all has no graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ucwa_flow.flow import Diagnostic, Flow, load_flow, resolve_flow_path
from ucwa_flow.flow._loader import Document, read_document
from ucwa_flow.flow._parts import assemble
from ucwa_flow.graph import START, EdgeKind, Graph, GraphBuilder, extract_flow
from ucwa_flow.review._files import flow_parts, pin, relative_name, state_places

__all__ = ["ReviewedFlow", "review_flow", "skeleton_graph"]


@dataclass(frozen=True)
class ReviewedFlow:
    """One flow file as the review shows it.

    ``name`` is the flow's ``name`` (the file's stem when it cannot be read), ``graph``
    ``None`` only for a file that is not YAML; ``pinned`` maps a state to its problems;
    ``parts`` holds the lines of the flow's other files (included files, sub-flows) by
    their path relative to the flow file's folder (``lib/desk.states.yaml``).
    """

    name: str
    path: Path
    lines: tuple[str, ...]
    flow: Flow | None
    graph: Graph | None
    problems: tuple[Diagnostic, ...] = ()
    pinned: Mapping[str, tuple[Diagnostic, ...]] = field(default_factory=dict)
    parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file of the flow, its own first."""
        return (self.path, *(self.path.parent / name for name in self.parts))

    def source(self, name: str) -> tuple[str, ...] | None:
        """The lines of the file called ``name`` (the flow file's own name or one of its
        ``parts``); ``None`` for any other name: nothing else is served."""
        return self.lines if name == self.file_name else self.parts.get(name)

    def file_of(self, problem: Diagnostic) -> str | None:
        """The relative name of the file ``problem`` is in; ``None`` for the flow's own."""
        return relative_name(str(self.path), problem.file)


def review_flow(path: str | Path) -> ReviewedFlow:
    """Load ``path`` for review; raises :class:`~ucwa_flow.flow.FlowFileError` for a file
    that cannot be read at all (the CLI's one line)."""
    resolved = Path(resolve_flow_path(str(path)))
    result = load_flow(path)  # its message names the path as given (`nw/`, not `nw`)
    text = resolved.read_text(encoding="utf-8-sig", errors="replace")
    document, _ = read_document(text, str(resolved))
    parts = assemble(document, resolved.parent) if document is not None else None
    problems = tuple(result.diagnostics)
    others = flow_parts(resolved, document, parts, problems)
    flow = result.flow
    if flow is not None:
        graph: Graph | None = extract_flow(flow)
        name = flow.name
        places = {state.name: state.location for state in flow.states.values()}
    else:
        graph = skeleton_graph(document, resolved.stem) if document is not None else None
        name = _name(document, resolved)
        places = state_places(document)
    texts = {str(resolved): text, **dict(others.values())}
    return ReviewedFlow(
        name=name,
        path=resolved,
        lines=tuple(text.splitlines()),
        flow=flow,
        graph=graph,
        problems=problems,
        pinned=pin(problems, places, texts),
        parts={part: tuple(text.splitlines()) for part, (_, text) in others.items()},
    )


def _name(document: Document | None, path: Path) -> str:
    data = document.data if document is not None else None
    if isinstance(data, Mapping) and isinstance(data.get("name"), str) and data["name"]:
        return str(data["name"])
    return path.name.removesuffix(".yaml").removesuffix(".flow")


def skeleton_graph(document: Document, title: str) -> Graph:
    """What can be drawn of a flow that does not load: its states in file order, the start
    arrow, and each ``goto`` that names one of its states (with its line)."""
    data = document.data if isinstance(document.data, Mapping) else {}
    builder = GraphBuilder(str(data.get("name") or title))
    lines = state_places(document)
    for name, place in lines.items():
        builder.add_state(name, place.line, relative_name(document.file, place.file))
    start = data.get("start")
    if start is not None and str(start) in lines:
        builder.add_edge(START, builder.add_state(str(start)), EdgeKind.EVENT)
    states = data.get("states")
    if isinstance(states, Mapping):
        for name, body in states.items():
            source = builder.add_state(str(name))
            for path, target in _gotos(body, ("states", name)):
                if target in lines:
                    at = document.locate(path)
                    file = relative_name(document.file, at.file)
                    target_node = builder.add_state(target)
                    builder.add_edge(source, target_node, EdgeKind.MESSAGE, "", at.line, file)
    return builder.build()


def _gotos(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every ``goto: NAME`` below ``value`` and its path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "goto" and isinstance(item, str | int):
                yield (*path, key), str(item)
            else:
                yield from _gotos(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _gotos(item, (*path, index))

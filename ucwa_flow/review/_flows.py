"""The flows a review shows: each file's text, graph and problems, loaded once.

:func:`review_flow` loads a flow file the way ``ucwa-flow validate`` does and keeps what
the page needs: the file's lines (the source pane), the graph with the source line of
every state and edge (:func:`~ucwa_flow.graph.extract_flow`), and ``validate``'s
problems, each pinned on the state whose lines hold it.

A flow with errors is still shown: the problem list, and whatever graph can be read
from its YAML (:func:`skeleton_graph`: its states in file order, the start arrow and
the ``goto``\\ s that name a state); a file that is not YAML at all has no graph.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ucwa_flow.flow import Diagnostic, Flow, load_flow, resolve_flow_path
from ucwa_flow.flow._loader import Document, read_document
from ucwa_flow.graph import START, EdgeKind, Graph, GraphBuilder, extract_flow

__all__ = ["ReviewedFlow", "review_flow", "skeleton_graph"]


@dataclass(frozen=True)
class ReviewedFlow:
    """One flow file as the review shows it.

    ``name`` is the flow's ``name`` (the file's stem when it cannot be read), ``graph``
    ``None`` only for a file that is not YAML; ``pinned`` maps a state to its problems.
    """

    name: str
    path: Path
    lines: tuple[str, ...]
    flow: Flow | None
    graph: Graph | None
    problems: tuple[Diagnostic, ...] = ()
    pinned: Mapping[str, tuple[Diagnostic, ...]] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return self.path.name


def review_flow(path: str | Path) -> ReviewedFlow:
    """Load ``path`` for review; raises :class:`~ucwa_flow.flow.FlowFileError` for a file
    that cannot be read at all (the CLI's one line)."""
    resolved = Path(resolve_flow_path(str(path)))
    result = load_flow(resolved)
    text = resolved.read_text(encoding="utf-8-sig", errors="replace")
    document, _ = read_document(text, str(resolved))
    flow = result.flow
    if flow is not None:
        graph: Graph | None = extract_flow(flow)
        name = flow.name
    else:
        graph = skeleton_graph(document, resolved.stem) if document is not None else None
        name = _name(document, resolved)
    problems = tuple(result.diagnostics)
    return ReviewedFlow(
        name=name,
        path=resolved,
        lines=tuple(text.splitlines()),
        flow=flow,
        graph=graph,
        problems=problems,
        pinned=_pin(problems, document),
    )


def _name(document: Document | None, path: Path) -> str:
    data = document.data if document is not None else None
    if isinstance(data, Mapping) and isinstance(data.get("name"), str) and data["name"]:
        return str(data["name"])
    return path.name.removesuffix(".yaml").removesuffix(".flow")


def state_lines(document: Document | None) -> dict[str, int]:
    """Each state of the document and the line of its key, in file order."""
    if document is None or not isinstance(document.data, Mapping):
        return {}
    states = document.data.get("states")
    if not isinstance(states, Mapping):
        return {}
    return {str(name): document.locate(("states", name), key=True).line for name in states}


def _pin(
    problems: tuple[Diagnostic, ...], document: Document | None
) -> dict[str, tuple[Diagnostic, ...]]:
    """Each problem on the state whose lines hold it (from its key to the next state's,
    or to the next top-level key after ``states``)."""
    lines = state_lines(document)
    if not lines or document is None:
        return {}
    names = sorted(lines, key=lines.__getitem__)
    starts = [lines[name] for name in names]
    tops = sorted(line for path, (line, _) in document.keys.items() if len(path) == 1)
    after = [line for line in tops if line > starts[-1]]
    end = after[0] if after else None
    pinned: dict[str, list[Diagnostic]] = {}
    for problem in problems:
        line = problem.line
        index = bisect.bisect_right(starts, line) - 1
        if index < 0 or (end is not None and line >= end):
            continue
        pinned.setdefault(names[index], []).append(problem)
    return {name: tuple(found) for name, found in pinned.items()}


def skeleton_graph(document: Document, title: str) -> Graph:
    """What can be drawn of a flow that does not load: its states in file order, the start
    arrow, and each ``goto`` that names one of its states (with its line)."""
    data = document.data if isinstance(document.data, Mapping) else {}
    builder = GraphBuilder(str(data.get("name") or title))
    lines = state_lines(document)
    for name, line in lines.items():
        builder.add_state(name, line)
    start = data.get("start")
    if start is not None and str(start) in lines:
        builder.add_edge(START, builder.add_state(str(start)), EdgeKind.EVENT)
    states = data.get("states")
    if isinstance(states, Mapping):
        for name, body in states.items():
            source = builder.add_state(str(name))
            for path, target in _gotos(body, ("states", name)):
                if target in lines:
                    line = document.locate(path).line
                    builder.add_edge(source, builder.add_state(target), EdgeKind.MESSAGE, "", line)
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

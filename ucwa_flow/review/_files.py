"""The files a reviewed flow is made of, and ``validate``'s problems pinned on their states.

A flow may be more than its own file: the files it includes (``include:``) and the
sub-flows it calls (``call:``), each with its own includes (``docs/flow-language.md``).
The review names each of those by its path relative to the flow file's folder
(``lib/desk.states.yaml``), the name the graph's ``data-file`` carries
(:attr:`~ucwa_flow.graph.Graph.files`) and the page asks the app for. The files are
exactly the ones the flow's loader read (all inside the flow's folder, which an include
or call path may not leave) and the ones its problems are located in: :func:`flow_parts`
reads them, and the app serves nothing else.

:func:`pin` puts each problem on the state whose lines hold it, in the file it is in.
"""

from __future__ import annotations

import bisect
import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path

from ucwa_flow.flow import Diagnostic, Location
from ucwa_flow.flow._loader import Document, read_document
from ucwa_flow.flow._parts import Parts

__all__ = ["flow_parts", "pin", "relative_name", "state_places"]


def relative_name(home: str, file: str) -> str | None:
    """``file`` as a path relative to the folder of the flow file ``home`` (``/``
    separated); ``None`` when ``file`` is ``home`` itself."""
    if file == home:
        return None
    folder = posixpath.dirname(home.replace("\\", "/")) or "."
    return posixpath.relpath(file.replace("\\", "/"), folder)


def flow_parts(
    home: Path, document: Document | None, parts: Parts | None, problems: Iterable[Diagnostic]
) -> dict[str, tuple[str, str]]:
    """Every file of the flow at ``home`` but its own, by relative name: the file as the
    loader names it and its text. They are the files merged into ``document``
    (assembled), the sub-flows of ``parts`` and their includes, and the files
    ``problems`` are in; only existing files inside the flow's folder."""
    found: list[str] = []
    if document is not None:
        found += document.sources.values()
    if parts is not None:
        for called, sub in parts.subflows.items():
            found.append(called)
            if sub is not None:
                found += sub.sources.values()
    found += (problem.file for problem in problems)
    folder = home.parent.resolve()
    read: dict[str, tuple[str, str]] = {}
    for file in found:
        name = relative_name(str(home), file)
        if name is None or name in read:
            continue
        path = Path(file)
        try:
            if not path.resolve().is_relative_to(folder) or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            continue
        read[name] = (file, text)
    return read


def state_places(document: Document | None) -> dict[str, Location]:
    """Each state of the (assembled) document and where its key is, in document order."""
    if document is None or not isinstance(document.data, Mapping):
        return {}
    states = document.data.get("states")
    if not isinstance(states, Mapping):
        return {}
    return {str(name): document.locate(("states", name), key=True) for name in states}


def top_lines(document: Document | None) -> list[int]:
    """The lines of a document's top-level keys, in order."""
    if document is None:
        return []
    return sorted(line for path, (line, _) in document.keys.items() if len(path) == 1)


def pin(
    problems: Iterable[Diagnostic],
    places: Mapping[str, Location],
    texts: Mapping[str, str],
) -> dict[str, tuple[Diagnostic, ...]]:
    """Each problem on the state whose lines hold it, in its file: from the state's key to
    the next state's of that file, or to the file's next top-level key after them.

    ``places`` are the states' keys (file as the problems name it), ``texts`` the text
    of each file by that same name (for its top-level keys)."""
    by_file: dict[str, list[tuple[int, str]]] = {}
    for name, place in places.items():
        by_file.setdefault(place.file, []).append((place.line, name))
    bounds: dict[str, tuple[list[int], list[str], int | None]] = {}
    for file, entries in by_file.items():
        entries.sort()
        starts = [line for line, _ in entries]
        document = read_document(texts[file], file)[0] if file in texts else None
        after = [line for line in top_lines(document) if line > starts[-1]]
        bounds[file] = (starts, [name for _, name in entries], after[0] if after else None)
    pinned: dict[str, list[Diagnostic]] = {}
    for problem in problems:
        if problem.file not in bounds:
            continue
        starts, names, end = bounds[problem.file]
        index = bisect.bisect_right(starts, problem.line) - 1
        if index < 0 or (end is not None and problem.line >= end):
            continue
        pinned.setdefault(names[index], []).append(problem)
    return {name: tuple(found) for name, found in pinned.items()}

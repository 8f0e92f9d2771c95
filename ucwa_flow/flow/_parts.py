"""Reading the other files a flow is made of: included files and the sub-flows it calls.

A flow's ``include`` list names files whose ``states``, ``variables`` and ``commands`` are
merged into the flow's document (:func:`assemble`); a ``call`` action names a sub-flow
file, read once per file however many calls name it, with its own includes merged. Every
file is read by the same strict YAML loader and checked against its part of the flow
schema (``statesFile``, ``subflowFile``), so every problem is located in the file it is
in. A merged part keeps its positions: the including document records, in
``Document.sources``, which file each merged state, variable or command came from.

Paths are relative to the file that names them and must stay inside ``root``, the folder
of the flow file the command was given (F138). A file that cannot be read is F130, a file
that includes itself is F131, a file included twice is merged once (F144, a warning), a
name defined twice is F132, a called file that is not a
sub-flow or a second sub-flow of the same name is F133, a sub-flow that calls itself,
directly or through others, is F136.

The flow's digest covers every file: it is the sha256 of the digests of the flow file and
of each part, in the order they were read, so an edit of a sub-flow is a new version of
every flow that calls it.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

from ucwa_flow.flow._diagnostics import Diagnostic, Location
from ucwa_flow.flow._loader import Document, Path, read_document
from ucwa_flow.flow._schema import check_part_schema

__all__ = ["INCLUDED_NAMES", "Parts", "assemble", "part_path"]

_SECTIONS = ("states", "variables", "commands")
#: the F rules an included file that could not be merged may be behind: a goto or start to
#: one of its states, a state or an end only its gotos and stops reach, a variable or a
#: command it declares (not reported then: fixing the include may make them go away)
INCLUDED_NAMES = frozenset({"F101", "F102", "F103", "F104", "F106", "F121", "F125", "F141"})
#: keys whose values hold data, never actions
_DATA_KEYS = frozenset({"set", "with", "json", "headers", "return", "say", "log"})


def part_path(including: str, written: str) -> str:
    """The path of the file ``written`` names, as seen from the file ``including``."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(including), written))


@dataclass
class Parts:
    """What :func:`assemble` read: the sub-flows by file path (``None`` for one that is
    unusable: unreadable, YAML or schema errors, not a sub-flow), each with its includes
    merged, in the order they were first called."""

    subflows: dict[str, Document | None] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    #: every file read (included files, sub-flows and their includes), in reading order
    files: list[str] = field(default_factory=list)
    #: an included file could not be merged: what it defines is missing from the flow
    incomplete: bool = False

    def digest(self, own: str) -> str:
        """The digest of a flow whose own file has digest ``own``."""
        if not self.digests:
            return own
        return hashlib.sha256(" ".join((own, *self.digests)).encode()).hexdigest()


def assemble(document: Document, root: FilePath) -> Parts:
    """Merge ``document``'s includes into it and read the sub-flows it calls (in place)."""
    parts = _Assembler(root)
    parts.includes(document, (document.file,))
    parts.calls(document, ())
    parts.result.diagnostics = sorted(
        dict.fromkeys(parts.result.diagnostics), key=Diagnostic.sort_key
    )
    return parts.result


class _Assembler:
    def __init__(self, root: FilePath) -> None:
        self.root = root.resolve()
        self.result = Parts()
        self.called: dict[str, str] = {}  # sub-flow file -> its name
        self.unusable: dict[str, tuple[str, str]] = {}  # file -> (code, why) it cannot be read
        self.caller_of: dict[str, str] = {}  # sub-flow name -> the first file named so

    def report(self, location: Location, code: str, message: str) -> None:
        self.result.diagnostics.append(Diagnostic.at(location, code, message))

    def read(self, doc: Document, at: Path, written: str, kind: str) -> Document | None:
        """The file that ``written`` (at ``at`` in ``doc``) names; ``None`` when it cannot
        be used (and the reason is reported)."""
        location = doc.locate(at)
        path = part_path(doc.file_of(at), written)

        def unusable(code: str, message: str) -> None:
            self.unusable[path] = (code, message)
            self.report(location, code, message)

        if posixpath.isabs(written) or os.path.isabs(written):
            unusable("F138", f"{written!r}: write a path relative to this file")
            return None
        try:
            inside = FilePath(path).resolve().is_relative_to(self.root)
            raw = FilePath(path).read_bytes() if inside else b""
        except OSError as exc:
            reason = "no such file" if isinstance(exc, FileNotFoundError) else exc.strerror
            hint = _near_name(written, path) if isinstance(exc, FileNotFoundError) else ""
            unusable("F130", f"cannot read {written!r} ({path}): {reason}{hint}")
            return None
        if not inside:
            unusable("F138", f"{written!r} is outside the flow's folder {self.root.name}/")
            return None
        self.result.files.append(path)  # read: what `serve --watch` watches
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            unusable("F130", f"{written!r} is not UTF-8 text (byte {exc.start})")
            return None
        part, problems = read_document(text, path, kind=kind)
        for problem in problems:  # a YAML error: say where the file was included from
            self.result.diagnostics.append(
                Diagnostic.at(
                    Location(problem.file, problem.line, problem.col),
                    problem.code,
                    f"{problem.message} ({'called' if kind == 'sub-flow' else kind} at {location})",
                )
            )
        if part is not None:
            self.result.digests.append(part.digest)
        return part

    # --- include -------------------------------------------------------------------------

    def includes(
        self, doc: Document, chain: tuple[str, ...], seen: dict[str, Location] | None = None
    ) -> None:
        """Merge the files ``doc`` includes into it; ``chain`` holds the including files,
        ``seen`` where each file was first included (one file is merged once per flow or
        sub-flow, however many of its files include it)."""
        written = doc.data.get("include") if isinstance(doc.data, dict) else None
        if not isinstance(written, list):
            return
        seen = {} if seen is None else seen
        for i, item in enumerate(written):
            if not isinstance(item, str) or not item:
                continue
            at: Path = ("include", i)
            path = part_path(doc.file_of(at), item)
            if path in chain:
                cycle = " -> ".join((*chain[chain.index(path) :], path))
                self.report(doc.locate(at), "F131", f"include cycle: {cycle}")
                continue
            if path in seen:
                message = f"{item!r} is already included at {seen[path]}; it is merged once"
                self.report(doc.locate(at), "F144", message)
                continue
            seen[path] = doc.locate(at)
            part = self.read(doc, at, item, "included")
            problems = check_part_schema(part, "states") if part is not None else []
            self.result.diagnostics.extend(problems)
            if part is None or problems or not isinstance(part.data, dict):
                self.result.incomplete = True
                continue
            self.includes(part, (*chain, path), seen)
            self.merge(doc, part)

    def merge(self, doc: Document, part: Document) -> None:
        # each state's (or command's) positions, found in one pass over the part's tables
        by_entry: dict[Path, list[tuple[dict[Path, Any], Path, Any]]] = {}
        for source, target in ((part.values, doc.values), (part.keys, doc.keys)):
            for p, v in source.items():
                by_entry.setdefault(p[:2], []).append((target, p, v))
        sources: dict[Path, list[tuple[Path, str]]] = {}
        for p, f in part.sources.items():
            sources.setdefault(p[:2], []).append((p, f))
        for section in _SECTIONS:
            for name, value in part.data.get(section, {}).items():
                here: Any = doc.data.setdefault(section, {})
                if not isinstance(here, dict):
                    return
                key: Path = (section, name)
                if name in here:
                    first = doc.locate(key, key=True)
                    what = section.removesuffix("s")
                    message = f"{what} {name!r} is defined twice: first at {first}"
                    self.report(part.locate(key, key=True), "F132", message)
                    continue
                here[name] = value
                for target, p, v in by_entry.get(key, ()):
                    target[p] = v
                doc.sources[key] = part.file
                doc.sources.update(sources.get(key, ()))

    # --- call --------------------------------------------------------------------------

    def calls(self, doc: Document, chain: tuple[str, ...]) -> None:
        """Read the sub-flows ``doc`` calls (``chain``: the sub-flows calling it)."""
        for at, written in _calls(doc.data, ()):
            path = part_path(doc.file_of(at), written)
            if path in chain:
                cycle = " -> ".join((*chain[chain.index(path) :], path))
                self.report(doc.locate(at), "F136", f"a sub-flow calls itself: {cycle}")
                continue
            if path in self.result.subflows:
                if path in self.unusable:  # every call of a file that cannot be read says so
                    self.report(doc.locate(at), *self.unusable[path])
                continue
            self.result.subflows[path] = None
            part = self.read(doc, at, written, "sub-flow")
            if part is None:
                continue
            if not isinstance(part.data, dict) or "subflow" not in part.data:
                message = f"{written!r} is not a sub-flow: its file has no `subflow:` name"
                self.report(doc.locate(at), "F133", message)
                continue
            problems = check_part_schema(part, "subflow")
            self.result.diagnostics.extend(problems)
            if problems:
                continue
            self.includes(part, (path,))
            name = part.data["subflow"]
            other = self.caller_of.get(name)
            if other is not None:
                message = f"sub-flow name {name!r} is taken by {other}: rename one of them"
                self.report(part.locate(("subflow",)), "F133", message)
                continue
            self.called[path] = name
            self.caller_of.setdefault(name, path)
            self.result.subflows[path] = part
            self.calls(part, (*chain, path))


def _calls(node: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Every ``call``'s ``flow`` in the document data under ``path``, with its path."""
    if isinstance(node, dict):
        call = node.get("call")
        if isinstance(call, dict) and isinstance(call.get("flow"), str) and call["flow"]:
            yield (*path, "call", "flow"), call["flow"]
        for key, value in node.items():
            if (key in ("states", "commands") or path) and key not in _DATA_KEYS:
                yield from _calls(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _calls(value, (*path, i))


def _near_name(written: str, path: str) -> str:
    """``; did you mean 'lib/desk.states.yaml'?`` for a misspelt file name ``written``."""
    folder = FilePath(path).parent
    try:
        names = [p.name for p in folder.iterdir() if p.is_file()]
    except OSError:
        return ""
    close = difflib.get_close_matches(FilePath(path).name, names, n=1)
    return (
        f"; did you mean {posixpath.join(posixpath.dirname(written), close[0])!r}?" if close else ""
    )

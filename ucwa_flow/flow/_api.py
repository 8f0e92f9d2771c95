"""The public entry point: :func:`load_flow` runs the whole pipeline on one file.

    YAML (``_loader``) -> schema (``_schema``) -> model (``_builder``) -> checks (``_checks``)

The schema needs a document, so a YAML error stops the load. Schema errors do not stop the
later stages: the builder trusts the schema, so it then runs on a copy of the document with
the invalid parts cut out (``_pruning``), and only the F problems that cannot be artefacts
of the cut are reported; a misspelt key and a goto to a missing state come out in one run.
Compile errors of the builder do not stop the checks, so a bad regex and a goto to a
missing state are reported together.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ucwa_flow.errors import UcwaFlowError, UnreadableFileError
from ucwa_flow.flow._diagnostics import Diagnostic, Location
from ucwa_flow.flow._missing import no_such_file
from ucwa_flow.flow._model import Flow

if TYPE_CHECKING:
    from ucwa_flow.flow._loader import Document
    from ucwa_flow.flow._parts import Parts

__all__ = [
    "PART_SUFFIXES",
    "FlowFileError",
    "FlowInvalid",
    "LoadResult",
    "load_flow",
    "load_flow_text",
    "resolve_flow_path",
]


#: files that are parts of flows, not flows: a sub-flow, a file of states to include
PART_SUFFIXES = (".subflow.yaml", ".states.yaml")
#: a conversation test script (docs/testing.md), never a flow
TEST_SUFFIX = ".test.yaml"


class FlowFileError(UnreadableFileError):
    """A flow file that cannot be read at all (missing, a directory, no permission)."""


class FlowInvalid(UcwaFlowError):
    """A flow with errors, raised by :meth:`LoadResult.raise_for_errors`.

    The message is the first error and a count of the others; ``diagnostics`` has all.
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        errors = [d for d in diagnostics if d.is_error]
        more = f" (and {len(errors) - 1} more; run `ucwa-flow validate`)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}" if errors else "the flow is invalid")
        self.diagnostics = diagnostics


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What :func:`load_flow` found: the flow (``None`` when there is any error) and every
    diagnostic, errors and warnings, sorted by position."""

    flow: Flow | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return self.flow is not None

    def raise_for_errors(self) -> Flow:
        """The flow, or :class:`FlowInvalid` when there are errors."""
        if self.flow is None:
            raise FlowInvalid(self.diagnostics)
        return self.flow


def resolve_flow_path(path: str | os.PathLike[str]) -> Path:
    """``X.yaml`` means ``X.flow.yaml`` when the former does not exist but the latter does."""
    candidate = Path(path)
    if not _exists(candidate) and candidate.suffix in (".yaml", ".yml"):
        alternative = candidate.with_suffix(".flow" + candidate.suffix)
        if _exists(alternative):
            return alternative
    return candidate


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; one that cannot even be looked at (a folder on the way
    not searchable) counts as there, for its reader to say why it cannot be read."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def load_flow(path: str | os.PathLike[str]) -> LoadResult:
    """Load, validate, compile and check the flow file at ``path``.

    Problems in the flow are diagnostics in the result; a file that cannot be read raises
    :class:`FlowFileError` (one clear line, for exit status 2 in the CLI). A part of a
    flow (:data:`PART_SUFFIXES`) is checked as such: its result has no flow, only the
    problems found in it (a sub-flow fully, as a call with its parameters would run it;
    an included file for YAML and schema, since its gotos name states of its includers).
    A test script (``*.test.yaml``) raises :class:`FlowFileError` too: it is no flow.
    """
    resolved = resolve_flow_path(path)
    display = str(resolved)
    try:
        raw = resolved.read_bytes()
    except FileNotFoundError:
        raise FlowFileError(no_such_file(path, "flow file")) from None
    except IsADirectoryError:
        raise FlowFileError(f"{path}: is a directory, not a flow file") from None
    except OSError as exc:
        raise FlowFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if display.endswith(TEST_SUFFIX):  # its keys would be a screenful of S errors
        raise FlowFileError(
            f"{path}: is a test script ({TEST_SUFFIX}), not a flow: give the flow it tests "
            "(the script's `flow:`)"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        from ucwa_flow.flow._loader import not_utf8

        return LoadResult(None, [not_utf8(exc, display)])
    if display.endswith(PART_SUFFIXES):
        return LoadResult(None, _part_diagnostics(text, display))
    return load_flow_text(text, display)


def load_flow_text(text: str, file: str = "<flow>") -> LoadResult:
    """Like :func:`load_flow`, for flow text already in memory; ``file`` names it in messages.

    The files it includes and the sub-flows it calls are read relative to ``file``'s
    folder (the current directory for a ``file`` with none), which they must not leave.
    """
    from ucwa_flow.flow._builder import build_flow
    from ucwa_flow.flow._checks import run_checks
    from ucwa_flow.flow._loader import read_document
    from ucwa_flow.flow._parts import INCLUDED_NAMES, assemble
    from ucwa_flow.flow._schema import check_schema

    document, diagnostics = read_document(text, file)
    parts = None
    if document is not None:
        parts = assemble(document, Path(file).parent)
        diagnostics = check_schema(document)
    flow = None
    if document is not None and not diagnostics:
        flow, diagnostics = build_flow(document, parts)
        diagnostics = diagnostics + run_checks(flow, document)
    elif document is not None:
        diagnostics = diagnostics + _pruned_checks(document, parts)
    if parts is not None:
        if parts.incomplete:  # what the file left out defines may be "missing"
            diagnostics = [d for d in diagnostics if d.code not in INCLUDED_NAMES]
        diagnostics = diagnostics + parts.diagnostics
    # in the order they were found where the sort key ties (a set's order is the hash seed's)
    diagnostics = sorted(dict.fromkeys(diagnostics), key=Diagnostic.sort_key)
    has_errors = any(d.is_error for d in diagnostics)
    return LoadResult(None if has_errors else flow, diagnostics)


def _pruned_checks(document: Document, parts: Parts | None) -> list[Diagnostic]:
    """The F problems of a document with schema errors, found on its valid parts."""
    from ucwa_flow.flow._builder import build_flow
    from ucwa_flow.flow._checks import run_checks
    from ucwa_flow.flow._pruning import prune

    pruning = prune(document)
    if pruning is None:
        return []
    flow, found = build_flow(pruning.document, parts)
    found = found + run_checks(flow, pruning.document)
    return [d for d in found if pruning.keeps(d)]


def _part_diagnostics(text: str, file: str) -> list[Diagnostic]:
    """The problems of a sub-flow or an included file, checked on its own."""
    from ucwa_flow.flow._loader import read_document
    from ucwa_flow.flow._schema import check_part_schema

    if file.endswith(".states.yaml"):
        document, diagnostics = read_document(text, file, kind="included")
        return diagnostics if document is None else check_part_schema(document, "states")
    # A sub-flow is checked as the one sub-flow of a flow that only calls it; what is
    # reported of the made-up caller (its call's parameters, say) is left out.
    caller = str(Path(file).parent / "(caller).flow.yaml")
    call = {"call": {"flow": Path(file).name}}
    text = json.dumps(
        {"version": 1, "name": "check", "start": "c", "states": {"c": {"enter": [call]}}}
    )
    found = load_flow_text(text, caller).diagnostics
    mine = [_without_call_site(d, caller) for d in found if d.file != caller]
    if any(d.file == caller and d.code == "F133" for d in found):  # no `subflow:` name
        message = (
            "this file has no `subflow:` name: give it `subflow: <name>`, or rename it "
            "*.flow.yaml if it is a flow"
        )
        mine.append(Diagnostic.at(Location(file, 1, 1), "F133", message))
    return sorted(mine, key=Diagnostic.sort_key)


def _without_call_site(diagnostic: Diagnostic, caller: str) -> Diagnostic:
    """``diagnostic`` without the "(called at ...)" of the made-up caller: a message
    names real places or none."""
    site = f" (called at {caller}:"
    at = diagnostic.message.find(site)
    if at < 0:
        return diagnostic
    return replace(diagnostic, message=diagnostic.message[:at])

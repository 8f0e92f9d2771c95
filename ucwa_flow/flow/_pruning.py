"""Leaving the schema-invalid parts out of a document, so the F checks can run anyway.

The builder trusts the schema: it may only see a schema-valid document. When the schema
stage finds errors, :func:`prune` builds a copy of the document without the parts those
errors point at, each cut back to its nearest enclosing *unit*: an item of an action,
handler, ladder, timeout or invitation-rule list, a named command or variable, a name
of ``secrets``, or a whole state (kept as an empty state, so that its name still exists
for ``goto`` and ``start``). A required top-level value that is wrong (``name``,
``version``, ``start``) is replaced by a harmless placeholder. The copy keeps the source
position of every node it keeps, so diagnostics on it point into the original file.
Cutting can leave a new violation (an emptied list that must not be empty); the copy is
checked again and cut further, a few rounds at most. When no valid copy can be made
(``states`` itself is wrong), :func:`prune` returns ``None`` and only the schema errors
are reported.

A pruned flow lacks things the author wrote, so some F rules could fire only because of
the cut. :meth:`Pruning.keeps` drops those: every F diagnostic it keeps is one the same
file would report once its schema errors are fixed. When in doubt, it drops.

jsonschema is already imported by the schema stage; nothing here runs for a valid flow.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ucwa_flow.flow._diagnostics import Diagnostic
from ucwa_flow.flow._loader import Document, Path
from ucwa_flow.flow._parts import INCLUDED_NAMES

__all__ = ["Pruning", "prune"]

MAX_ROUNDS = 8

#: keys whose value is a list of units (actions, handlers, ladder steps, timeouts, rules)
_UNIT_LISTS = frozenset(
    {
        "enter",
        "ended",
        "delivery_failed",
        "messages",
        "no_match",
        "timeouts",
        "do",
        "then",
        "else",
        "accepted",
        "declined",
        "no_answer",
        "connected",
        "agent_left",
        "success",
        "failure",
        "rules",
    }
)
_REQUIRED = ("version", "name", "start", "states")
#: F rules whose verdict depends on the whole graph of gotos, stops and timeouts
_GRAPH_RULES = frozenset({"F103", "F104", "F141"})
#: top-level sections whose loss cannot change the graph
_OFF_GRAPH = frozenset({"name", "version", "description", "variables", "secrets", "outbound"})
#: keys that define variables (or, misspelt, would once fixed)
_ASSIGNING = ("set", "result", "match", "variables")


class _GiveUp(Exception):
    """No schema-valid copy can be made of this document."""


_DELETE = object()


@dataclass(slots=True)
class Pruning:
    """A schema-valid copy of a document and what was cut from the original to make it.

    ``document`` is the copy, for the builder and the checks; ``cuts`` maps each cut
    path of the original document to what replaced it (a placeholder, an empty state) or
    to nothing (deleted).
    """

    original: Document
    document: Document
    cuts: dict[Path, Any] = field(default_factory=dict)
    _starts: dict[tuple[int, int], list[Path]] | None = field(default=None, repr=False)

    def keeps(self, diagnostic: Diagnostic) -> bool:
        """Whether ``diagnostic`` (of the pruned flow) would stand in the repaired file."""
        code = diagnostic.code
        if code in INCLUDED_NAMES and any(
            path and _near(str(path[0]), ("include",)) for path in self.cuts
        ):
            return False  # a cut (misspelt) include may define what seems missing
        if code in _GRAPH_RULES:
            return all(path[0] in _OFF_GRAPH for path in self.cuts)
        if code in ("F142", "F143"):  # a cut setting may have been the default language
            return not any(path and _near(str(path[0]), ("settings",)) for path in self.cuts)
        if code in ("F106", "F121"):  # unset variable, secret naming none: a cut may set it
            return not any(self._could_assign(path) for path in self.cuts)
        if code == "F125":  # the global command it switches off may have been cut
            names = {path[-1] for path in self._paths_at(diagnostic)}
            return not any(
                path in (("commands",), *(("commands", n) for n in names)) for path in self.cuts
            )
        if code in ("F161", "F162", "F163", "F164"):  # a cut may have declared the campaign
            return not any(path and _near(str(path[0]), ("outbound",)) for path in self.cuts)
        paths = list(self._paths_at(diagnostic))
        if code in ("F116", "F118"):
            # A step or action cut from the same list would change the verdict or its place.
            lists = {path[:-1] for path in self.cuts if path and isinstance(path[-1], int)}
            return not any(
                path[:end] in lists
                for path in paths
                for end in range(len(path))
                if isinstance(path[end], int)
            )
        if code in ("F108", "F119"):
            # A cut handler or command could be the catch-all, or be shadowed itself.
            if any(path[:1] == ("commands",) for path in self.cuts):
                return False
            states = {path[:2] for path in paths if len(path) > 1 and path[0] == "states"}
            return not any(path[:2] in states for path in self.cuts)
        return True

    def _paths_at(self, diagnostic: Diagnostic) -> Iterator[Path]:
        """The original paths whose node or key starts where ``diagnostic`` points."""
        if self._starts is None:
            self._starts = {}
            for table in (self.original.values, self.original.keys):
                for path, start in table.items():
                    self._starts.setdefault(start, []).append(path)
        yield from self._starts.get((diagnostic.line, diagnostic.col), [])

    def _could_assign(self, path: Path) -> bool:
        """Whether the cut at ``path`` may have held (or, repaired, hold) a variable."""
        if path[:1] == ("variables",):
            return True
        node = _node(self.original.data, path)
        names = [str(path[-1])] if path else []
        return any(_near_assigning(name) for name in names) or _assigns(node)


def prune(document: Document) -> Pruning | None:
    """A schema-valid copy of ``document`` with its invalid parts cut, or ``None``."""
    validator = _validator()
    cuts: dict[Path, Any] = {}
    try:
        for _ in range(MAX_ROUNDS):
            copy, origin = _copy(document, cuts)
            errors = list(validator.iter_errors(copy.data))
            if not errors:
                return Pruning(document, copy, cuts)
            progress = False
            for error in errors:
                path = origin.get(tuple(error.absolute_path))
                if path is None:
                    raise _GiveUp
                for cut, replacement in _cuts_for(error, path, document):
                    if not any(cut[:end] in cuts for end in range(len(cut) + 1)):
                        cuts[cut] = replacement
                        progress = True
            if not progress:
                return None
    except _GiveUp:
        return None
    return None


# --- choosing the cuts ---------------------------------------------------------------


def _cuts_for(error: Any, path: Path, document: Document) -> Iterator[tuple[Path, Any]]:
    """The cuts that remove ``error`` (at original ``path``) with its enclosing unit."""
    if path:
        yield _unit_cut(_unit(path), document)
        return
    # The root mapping itself: unknown keys go, missing required ones get placeholders.
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        for key in error.instance:
            if key not in known:
                yield (key,), _DELETE
    elif error.validator == "required" and isinstance(error.instance, dict):
        for key in error.validator_value:
            if key not in error.instance:
                yield _unit_cut((key,), document)
    else:
        raise _GiveUp


def _unit(path: Path) -> Path:
    """The nearest enclosing unit of ``path``: what is cut for an error there."""
    for end in range(len(path), 0, -1):
        if _is_unit(path[:end]):
            return path[:end]
    return path[:1]


def _is_unit(path: Path) -> bool:
    if len(path) > 1 and isinstance(path[-1], int) and path[0] not in ("variables", "secrets"):
        return isinstance(path[-2], int) or path[-2] in _UNIT_LISTS  # a list item
    if len(path) == 2:
        return path[0] in ("states", "commands", "variables", "secrets")  # an entry or a name
    return len(path) == 4 and path[0] == "states" and path[2] == "commands"


def _unit_cut(unit: Path, document: Document) -> tuple[Path, Any]:
    """What replaces ``unit``: an empty state, a placeholder, or nothing."""
    if len(unit) == 2 and unit[0] == "states":
        return unit, {}
    if unit == ("states",):
        raise _GiveUp
    if unit == ("start",):
        states = document.data.get("states") if isinstance(document.data, dict) else None
        if not isinstance(states, dict) or not states:
            raise _GiveUp
        return unit, next(iter(states))
    if unit == ("name",):
        return unit, "flow"
    if unit == ("version",):
        return unit, 1
    return unit, _DELETE


# --- the copy ------------------------------------------------------------------------


def _copy(document: Document, cuts: dict[Path, Any]) -> tuple[Document, dict[Path, Path]]:
    """``document`` with ``cuts`` applied, and each kept path's original path."""
    copy = Document(document.file, None, digest=document.digest, sources=document.sources)
    origin: dict[Path, Path] = {}

    def place(old: Path, new: Path) -> None:
        origin[new] = old
        if old in document.values:
            copy.values[new] = document.values[old]
        if old in document.keys:
            copy.keys[new] = document.keys[old]

    def walk(node: Any, old: Path, new: Path) -> Any:
        place(old, new)
        if old in cuts:
            return cuts[old]
        if isinstance(node, dict):
            kept: dict[str, Any] = {}
            for key, value in node.items():
                if cuts.get((*old, key)) is not _DELETE:
                    kept[key] = walk(value, (*old, key), (*new, key))
            if not old:
                for key in _REQUIRED:
                    if key not in kept and (key,) in cuts:
                        kept[key] = cuts[(key,)]
            return kept
        if isinstance(node, list):
            items: list[Any] = []
            for index, value in enumerate(node):
                if cuts.get((*old, index)) is not _DELETE:
                    items.append(walk(value, (*old, index), (*new, len(items))))
            return items
        return node

    copy.data = walk(document.data, (), ())
    return copy, origin


def _node(data: Any, path: Path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None  # a required key that was missing, now a placeholder
    return data


def _near(key: str, names: tuple[str, ...]) -> bool:
    """``key`` is one of ``names``, or may be once repaired (``settingsx``)."""
    return bool(difflib.get_close_matches(key, names, n=1, cutoff=0.6))


def _near_assigning(key: str) -> bool:
    return bool(difflib.get_close_matches(key, _ASSIGNING, n=1, cutoff=0.6))


def _assigns(node: Any) -> bool:
    """Whether ``node`` holds a key that defines variables, or a named regex group."""
    if isinstance(node, dict):
        return any(_near_assigning(str(k)) or _assigns(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_assigns(item) for item in node)
    return isinstance(node, str) and ("(?P<" in node or "(?<" in node)


_VALIDATOR: Any = None


def _validator() -> Any:
    """The flow schema's validator (plain, not the schema stage's tuned one)."""
    global _VALIDATOR
    if _VALIDATOR is None:
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

        from ucwa_flow.flow._schema import schema

        _VALIDATOR = Draft202012Validator(schema())
    return _VALIDATOR

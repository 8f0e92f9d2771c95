"""``${NAME}`` substitution in the string values of a deployment file.

``${NAME}`` is the value of the environment variable ``NAME`` (letters, digits and ``_``,
not starting with a digit); ``${NAME:-default}`` is ``default`` when ``NAME`` is unset or
empty; ``$${`` writes a literal ``${``. A ``$`` not followed by ``{`` is left alone. Only
string values are substituted, never mapping keys, and the result is a string; a value
that is one substitution and nothing else (``max_conversations: ${MAX:-500}``) is noted in
:attr:`Substitution.whole`, so that the schema's check may read it as the number or
boolean the schema wants there (:func:`~ucwa_flow.deploy._schema.typed`).

An unset variable without a default is ``D101`` and anything else after ``${`` is
``D102``, both at the ``${`` itself: the position is found in the file's text by
searching for the reference from where its value starts (the value's own start when the
text was written with escapes that hide it). The value then stays as written.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ucwa_flow.deploy._errors import problem
from ucwa_flow.flow import Diagnostic, Location
from ucwa_flow.flow._loader import Document, Path

__all__ = ["Substitution", "substitute"]

#: ``$${`` (an escape), a well-formed ``${NAME}`` / ``${NAME:-default}``, or a bad ``${``
_TOKEN = re.compile(
    r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$\{(?P<bad>[^}]*\}?)"
)


@dataclass
class Substitution:
    """What :func:`substitute` found: the problems, and the paths of the values that kept
    their text because of one (later checks skip them, so a value is reported once), and
    those that were one substitution and nothing else."""

    problems: list[Diagnostic] = field(default_factory=list)
    failed: set[Path] = field(default_factory=set)
    #: the values that were one substitution and nothing else, substituted
    whole: set[Path] = field(default_factory=set)


def substitute(doc: Document, text: str, environ: Mapping[str, str]) -> Substitution:
    """Replace ``${...}`` in every string value of ``doc.data``, in place."""
    found = Substitution()
    lines = _line_starts(text)
    doc.data = _walk(doc.data, (), doc, text, lines, environ, found)
    return found


def _walk(
    node: Any,
    path: Path,
    doc: Document,
    text: str,
    lines: list[int],
    environ: Mapping[str, str],
    found: Substitution,
) -> Any:
    if isinstance(node, dict):
        return {k: _walk(v, (*path, k), doc, text, lines, environ, found) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, (*path, i), doc, text, lines, environ, found) for i, v in enumerate(node)]
    if not isinstance(node, str) or "$" not in node:
        return node
    problems: list[tuple[str, str, str]] = []  # (what to look for in the text, code, message)

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            shown = whole if whole.endswith("}") else whole + "..."
            message = f"{shown!r} is not a substitution: write ${{NAME}} or ${{NAME:-default}}"
            if not whole.endswith("}"):
                message += " (the closing } is missing)"
            message += ", or $${ for a literal ${"
            problems.append((whole, "D102", message))
            return whole
        value = environ.get(name)
        default = match.group("default")
        if default is not None and not value:
            return default
        if value is None:
            message = f"environment variable {name} is not set (give a default: ${{{name}:-...}})"
            problems.append((whole, "D101", message))
            return whole
        return value

    result = _TOKEN.sub(replace, node)
    if not problems:
        whole = _TOKEN.fullmatch(node)
        if whole is not None and whole.group("name") is not None:
            found.whole.add(path)
        return result
    start = doc.locate(path)
    offset = _offset(lines, start.line, start.col)
    window_end = offset + 4 * len(node) + 16
    for needle, code, message in problems:
        at = text.find(needle, offset, window_end)
        location = start if at < 0 else _location(doc.file, lines, at)
        offset = at + len(needle) if at >= 0 else offset
        found.problems.append(problem(location, code, message))
    found.failed.add(path)
    return node


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _offset(lines: list[int], line: int, col: int) -> int:
    return lines[min(line, len(lines)) - 1] + col - 1


def _location(file: str, lines: list[int], offset: int) -> Location:
    line = bisect.bisect_right(lines, offset) - 1
    return Location(file, line + 1, offset - lines[line] + 1)

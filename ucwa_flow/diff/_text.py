"""The text report of a :class:`FlowDiff`: flow-wide changes, then one block per state.

Stable order (the diff's own), two-space indents, ``+`` for added lines, ``-`` for
removed ones, nothing else decorated, so it reads in a terminal and in a CI log alike.
A control character in a name (a state called ``"two\\nlines"`` or one holding an escape
sequence) is written as its escape (``\\n``, ``\\u001b``), as texts are: it would break
the report's lines or drive the terminal.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from ucwa_flow.diff._model import Change, FlowDiff, StateDiff

__all__ = ["format_change", "format_text", "state_lines"]

_SECTIONS = {
    "enter": "enter actions",
    "message": "message",
    "command": "command",
    "timeout": "timeout",
    "no_match": "no-match",
    "ended": "caller left",
    "delivery_failed": "delivery failed",
    "flow": "flow",
    "settings": "setting",
    "variables": "variable",
    "commands": "global command",
    "invitation": "invitation",
    "outbound": "outbound",
}


def format_text(diff: FlowDiff) -> str:
    """The whole report; ``no differences`` when the flows are the same."""
    if not diff.has_differences:
        return _printable(f"{diff.new_name}: no differences") + "\n"
    lines: list[str] = []
    if diff.flow:
        lines.append("flow:")
        for change in diff.flow:
            lines.extend("  " + line for line in format_change(change))
    for state in diff.changed_states:
        lines.append(_state_heading(state))
        lines.extend("  " + line for line in state_lines(state))
    return "\n".join(_printable(line) for line in lines) + "\n"


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _printable(line: str) -> str:
    return _CONTROL.sub(lambda m: _ESCAPES.get(m[0]) or f"\\u{ord(m[0]):04x}", line)


def state_lines(state: StateDiff) -> list[str]:
    """The lines under a state's heading: an added or removed state's whole content,
    else each change of a changed or renamed state."""
    lines: list[str] = []
    for change in state.changes:
        if state.status in ("added", "removed"):
            lines.extend(_content(change))
        else:
            lines.extend(format_change(change))
    return lines


def _content(change: Change) -> list[str]:
    """A part of an added or removed state: its heading and its lines, marked."""
    marker = "+" if change.status == "added" else "-"
    return [
        f"{marker} {_what(change)}:",
        *(f"{marker}   {line}" for line in change.new or change.old),
    ]


def _what(change: Change) -> str:
    if change.section in ("enter", "ended", "delivery_failed"):
        return _SECTIONS[change.section]
    return f"{_SECTIONS.get(change.section, change.section)} {change.key}".strip()


def _state_heading(state: StateDiff) -> str:
    if state.status == "renamed":
        percent = round((state.similarity or 0) * 100)
        return f"state {state.name}: renamed from {state.old_name} ({percent}% similar)"
    return f"state {state.name}: {state.status}"


def format_change(change: Change) -> list[str]:
    """A change as lines: a heading, then its lines with ``+``/``-`` where they differ."""
    what = _what(change)
    if change.status != "changed":
        lines = [f"{what}: {change.status}"]
        marker = "+" if change.status == "added" else "-"
        lines.extend(f"  {marker} {line}" for line in (change.new or change.old))
        return lines
    if len(change.old) == 1 and len(change.new) == 1 and change.section not in _SECTIONS_STATE:
        return [f"{what}: {change.old[0]} -> {change.new[0]}"]
    lines = [f"{what}: {', '.join(change.aspects)} changed"]
    if change.aspects == ("order",):
        lines = ["message handlers: tried in another order"]
    matcher = SequenceMatcher(a=change.old, b=change.new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            lines.extend(f"    {line}" for line in change.old[i1:i2])
            continue
        lines.extend(f"  - {line}" for line in change.old[i1:i2])
        lines.extend(f"  + {line}" for line in change.new[j1:j2])
    return lines


_SECTIONS_STATE = ("enter", "message", "command", "timeout", "no_match", "ended", "delivery_failed")

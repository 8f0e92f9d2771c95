"""How times and conversations are shown to people: in transcripts, the review pages, the
live feed and replay reports, so that they all read the same; and what a caller wrote as
a terminal may show it (:func:`printable`)."""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["c1_escaped", "iso", "printable", "short_id"]

#: C0 and C1 control characters (ESC starts a terminal's escape sequences, 0x9b is CSI in
#: terminals that take 8-bit controls) and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r"}
#: what ``json.dumps(..., ensure_ascii=False)`` leaves raw and a terminal may obey
_C1 = re.compile("[\x7f-\x9f\u2028\u2029]")


def iso(at: float) -> str:
    """Epoch seconds as ISO-8601 UTC with milliseconds: ``2026-12-01T12:00:00.123Z``."""
    moment = dt.datetime.fromtimestamp(at, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def short_id(href: str) -> str:
    """The short id of a conversation: the last part of its href."""
    return href.rstrip("/").rpartition("/")[2] or href


def printable(text: str, *, newlines: bool = False) -> str:
    """``text`` safe to print to a terminal: each control character but tab (and newline
    with ``newlines``) written as its escape (``\\r``, ``\\u001b``). A caller's message can
    hold escape sequences that would set the window title, clear the screen, hide lines or
    write the clipboard of whoever reads the transcript; a carriage return could overwrite
    a line with another."""

    def escape(found: re.Match[str]) -> str:
        char = found[0]
        if char == "\t" or (newlines and char == "\n"):
            return char
        return _ESCAPES.get(char) or f"\\u{ord(char):04x}"

    return _CONTROL.sub(escape, text)


def c1_escaped(json_text: str) -> str:
    """``json_text`` (from ``json.dumps(..., ensure_ascii=False)``, which keeps non-ASCII
    text as it is) with the C1 controls and the line and paragraph separators it leaves raw
    written as ``\\u`` escapes: ``\\u009b`` is CSI, as ESC ``[``, to a terminal. The
    JSON decodes to the same values."""
    return _C1.sub(lambda found: f"\\u{ord(found[0]):04x}", json_text)

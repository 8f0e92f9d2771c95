"""What a YAML syntax error means for the author of a flow, in words they can act on.

ruamel.yaml explains its errors in parser terms ("found character '\\t' that cannot start
any token", "expected <block end>, but found '<scalar>'"). The mistakes behind them are
few and well known: a tab, a text that starts with a character YAML reserves, text after
a closing quote, a line indented wrongly. :func:`hint` names the mistake and the fix; the
parser's own words follow it in brackets, for the rare reader who wants them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TEMPLATE_KEY", "hint"]

#: the message of an unquoted template (``say: {{ name }}``), which YAML reads as a mapping
TEMPLATE_KEY = (
    "a text that starts with '{{' must be quoted: unquoted, YAML reads {{ ... }} as a "
    "mapping; put the whole text in double quotes"
)

_PREFIXES = {
    "expected <block end>": "bad indentation: this line does not line up with the ones above",
    "could not find expected ':'": "a line is missing its ':' or is indented wrongly",
    "mapping values are not allowed here": "unexpected ':' (quote texts that contain ': ')",
    "expected ',' or '}', but got ':'": "unexpected ':' (quote texts that contain ': ')",
    "expected '<document start>'": "text after the end of the YAML document",
}

#: characters that cannot start a plain (unquoted) text
_RESERVED = "@`%"


def hint(problem: str, context: str, mark: Any) -> str | None:
    """A sentence naming the author's mistake behind ``problem``, or ``None``."""
    if problem.startswith("found character '\\t'"):
        return "a tab character: YAML indents and separates with spaces only; use spaces"
    for reserved in _RESERVED:
        if problem.startswith(f"found character '{reserved}' that cannot start any token"):
            return f"a text cannot start with '{reserved}' in YAML: quote it"
    if problem.startswith("found unknown escape character"):
        return "in double quotes a backslash starts a YAML escape: write a regex in single quotes"
    if problem.startswith("found unexpected end of stream") and "quoted scalar" in context:
        return "a quoted text is never closed: add its closing quote"
    if problem.endswith("but got '<stream end>'") and "flow " in context:
        opened = "[" if "sequence" in context else "{"
        return f"a '{opened}' is never closed: add its '{']' if opened == '[' else '}'}'"
    if "scanning an alias" in context:
        return "'*' starts a YAML alias: quote a text that starts with '*'"
    if problem.startswith("expected <block end>, but found '<scalar>'") and _after_quote(mark):
        return (
            "text after a closing quote: a quoted text ends at its closing quote; "
            "quote the whole text"
        )
    return next((text for start, text in _PREFIXES.items() if problem.startswith(start)), None)


def _after_quote(mark: Any) -> bool:
    """Whether the text before ``mark`` on its line ends with a closing quote."""
    buffer, pointer = getattr(mark, "buffer", None), getattr(mark, "pointer", None)
    if not isinstance(buffer, str) or not isinstance(pointer, int):
        return False
    before = buffer[:pointer].rstrip(" ")
    return before.endswith(("'", '"')) and "\n" not in buffer[len(before) : pointer]

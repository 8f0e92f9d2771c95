"""F123: a webhook ``url`` that puts a value into its path or query without ``urlencode``.

Values are put into a webhook's URL as they are (``docs/flow-language.md``, "webhook"):
``https://crm.example/find?name={{ message }}`` sends ``name=a b&c`` for the text
"a b&c", a wrong request, and lets the caller write the rest of the query. Such a URL
is a warning; ``{{ message | urlencode }}`` (or ``| int``, a number) is not. A value at
the very start of the URL (``{{ base_url }}/tickets``) is its scheme and host, not text
of the caller's, and neither is one in the host (``https://{{ tenant }}.example/...``):
only what comes after the host (its first ``/``, ``?`` or ``#``) counts.

The template's text is read as it is written, without Jinja2's parser: ``{{ ... }}``
blocks, and ``{% ... %}`` and ``{# ... #}`` ones that put no value in.
"""

from __future__ import annotations

import re
from enum import Enum

__all__ = ["unencoded"]

#: a ``{{ }}`` block (group 1: its expression), or a ``{% %}`` or ``{# #}`` one
_BLOCK = re.compile(r"\{\{(.*?)\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
#: a filter whose value is safe in a path or a query
_ENCODED = re.compile(r"\|\s*(?:urlencode|int)\b")
#: a name the expression reads (not a keyword Jinja2 reads as a constant)
_NAME = re.compile(r"""(?<![\w.'"])(?!(?:true|false|none|and|or|not|if|else|in|is)\b)[A-Za-z_]""")
_STRING = re.compile(r""""[^"]*"|'[^']*'""")


class _Part(Enum):
    START = "start"  # nothing written yet
    SCHEME = "scheme"  # text before "://"
    BASE = "base"  # after a value the URL starts with: its scheme and host
    HOST = "host"  # after "://", before the path
    REST = "rest"  # the path, the query, the fragment


def unencoded(source: str) -> list[str]:
    """The expressions (as written, ``{{ text }}``) that ``source``, a URL template, puts
    into its path or query without ``urlencode``, in order."""
    found: list[str] = []
    part = _Part.START
    at = 0
    for block in _BLOCK.finditer(source):
        part = _after(part, source[at : block.start()])
        at = block.end()
        expression = block.group(1)
        if expression is None:  # {% %} or {# #}: no value of its own
            continue
        if part is _Part.START:
            part = _Part.BASE
        elif part is _Part.REST and _reads_names(expression) and not _ENCODED.search(expression):
            found.append("{{ " + expression.strip(" \t\n-+") + " }}")
    return found


def _after(part: _Part, text: str) -> _Part:
    """Where the URL is after its literal ``text`` (written where ``part`` was)."""
    if not text:
        return part
    if part in (_Part.START, _Part.SCHEME, _Part.BASE):
        _, sep, rest = text.partition("://")
        if sep:
            return _after(_Part.HOST, rest)
        if part is _Part.BASE and any(c in text for c in "/?#"):
            return _Part.REST
        return _Part.BASE if part is _Part.BASE else _Part.SCHEME
    if part is _Part.HOST and any(c in text for c in "/?#"):
        return _Part.REST
    return part


def _reads_names(expression: str) -> bool:
    """Whether ``expression`` reads a variable (a text or number alone needs no encoding)."""
    return _NAME.search(_STRING.sub("", expression)) is not None

"""JSON from outside the bot, its nesting bounded: :func:`loads`.

``json.loads`` recurses, one level of Python's stack for each level of nesting: a text of
a few thousand ``[`` (a webhook's answer, a ``--var`` value, a line of a recording, the
body of an admin request) ends in a :class:`RecursionError`, which nothing expects, so a
command ends in a traceback and a server answers 500. A value nested less deep, but still
hundreds of levels, is read, and then fails the code that recurses over it later
(``copy.deepcopy`` of a conversation's variables when a durable bot commits, ``repr`` in
a log line), far from where it came in.

:func:`loads` reads JSON as ``json.loads`` does and refuses, with a :class:`TooDeep`
(a :class:`ValueError`, as what is not JSON), a text nested deeper than :data:`MAX_DEPTH`
levels, as deep as a flow's YAML may nest: no JSON the bot is given nests nearly as deep.
:func:`too_deep` tells the same of a value made otherwise (what a flow's ``set`` stores).

A lone surrogate (``"\\ud800"``, half of a UTF-16 pair: valid JSON, no text) is read as
U+FFFD, as a UTF-8 decoder reads bytes that are no text: no store encodes it (a webhook
answering one into a variable made every commit of a durable bot fail, and its account
stopped answering), nor does a UCWA server or a log file, and a caller's message is better
shown with one character replaced than refused, which for an event batch would be read
again and again.

Numbers must be finite too: ``json.loads`` reads ``NaN``, ``Infinity`` and a number too
large for a float (``1e400``) as ``nan`` and ``inf``, which no store writes (a webhook
answering ``{"total": 1e400}`` into a variable made every commit of a durable bot fail,
and its account stopped answering). :func:`loads` refuses them as what is not JSON (a
:class:`NotFinite`, a ``json.JSONDecodeError`` located at the number), and
:func:`not_data` refuses them in a value (``{{ message | float }}`` of a caller's ``nan``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "NotFinite", "TooDeep", "loads", "not_data", "too_deep"]

#: how deep JSON may nest (``[]`` and ``{}`` are one level, ``[[]]`` two)
MAX_DEPTH = 64
_NESTING = (dict, list, tuple)
_PLAIN = (str, int, float, bool, type(None))


class TooDeep(ValueError):
    """JSON nested deeper than the limit."""


#: the numbers no JSON holds (``nan`` is found as the one value unequal to itself)
_INFINITE = frozenset({math.inf, -math.inf})
#: a JSON text's strings (skipped) and the tokens a number or a constant is read from
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN|-?[0-9][0-9.eE+-]*)')


class NotFinite(json.JSONDecodeError):
    """JSON with ``NaN``, ``Infinity`` or a number too large for a float: none is a
    JSON number (``json.loads`` reads them as ``nan`` and ``inf``)."""


class _Refused(ValueError):
    def __init__(self, token: str) -> None:
        self.token = token


def _finite(text: str) -> float:
    number = float(text)
    if number in _INFINITE:
        raise _Refused(text)
    return number


def _constant(name: str) -> Any:
    raise _Refused(name)


#: the most digits an integer may have: Python writes none longer than 4,300 as a text (as
#: JSON), so a store refused one, which ``**`` and ``*`` of a template can make
MAX_DIGITS = 4000
_TOO_LARGE = 10**MAX_DIGITS

#: a code point of a UTF-16 surrogate: in a Python text, one that is not half of a pair
#: (``json.loads`` joins a pair written ``"\\ud83d\\ude00"``), which no UTF-8 encodes
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAY_HAVE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")

#: ``json.loads`` with finite numbers only, built once (``loads`` with arguments builds one
#: for each call); a float's text is read by Python only where the text has one
_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_constant)


def _not_finite(text: str, token: str) -> NotFinite:
    at = next((m.start(1) for m in _TOKENS.finditer(text) if m.group(1) == token), 0)
    what = "no JSON number" if token.lstrip("-")[:1].isalpha() else "too large a number"
    return NotFinite(f"{token[:40]} is {what}", text, at)


def loads(text: str | bytes, *, depth: int = MAX_DEPTH) -> Any:
    """The JSON ``text`` holds: :class:`ValueError` for what is not JSON, :class:`TooDeep`
    for JSON nested deeper than ``depth`` levels."""
    too_deep_text = f"JSON nested deeper than {depth} levels"
    if not isinstance(text, str):
        text = text.decode(json.detect_encoding(text), "surrogatepass")  # as json.loads
    try:
        data = _DECODER.decode(text)
    except RecursionError:
        raise TooDeep(too_deep_text) from None
    except _Refused as exc:
        raise _not_finite(text, exc.token) from None
    openers = text.count("[") + text.count("{")
    if openers > depth and too_deep(data, depth):  # else too few brackets: no walk
        raise TooDeep(too_deep_text)
    if _MAY_HAVE_SURROGATE.search(text) is not None:  # escaped, or raw (surrogatepass)
        return _mended(data)
    return data


def _mended(value: Any) -> Any:
    """``value`` with each lone surrogate of its texts (and keys) replaced by U+FFFD; nested
    :data:`MAX_DEPTH` levels at most (checked before)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_mended(k): _mended(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mended(item) for item in value]
    return value


def too_deep(value: Any, depth: int = MAX_DEPTH) -> bool:
    """Whether ``value`` (dicts, lists and tuples of other values) nests deeper than
    ``depth`` levels; walked a level at a time, with lists, not recursion (its depth is
    unknown), the containers only (half the time of a walk that looked at every value)."""
    if not isinstance(value, _NESTING):
        return False
    level = [value]
    for _ in range(depth):
        below: list[Any] = []
        for container in level:
            items = container.values() if isinstance(container, dict) else container
            below += [item for item in items if isinstance(item, _NESTING)]
        if not below:
            return False
        level = below
    return True


def not_data(value: Any, depth: int = MAX_DEPTH) -> str | None:
    """Why ``value`` is no JSON data a variable may hold (one line), or ``None``: nested
    deeper than ``depth`` levels, or holding something other than dicts, lists, tuples,
    text, finite numbers, booleans and ``None`` (a template's ``namespace()``,
    ``range(3)``, ``cycler(...)``: neither a store nor a copy takes it, and it ended the
    bot; ``nan``, ``inf``, a text with a lone surrogate, an integer too long to write: no
    store takes them). Walked as
    :func:`too_deep` walks, what is not plain going a level down to be looked at there."""
    if isinstance(value, _PLAIN):
        return None if _plain_data(value) else _not_json(value)
    level = [value]
    for _ in range(depth):
        below: list[Any] = []
        for container in level:
            if not isinstance(container, _NESTING):
                return _not_json(container)
            if isinstance(container, dict):
                items: Any = container.values()
                for key in container:  # a key is written as text: plain, or no store takes it
                    if not isinstance(key, _PLAIN) or not _plain_data(key):
                        return _not_json(key)
            else:
                items = container
            below += [
                item for item in items if not isinstance(item, _PLAIN) or not _plain_data(item)
            ]
        if not below:
            return None
        level = below
    return f"the value is nested too deeply (more than {depth} levels)"


def _plain_data(value: Any) -> bool:
    """Whether a plain value is data: a finite number, an integer with fewer than
    :data:`MAX_DIGITS` digits, a text with no lone surrogate."""
    if isinstance(value, str):
        return value.isascii() or _SURROGATE.search(value) is None
    if isinstance(value, int):
        return bool(-_TOO_LARGE < value < _TOO_LARGE)
    return value == value and value not in _INFINITE


#: how to store what is no JSON data, by its kind
_HOW = {
    "datetime": "text such as {{ now.isoformat() }}",
    "date": "text such as {{ now.date().isoformat() }}",
    "time": "text such as {{ now.strftime('%H:%M') }}",
}


def _not_json(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"the value is not JSON data (a number of more than {MAX_DIGITS:,} digits)"
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        code = ord(found.group()) if found else 0
        return f"the value is not text (U+{code:04X}, half of a UTF-16 pair, is in it)"
    if isinstance(value, float):  # nan, inf or -inf
        return f"the value is not JSON data (the number {value} is in it; store a finite number)"
    kind = type(value).__name__
    if kind in _HOW:
        how = _HOW[kind]
    elif hasattr(value, "__iter__") and not hasattr(value, "__getitem__"):
        how = "a list: add | list"  # dict.items(), map, reverse: an iterator
    elif "Undefined" in kind:  # a name no variable has
        how = "a value that is defined"
    else:
        how = "text, a number, true/false, a list or a mapping"
    return f"the value is not JSON data (a {kind} is in it; store {how})"

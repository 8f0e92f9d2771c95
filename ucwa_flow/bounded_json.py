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
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "TooDeep", "loads", "not_data", "too_deep"]

#: how deep JSON may nest (``[]`` and ``{}`` are one level, ``[[]]`` two)
MAX_DEPTH = 64
_NESTING = (dict, list, tuple)
_PLAIN = (str, int, float, bool, type(None))


class TooDeep(ValueError):
    """JSON nested deeper than the limit."""


def loads(text: str | bytes, *, depth: int = MAX_DEPTH) -> Any:
    """The JSON ``text`` holds: :class:`ValueError` for what is not JSON, :class:`TooDeep`
    for JSON nested deeper than ``depth`` levels."""
    too_deep_text = f"JSON nested deeper than {depth} levels"
    try:
        data = json.loads(text)
    except RecursionError:
        raise TooDeep(too_deep_text) from None
    if isinstance(text, bytes):
        openers = text.count(b"[") + text.count(b"{")
    else:
        openers = text.count("[") + text.count("{")
    if openers <= depth:
        return data  # too few brackets to nest too deep (most texts): no walk
    if too_deep(data, depth):
        raise TooDeep(too_deep_text)
    return data


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
    text, numbers, booleans and ``None`` (a template's ``namespace()``, ``range(3)``,
    ``cycler(...)``: neither a store nor a copy takes it, and it ended the bot). Walked as
    :func:`too_deep` walks, what is not plain going a level down to be looked at there."""
    if isinstance(value, _PLAIN):
        return None
    level = [value]
    for _ in range(depth):
        below: list[Any] = []
        for container in level:
            if not isinstance(container, _NESTING):
                return _not_json(container)
            items = container.values() if isinstance(container, dict) else container
            below += [item for item in items if not isinstance(item, _PLAIN)]
        if not below:
            return None
        level = below
    return f"the value is nested too deeply (more than {depth} levels)"


#: how to store what is no JSON data, by its kind
_HOW = {
    "datetime": "text such as {{ now.isoformat() }}",
    "date": "text such as {{ now.date().isoformat() }}",
    "time": "text such as {{ now.strftime('%H:%M') }}",
}


def _not_json(value: Any) -> str:
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

"""Patterns that need no compiling to be checked: a plain subset of the regex syntax.

Validating a flow compiles every ``match:`` pattern with :mod:`regex` only to find its
syntax errors and its named groups; importing ``regex`` costs some 18 ms and compiling a
pattern about 100 us, a third of validating a 5,000-state flow. Most flow patterns are
plain (``^b12$``, ``\\b(?P<id>E\\d{6})\\b``, ``^(?P<code>[A-Z]{2}\\d{4})$``):
:func:`simple_groups` reads those in one pass and gives their named groups, and the
matcher compiles them at their first match. Any pattern outside the subset gets ``None``
and is compiled at once, as before, so every error is still reported when validating.

The subset, every part of which ``regex`` (version 0, case-insensitive) accepts:

* literal characters (anything but ``\\ . ^ $ * + ? { } [ ] ( ) |``), ``.``, ``^``, ``$``;
* escapes ``\\d \\D \\w \\W \\s \\S \\b \\B`` and a backslash before punctuation;
* sets ``[...]`` (``^`` first allowed) of letters, digits, some punctuation, those
  escapes but ``\\b``, and ranges of letters and digits in order;
* groups ``(...)``, ``(?:...)``, ``(?P<name>...)`` with distinct names, and ``|``;
* one quantifier (``* + ? {n} {n,} {n,m}`` with n <= m, four digits at most) after a
  character, a set, ``.`` or a group, optionally lazy (``?``).
"""

from __future__ import annotations

import string

__all__ = ["simple_groups"]

_META = frozenset("\\.^$*+?{}[]()|")
_CLASS_ESCAPES = frozenset("dDwWsS")
_PUNCTUATION = frozenset(string.punctuation)
_WORD = frozenset(string.ascii_letters + string.digits)
_IN_SET = frozenset(string.ascii_letters + string.digits + " _.,:;'\"/@#!%=<>?*+(){}$")
_NAME_START = frozenset(string.ascii_letters + "_")
_NAME = frozenset(string.ascii_letters + string.digits + "_")
_MAX_DEPTH = 20


class _NotSimple(Exception):
    pass


def simple_groups(pattern: str) -> frozenset[str] | None:
    """The named groups of ``pattern`` when it is in the plain subset (it then compiles),
    else ``None`` (compile it to know)."""
    names: list[str] = []
    try:
        end = _sequence(pattern, 0, names, 0)
    except _NotSimple:
        return None
    if end != len(pattern) or len(set(names)) != len(names):
        return None
    return frozenset(names)


def _sequence(p: str, i: int, names: list[str], depth: int) -> int:
    """Read items and ``|`` from ``p[i]`` up to a ``)`` or the end; where it stopped."""
    n = len(p)
    while i < n:
        c = p[i]
        if c == ")":
            return i
        if c in "|^$":
            i += 1
            continue
        if c == "\\":
            if i + 1 >= n:
                raise _NotSimple
            e = p[i + 1]
            i += 2
            if e in "bB":
                continue  # zero-width: no quantifier
            if e not in _CLASS_ESCAPES and e not in _PUNCTUATION:
                raise _NotSimple
        elif c == "[":
            i = _set(p, i + 1)
        elif c == "(":
            i = _group(p, i + 1, names, depth + 1)
        elif c == ".":
            i += 1
        elif c in _META:  # a quantifier with nothing to repeat, a lone brace or bracket
            raise _NotSimple
        else:
            i += 1
        i = _quantifier(p, i)
    return i


def _group(p: str, i: int, names: list[str], depth: int) -> int:
    """A group whose ``(`` is at ``p[i - 1]``; the index after its ``)``."""
    if depth > _MAX_DEPTH:
        raise _NotSimple
    if p.startswith("?:", i):
        i += 2
    elif p.startswith("?P<", i):
        start = i + 3
        end = p.find(">", start)
        name = p[start:end] if end > start else ""
        if not name or name[0] not in _NAME_START or not set(name) <= _NAME:
            raise _NotSimple
        names.append(name)
        i = end + 1
    elif p.startswith("?", i):
        raise _NotSimple  # lookarounds, atomic groups, flags...
    i = _sequence(p, i, names, depth)
    if i >= len(p) or p[i] != ")":
        raise _NotSimple
    return i + 1


def _set(p: str, i: int) -> int:
    """A set whose ``[`` is at ``p[i - 1]``; the index after its ``]``."""
    n = len(p)
    if i < n and p[i] == "^":
        i += 1
    items = 0
    while i < n and p[i] != "]":
        c = p[i]
        if c == "\\":
            e = p[i + 1] if i + 1 < n else ""
            if e not in _CLASS_ESCAPES and e not in _PUNCTUATION:
                raise _NotSimple
            i += 2
        elif i + 2 < n and p[i + 1] == "-" and p[i + 2] != "]":
            high = p[i + 2]
            if c not in _WORD or high not in _WORD or c > high:
                raise _NotSimple
            i += 3
        elif c in _IN_SET:
            i += 1
        else:
            raise _NotSimple
        items += 1
    if i >= n or items == 0:
        raise _NotSimple
    return i + 1


def _quantifier(p: str, i: int) -> int:
    """Past the quantifier at ``p[i]``, if any (and its lazy ``?``)."""
    n = len(p)
    if i >= n:
        return i
    c = p[i]
    if c in "*+?":
        i += 1
    elif c == "{":
        close = p.find("}", i)
        if close < 0:
            raise _NotSimple
        low, comma, high = p[i + 1 : close].partition(",")
        if not _count(low) or (high and not _count(high)):
            raise _NotSimple
        if high and int(low) > int(high):
            raise _NotSimple
        if not comma and high:
            raise _NotSimple
        i = close + 1
    else:
        return i
    if i < n and p[i] == "?":
        i += 1
    if i < n and p[i] in "*+?{":
        raise _NotSimple  # a second quantifier, or a possessive one
    return i


def _count(text: str) -> bool:
    return 0 < len(text) <= 4 and text.isascii() and text.isdigit()

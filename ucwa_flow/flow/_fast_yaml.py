"""The fast path of :mod:`ucwa_flow.flow._loader`: libyaml's parser for files with no problem.

ruamel.yaml's round-trip loader is pure Python and spent most of ``validate``'s time on a
large flow (its scanner gathers comments for every token). ruamel.yaml.clib wraps libyaml,
the C parser ruamel's pure parser was ported from; its events carry the same marks (0-based
line and column, counted in characters). :func:`read_plain` builds the :class:`Document`
from those events directly: the data and the position of every key and value, the same as
the round-trip loader gives, with plain scalars resolved by ruamel's own YAML 1.2 resolver
and constructor.

It does not word problems. Whenever a file has anything the round-trip loader would
report or treat specially (a syntax error, an anchor, an alias, a tag, a directive, a key
that is not a text, a duplicate key, an empty value, deep nesting, a tab, a line break
other than LF and CRLF, a character YAML refuses, a timestamp or other rarely written
scalar, a number that is not finite (``.nan``, ``.inf``), a second document, no document)
:func:`read_plain` returns ``False`` and the caller reads the file again the slow way,
which words every diagnostic exactly as before.
So the fast path changes no message and no ``file:line:col``; it only skips the slow
parser for the files that have nothing to report at the YAML stage. Without
ruamel.yaml.clib (a platform it has no wheel for) every file takes the slow path.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ucwa_flow.flow._loader import Document

__all__ = ["plain_scalar", "read_plain"]

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")
)


class _Unusual(Exception):
    """Something the round-trip loader must see (and may word): take the slow path."""


def _c_parser() -> Any:
    try:
        from _ruamel_yaml import CParser  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - the wheel exists for every platform we run on
        return None
    return CParser


#: plain scalars remembered at most (each distinct text once; cleared when full)
_KNOWN_MAX = 10_000


class _Scalars:
    """Plain scalars resolved and constructed as the round-trip loader does (YAML 1.2)."""

    def __init__(self) -> None:
        from ruamel.yaml import YAML

        yaml = YAML(typ="rt")
        self._resolver = yaml.resolver
        self._constructor = yaml.constructor
        self._known: dict[str, Any] = {}

    def plain(self, text: str) -> Any:
        """The value of the plain (unquoted) scalar ``text``; :class:`_Unusual` for a rare
        kind (a timestamp, a merge key, a value tag)."""
        known = self._known.get(text, self)
        if known is not self:
            return known
        from ruamel.yaml.nodes import ScalarNode

        tag = str(self._resolver.resolve(ScalarNode, text, (True, False)))
        if tag not in _PLAIN_TAGS:
            raise _Unusual(tag)
        if tag == _STR:
            value: Any = text
        elif tag == _NULL:
            value = None
        else:
            node = ScalarNode(tag, text, None, None, None)
            value = plain_scalar(self._constructor.construct_object(node, deep=True))
        if len(self._known) >= _KNOWN_MAX:  # a long-lived process reloading edited flows
            self._known.clear()
        self._known[text] = value
        return value


_SCALARS: list[_Scalars] = []

#: characters libyaml and ruamel's scanner read differently: libyaml takes tabs where
#: ruamel refuses them, and counts lines at other breaks than ``\n`` and ``\r\n``
_DIFFERENT = re.compile("[\t\x85\u2028\u2029]|\r(?!\n)")


def plain_scalar(node: Any) -> Any:
    """A constructed scalar (ruamel's ``ScalarInt``, ``ScalarFloat``, ...) as plain data."""
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, datetime.date):
        return node.isoformat()
    return str(node)


def read_plain(text: str, document: Document, max_depth: int) -> bool:
    """Fill ``document`` (``data``, ``values``, ``keys``) from ``text``; ``False`` when the
    file needs the round-trip loader (``document`` is then left half-filled: drop it)."""
    parser_class = _c_parser()
    if parser_class is None:
        return False
    from ruamel.yaml.reader import Reader

    if _DIFFERENT.search(text) is not None or Reader.NON_PRINTABLE.search(text) is not None:
        return False
    if not _SCALARS:
        _SCALARS.append(_Scalars())
    try:
        _Builder(parser_class(text), _SCALARS[0], document, max_depth).document()
    except _Unusual:
        return False
    except Exception:  # a libyaml error: the slow path words it
        return False
    return True


class _Builder:
    """One pass over libyaml's events, building plain data and the position tables."""

    def __init__(self, parser: Any, scalars: _Scalars, document: Document, max_depth: int):
        from ruamel.yaml import events

        self.parser = parser
        self.plain = scalars.plain
        self.doc = document
        self.max_depth = max_depth
        self.scalar = events.ScalarEvent
        self.mapping = events.MappingStartEvent
        self.sequence = events.SequenceStartEvent
        self.ends = (events.MappingEndEvent, events.SequenceEndEvent)

    def document(self) -> None:
        from ruamel.yaml import events

        get = self.parser.get_event
        if not isinstance(get(), events.StreamStartEvent):
            raise _Unusual("stream")
        start = get()
        if not isinstance(start, events.DocumentStartEvent) or start.version or start.tags:
            raise _Unusual("no document, or a directive")
        event = get()
        if isinstance(event, self.scalar):  # a file of one scalar: the slow path words it
            raise _Unusual("scalar document")
        mark = event.start_mark
        self.doc.values[()] = (mark.line + 1, mark.column + 1)
        self.doc.data = self.node(event, (), 1)
        if not isinstance(get(), events.DocumentEndEvent):
            raise _Unusual("document end")
        if not isinstance(get(), events.StreamEndEvent):
            raise _Unusual("a second document")

    def value(self, event: Any) -> Any:
        """A scalar event's value; anchors, aliases and tags were refused already."""
        if event.style:  # quoted, literal or folded: always a text
            return event.value
        if not event.value:  # libyaml and ruamel place an empty value differently
            raise _Unusual("empty value")
        value = self.plain(event.value)
        if isinstance(value, float) and not math.isfinite(value):
            raise _Unusual(".nan or .inf: the slow path reports it")
        return value

    def node(self, event: Any, path: tuple[Any, ...], depth: int) -> Any:
        if getattr(event, "anchor", None) is not None or getattr(event, "tag", None) is not None:
            raise _Unusual("anchor, alias or tag")
        if isinstance(event, self.scalar):
            return self.value(event)
        if depth >= self.max_depth - 1:
            raise _Unusual("deep")
        if isinstance(event, self.mapping):
            return self.mapping_node(path, depth)
        if isinstance(event, self.sequence):
            return self.sequence_node(path, depth)
        raise _Unusual("alias")

    def mapping_node(self, path: tuple[Any, ...], depth: int) -> dict[str, Any]:
        get = self.parser.get_event
        values, keys = self.doc.values, self.doc.keys
        scalar, ends = self.scalar, self.ends
        result: dict[str, Any] = {}
        while True:
            event = get()
            if isinstance(event, ends):
                return result
            if not isinstance(event, scalar) or event.anchor is not None or event.tag is not None:
                raise _Unusual("a key that is not a plain text")
            raw = self.value(event)
            key = raw if isinstance(raw, str) else str(raw)
            if raw is None or isinstance(raw, bool | float) or key in result:
                raise _Unusual("a key the slow path reports")  # a duplicate: `404`, "404" too
            key_mark = event.start_mark
            key_at = (key_mark.line + 1, key_mark.column + 1)
            child = (*path, key)
            event = get()
            mark = event.start_mark
            if type(event) is scalar and event.style and event.anchor is None:  # a text
                if event.tag is not None:
                    raise _Unusual("tag")
                value = event.value
            else:
                value = self.node(event, child, depth + 1)
            if value is None and mark.line > key_mark.line:
                values[child] = key_at  # an empty value is "located" at the next token
            else:
                values[child] = (mark.line + 1, mark.column + 1)
            keys[child] = key_at
            result[key] = value

    def sequence_node(self, path: tuple[Any, ...], depth: int) -> list[Any]:
        get = self.parser.get_event
        values, ends = self.doc.values, self.ends
        items: list[Any] = []
        while True:
            event = get()
            if isinstance(event, ends):
                return items
            child = (*path, len(items))
            mark = event.start_mark
            values[child] = (mark.line + 1, mark.column + 1)
            items.append(self.node(event, child, depth + 1))

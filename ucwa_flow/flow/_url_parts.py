"""F123: a webhook ``url`` that puts a caller's value where it can change the request.

Values are put into a webhook's URL as they are (``docs/flow-language.md``, "webhook"):

* in the query (or fragment), ``https://crm.example/find?name={{ message }}`` sends
  ``name=a b&c`` for the text "a b&c", a wrong request that lets the caller write the
  rest of the query: it needs ``| urlencode`` (or ``| urlsegment``);
* in the path, ``urlencode`` is not enough (it leaves ``/`` and ``.``): ``a/b`` or ``..``
  changes the path the request goes to: it needs ``| urlsegment``;
* in the host, ``https://{{ tenant }}.crm.example`` or ``https://crm.example{{ path }}``,
  a value such as ``evil.example/`` sends the request, and its headers, elsewhere: no
  filter makes that safe. Only a value the URL starts with, as a whole
  (``{{ base_url }}/tickets``, ``{{ base_url ~ '/find?q=' ~ (q | urlencode) }}``), is
  its scheme and host, the flow's own.

``| int`` and ``| float`` (numbers) are fine in the path and the query, and so is a
value that reads no variable (``{{ 'abc' | upper }}``). The template is read with Jinja's
own parser (one of text and ``{{ name.attribute }}`` alone as ``_plain`` reads it, without
importing Jinja2): the operands of ``~`` (and ``+``) one by one, in order, text included,
and a name ``{% set %}`` earlier stands for what it was set to. Of an ``{% if %}``'s
branches one runs: what follows is read after the least safe of them, and a name they set
differently is as unsafe as its worst value; what a ``{% for %}`` sets stays in the loop.
One pass over the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import TYPE_CHECKING, NamedTuple

from ucwa_flow.flow._plain import JINJA_GLOBALS, plain_parts
from ucwa_flow.flow._simple_templates import simple_names

if TYPE_CHECKING:
    from jinja2 import nodes

__all__ = ["Unencoded", "unencoded"]


class Unencoded(NamedTuple):
    """A value (``{{ text }}``) put into ``where`` (``host``, ``path`` or ``query``)."""

    where: str
    value: str


class _Part(Enum):
    START = "start"  # nothing written yet
    SCHEME = "scheme"  # text before "://"
    BASE = "base"  # after the value the URL starts with, before a "/", "?" or "#"
    HOST = "host"  # after "://", before the path
    PATH = "path"
    QUERY = "query"  # the query or the fragment


class _Safe(IntEnum):
    """Where a value may go as it is (a larger one: fewer places)."""

    CONST = 0  # reads no variable
    SEGMENT = 1  # | urlsegment, | int, | float: the path or the query
    QUERY = 2  # | urlencode: the query
    RAW = 3  # nowhere after the host


@dataclass(frozen=True, slots=True)
class _Value:
    text: str  # as the author wrote it, more or less: "message | trim"
    safe: _Safe


_Piece = str | _Value

_ENCODERS = {"urlsegment": _Safe.SEGMENT, "int": _Safe.SEGMENT, "float": _Safe.SEGMENT}
_ENCODERS["urlencode"] = _Safe.QUERY
#: filters whose result is as safe as what they are given
_KEEPING = frozenset({"trim", "lower", "upper", "string"})
#: a name set to more pieces than this stands for one value (as unsafe as its worst)
_MAX_PIECES = 32
_SEPARATORS = "/?#"


def unencoded(source: str) -> list[Unencoded]:
    """The values ``source``, a URL template, puts into its host, or into its path or
    query without the filter they need, in order."""
    if "{" not in source:
        return []
    scan = _Scan()
    if simple_names(source) is not None and (parts := plain_parts(source, JINJA_GLOBALS)):
        for part in parts:  # text and {{ name.attribute }}: no need to import Jinja2
            scan.put(
                part if isinstance(part, str) else _Value(".".join(part[:1] + part[1]), _Safe.RAW)
            )
        return scan.found
    from jinja2.exceptions import TemplateSyntaxError

    from ucwa_flow.flow._sandbox import _env

    try:
        tree = _env(html=False).parse(source)
    except (TemplateSyntaxError, RecursionError):  # reported where the template is compiled
        return []
    scan.statements(tree.body)
    return scan.found


class _Scan:
    def __init__(self) -> None:
        self.part = _Part.START
        self.names: dict[str, tuple[_Piece, ...]] = {}
        self.found: list[Unencoded] = []

    def statements(self, body: list[nodes.Node]) -> None:
        from jinja2 import nodes

        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    for piece in self.pieces(child):
                        self.put(piece)
            elif isinstance(node, nodes.Assign | nodes.AssignBlock):
                value = self.pieces(node.node) if isinstance(node, nodes.Assign) else None
                for target in _names(node.target):
                    single = isinstance(node.target, nodes.Name) and value is not None
                    self.names[target.name] = self._bounded(value) if single else _raw(target)
            elif isinstance(node, nodes.Macro | nodes.CallBlock):
                continue  # a macro's body is output where it is called
            elif isinstance(node, nodes.If):
                branches = [node.body, *(elif_.body for elif_ in node.elif_), node.else_]
                self.branches(branches, scoped=False)
            elif isinstance(node, nodes.For):  # run no time (its else) or some times
                names = dict(self.names)
                for target in _names(node.target):
                    self.names[target.name] = _raw(target)
                self.branches([node.body, node.else_], scoped=True)
                self.names = names  # what a loop sets stays in the loop
            else:
                bound: list[nodes.Node] = [node.target] if isinstance(node, nodes.For) else []
                if isinstance(node, nodes.With):
                    bound = list(node.targets)
                for target in (name for b in bound for name in _names(b)):
                    self.names[target.name] = _raw(target)  # no longer what a set made it
                self.statements([c for c in node.iter_child_nodes() if isinstance(c, nodes.Stmt)])

    def branches(self, bodies: list[list[nodes.Node]], *, scoped: bool) -> None:
        """One of ``bodies`` runs (an ``{% if %}``'s, an empty ``else`` included): each
        is read from where the URL is now, and what follows is read where the least safe
        of them leaves it (the host before the path before the query), with each name as
        unsafe as the least safe value a branch set it to."""
        part, names = self.part, self.names
        ends: list[tuple[_Part, dict[str, tuple[_Piece, ...]]]] = []
        for body in bodies:
            self.part, self.names = part, dict(names)
            self.statements(body)
            ends.append((self.part, self.names))
        written = [end for end, _ in ends if end is not _Part.START]
        self.part = max(written, key=_DANGER.__getitem__) if written else _Part.START
        self.names = names if scoped else _merged([seen for _, seen in ends])

    def _bounded(self, pieces: list[_Piece] | None) -> tuple[_Piece, ...]:
        if pieces is None or len(pieces) <= _MAX_PIECES:
            return tuple(pieces or ())
        values = [p for p in pieces if isinstance(p, _Value)]
        worst = max((v.safe for v in values), default=_Safe.CONST)
        return (_Value(values[0].text if values else "...", worst),)

    def pieces(self, expr: nodes.Node) -> list[_Piece]:
        """``expr`` as the text and values it writes, in order."""
        from jinja2 import nodes

        if isinstance(expr, nodes.TemplateData):
            return [expr.data]
        if isinstance(expr, nodes.Const):
            return [str(expr.value)] if isinstance(expr.value, str | int | float) else []
        if isinstance(expr, nodes.Concat):
            return [piece for operand in expr.nodes for piece in self.pieces(operand)]
        if isinstance(expr, nodes.Add):
            return [*self.pieces(expr.left), *self.pieces(expr.right)]
        if isinstance(expr, nodes.Name) and expr.name in self.names:
            return list(self.names[expr.name])
        return [_Value(_describe(expr), self.safe(expr))]

    def safe(self, expr: nodes.Node) -> _Safe:
        from jinja2 import nodes

        if isinstance(expr, nodes.Filter) and expr.node is not None:
            if expr.name in _ENCODERS:
                return _ENCODERS[expr.name]
            if expr.name in _KEEPING and not expr.args and not expr.kwargs:
                return self.safe(expr.node)
        if isinstance(expr, nodes.Name) and expr.name in self.names:
            values = [p.safe for p in self.names[expr.name] if isinstance(p, _Value)]
            return max(values, default=_Safe.CONST)
        if isinstance(expr, nodes.Name) or any(True for _ in expr.find_all(nodes.Name)):
            return _Safe.RAW
        return _Safe.CONST

    def put(self, piece: _Piece) -> None:
        """Write ``piece`` where the URL is; note a value that does not belong there."""
        if isinstance(piece, str):
            self.part = _after(self.part, piece)
            return
        part = self.part
        if part is _Part.START:
            self.part = _Part.BASE  # the URL's scheme and host, the flow's own
        elif piece.safe is _Safe.CONST:
            return
        elif part in (_Part.SCHEME, _Part.HOST, _Part.BASE):
            self.found.append(Unencoded("host", f"{{{{ {piece.text} }}}}"))
        elif part is _Part.PATH and piece.safe > _Safe.SEGMENT:
            self.found.append(Unencoded("path", f"{{{{ {piece.text} }}}}"))
        elif part is _Part.QUERY and piece.safe > _Safe.QUERY:
            self.found.append(Unencoded("query", f"{{{{ {piece.text} }}}}"))


#: how unsafe a value written in each part is (a value at the START is the base URL)
_DANGER = {_Part.QUERY: 1, _Part.PATH: 2, _Part.HOST: 3, _Part.BASE: 3, _Part.SCHEME: 3}


def _merged(branches: list[dict[str, tuple[_Piece, ...]]]) -> dict[str, tuple[_Piece, ...]]:
    """The names after one of ``branches`` ran: a name every branch left the same stays
    as it is; one they left different stands for one value, as unsafe as its worst."""
    merged: dict[str, tuple[_Piece, ...]] = {}
    for name in {name for names in branches for name in names}:
        values = [names.get(name, ()) for names in branches]
        if all(value == values[0] for value in values):
            merged[name] = values[0]
            continue
        pieces = [p for value in values for p in value if isinstance(p, _Value)]
        worst = max(pieces, key=lambda p: p.safe, default=_Value(name, _Safe.CONST))
        merged[name] = (worst,)
    return merged


def _names(target: nodes.Node) -> list[nodes.Name]:
    """The names a ``{% set %}`` or ``{% for %}`` target binds."""
    from jinja2 import nodes

    return [target] if isinstance(target, nodes.Name) else list(target.find_all(nodes.Name))


def _raw(name: nodes.Name) -> tuple[_Piece, ...]:
    return (_Value(name.name, _Safe.RAW),)


def _after(part: _Part, text: str) -> _Part:
    """Where the URL is after its literal ``text`` (written where ``part`` was)."""
    while text:
        cut = min((i for i in map(text.find, _SEPARATORS) if i >= 0), default=-1)
        if part in (_Part.START, _Part.SCHEME, _Part.BASE):
            scheme = text.find("://")
            if scheme >= 0 and (cut < 0 or scheme <= cut):
                part, text = _Part.HOST, text[scheme + 3 :]
                continue
            if part is not _Part.BASE:
                return _Part.SCHEME
        if part in (_Part.BASE, _Part.HOST, _Part.PATH) and cut >= 0:
            part = _Part.PATH if text[cut] == "/" else _Part.QUERY
            text = text[cut + 1 :]
            continue
        return part
    return part


def _describe(expr: nodes.Node) -> str:
    """``expr`` about as it is written (``caller.name``, ``message | trim``)."""
    from jinja2 import nodes

    if isinstance(expr, nodes.Name):
        return expr.name
    if isinstance(expr, nodes.Getattr):
        return f"{_describe(expr.node)}.{expr.attr}"
    if isinstance(expr, nodes.Getitem):
        key = expr.arg.value if isinstance(expr.arg, nodes.Const) else "..."
        return f"{_describe(expr.node)}[{key!r}]"
    if isinstance(expr, nodes.Filter) and expr.node is not None:
        arguments = "(...)" if expr.args or expr.kwargs else ""
        return f"{_describe(expr.node)} | {expr.name}{arguments}"
    if isinstance(expr, nodes.Call):
        return f"{_describe(expr.node)}(...)"
    if isinstance(expr, nodes.Const):
        return repr(expr.value)
    return "..."

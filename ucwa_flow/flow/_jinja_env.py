"""Jinja2 and the sandboxed environments flow templates are compiled in.

Imported by ``_sandbox`` on first use (:func:`ucwa_flow.flow._sandbox._env`), so that
validating a flow whose templates are all plain does not import Jinja2 (about 40 ms).
The sandbox's rules are described in ``_sandbox``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from jinja2 import Template as JinjaTemplate
from jinja2 import Undefined, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ucwa_flow.flow._limits import MAX_SIZE, check_format, check_str_call, filters, tests
from ucwa_flow.flow._render_time import check_time

__all__ = [
    "HTML",
    "SCOPING",
    "TEXT",
    "UNAVAILABLE",
    "Context",
    "JinjaTemplate",
    "Parser",
    "Sandbox",
    "SecurityError",
    "TemplateSyntaxError",
    "Undefined",
    "meta",
    "nodes",
]

_MAX_RANGE = 1000
_MAX_SIZE = MAX_SIZE  # longest string or list that `*` or a padding filter may build
_MAX_EXPONENT = 64
_MAX_POWER_BITS = 65_536  # the largest number `**` may build


class _BoundedRange(Sequence[int]):
    """``range`` for templates: at most ``_MAX_RANGE`` items, each step within the deadline."""

    __slots__ = ("_range",)

    def __init__(self, rng: range) -> None:
        self._range = rng

    def __len__(self) -> int:
        return len(self._range)

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        return self._range[index]

    def __iter__(self) -> Iterator[int]:
        for item in self._range:
            check_time()
            yield item


def _safe_range(*args: int) -> _BoundedRange:
    rng = range(*args)
    if len(rng) > _MAX_RANGE:
        raise SecurityError(f"range() is limited to {_MAX_RANGE} items in flows")
    return _BoundedRange(rng)


class Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Fail loudly instead of rendering an empty string for `{{ ''.__class__ }}`.
        raise SecurityError(f"access to {attribute!r} of a {type(obj).__name__} is not allowed")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_time()
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                raise SecurityError(f"exponents above {_MAX_EXPONENT} are not allowed in flows")
            big = isinstance(left, int) and isinstance(right, int) and right > 0
            if big and left.bit_length() * right > _MAX_POWER_BITS:
                raise SecurityError("'**' may not build a number that large in flows")
            return left**right
        if operator == "%":
            if isinstance(left, str):
                check_format(left)
            return left % right
        for seq, count in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
            if sized and len(seq) * count > _MAX_SIZE:
                raise SecurityError(f"'*' may not build more than {_MAX_SIZE} items in flows")
        return left * right

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        check_time()
        check_str_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_time()
        return super().getitem(obj, argument)


def _environment(autoescape: bool) -> Sandbox:
    env = Sandbox(autoescape=autoescape, keep_trailing_newline=True)
    env.globals["range"] = _safe_range
    env.filters.clear()
    env.filters.update(filters())
    env.tests.clear()
    env.tests.update(tests())
    return env


TEXT = _environment(autoescape=False)
HTML = _environment(autoescape=True)


#: constructs that bind names (a template with none reads every name it loads)
SCOPING = (
    nodes.Assign,
    nodes.AssignBlock,
    nodes.For,
    nodes.Macro,
    nodes.CallBlock,
    nodes.With,
    nodes.FilterBlock,
    nodes.Scope,
)

#: what flow templates cannot use
UNAVAILABLE = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)

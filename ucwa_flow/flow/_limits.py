"""What flow templates may use, and the size limits on what they build.

Message text is untrusted, and some filters, operators and string methods can build a
huge string from a small template (``"%99999999s" % x``, ``x.ljust(10**9)``,
``batch(10**9, '')``). The sandbox (``_sandbox``) installs exactly the filters and tests
named in :data:`FILTERS` and :data:`TESTS` (the list ``docs/flow-language.md`` gives), with
the size-building ones wrapped here so that they refuse sizes over :data:`MAX_SIZE`.

A wrapped filter keeps Jinja's ``pass_environment`` / ``pass_eval_context`` marker, so it
still receives what it needs (``truncate`` reads the environment's policies).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Jinja2 is imported by the sandbox, on first use (``_jinja_env``)
    from jinja2.exceptions import SecurityError

__all__ = [
    "FILTERS",
    "MAX_SIZE",
    "TESTS",
    "check_format",
    "check_str_call",
    "filters",
    "tests",
]

#: longest string or list that `*`, a padding filter, a format width or `replace` may build
MAX_SIZE = 10_000

#: the filters flow templates may use (all of Jinja's built-in ones, and ``urlsegment``)
FILTERS: tuple[str, ...] = (
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort",
    "e", "escape", "filesizeformat", "first", "float", "forceescape", "format", "groupby",
    "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
    "pprint", "random", "reject", "rejectattr", "replace", "reverse", "round", "safe",
    "select", "selectattr", "slice", "sort", "string", "striptags", "sum", "title", "tojson",
    "trim", "truncate", "unique", "upper", "urlencode", "urlize", "urlsegment", "wordcount",
    "wordwrap", "xmlattr",
)  # fmt: skip

#: the tests flow templates may use (all of Jinja's built-in ones)
TESTS: tuple[str, ...] = (
    "!=", "<", "<=", "==", ">", ">=", "boolean", "callable", "defined", "divisibleby", "eq",
    "equalto", "escaped", "even", "false", "filter", "float", "ge", "greaterthan", "gt", "in",
    "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none", "number",
    "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper",
)  # fmt: skip

# how Jinja's filters name the environment or context they are passed first
_PASSED_NAMES = frozenset({"environment", "env", "eval_ctx", "context"})

# printf-style (`%10s`, `%.*f`) and str.format-style (`{:>10}`, `{0:{1}}`) widths
_PRINTF_WIDTHS = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPECS = re.compile(r"\{[^{}]*?:([^{}]*)")
_NESTED_SPEC = re.compile(r"\{[^{}]*?:[^{}]*\{")


def _refuse(what: str) -> SecurityError:
    from jinja2.exceptions import SecurityError

    return SecurityError(f"{what} may not build more than {MAX_SIZE} characters in flows")


def check_format(template: str) -> None:
    """Refuse a printf- or format-style template whose widths build huge strings."""
    for found in _PRINTF_WIDTHS.finditer(template):
        for size in found.groups():
            if size == "*" or (size is not None and int(size) > MAX_SIZE):
                raise _refuse("a '%' format width")
    if _NESTED_SPEC.search(template):
        raise _refuse("a format width taken from an argument")
    for spec in _FORMAT_SPECS.finditer(template):
        if any(int(size) > MAX_SIZE for size in re.findall(r"\d+", spec.group(1))):
            raise _refuse("a format width")


def _check_replace(text: str, old: str, new: str) -> None:
    count = len(text) + 1 if not old else text.count(old)
    if len(text) + count * (len(new) - len(old)) > max(MAX_SIZE, len(text)):
        raise _refuse("replace()")


def check_str_call(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call of a ``str`` method (``x.ljust(n)``...) that would build a huge string."""
    method = getattr(method, "__wrapped__", method)  # the sandbox wraps str.format
    text = getattr(method, "__self__", None)
    if not isinstance(text, str) or not callable(method):
        return
    name = getattr(method, "__name__", "")
    if name in ("ljust", "rjust", "center", "zfill") and args:
        if isinstance(args[0], int) and args[0] > MAX_SIZE:
            raise _refuse(f"{name}()")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int) and size * text.count("\t") > MAX_SIZE:
            raise _refuse("expandtabs()")
    elif name in ("format", "format_map"):
        check_format(text)
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        _check_replace(text, args[0], args[1])


def _bounded(name: str, check: Callable[[inspect.BoundArguments], None]) -> Callable[..., Any]:
    """Jinja's filter ``name``, calling ``check`` on its bound arguments first."""
    from jinja2.filters import FILTERS as JINJA_FILTERS
    from jinja2.utils import _PassArg

    original = JINJA_FILTERS[name]
    passes_first = _PassArg.from_obj(original) is not None  # an environment or a context
    signature = inspect.signature(original)
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name in _PASSED_NAMES:
        signature = signature.replace(parameters=parameters[1:])

    @functools.wraps(original)  # keeps jinja_pass_arg: pass_environment and friends
    def bounded(*args: Any, **kwargs: Any) -> Any:
        check(signature.bind(*(args[1:] if passes_first else args), **kwargs))
        return original(*args, **kwargs)

    return bounded


def _width(parameter: str, what: str) -> Callable[[inspect.BoundArguments], None]:
    def check(bound: inspect.BoundArguments) -> None:
        size = bound.arguments.get(parameter)
        if isinstance(size, int) and abs(size) > MAX_SIZE:
            from jinja2.exceptions import SecurityError

            raise SecurityError(f"{what} may not pad beyond {MAX_SIZE} characters in flows")

    return check


def _format(bound: inspect.BoundArguments) -> None:
    check_format(str(bound.arguments.get("value", "")))


def _replace(bound: inspect.BoundArguments) -> None:
    text, old, new = (bound.arguments.get(k) for k in ("s", "old", "new"))
    if isinstance(old, str) and isinstance(new, str):
        _check_replace(str(text), old, new)


_CHECKS: dict[str, Callable[[inspect.BoundArguments], None]] = {
    "center": _width("width", "center()"),
    "indent": _width("width", "indent()"),
    "wordwrap": _width("width", "wordwrap()"),
    "truncate": _width("length", "truncate()"),
    "batch": _width("linecount", "batch()"),
    "slice": _width("slices", "slice()"),
    "format": _format,
    "replace": _replace,
}


def filters() -> dict[str, Callable[..., Any]]:
    """The filters of :data:`FILTERS`, size-building ones bounded (``urlsegment``:
    :mod:`ucwa_flow.flow._url_segment`)."""
    from jinja2.filters import FILTERS as JINJA_FILTERS

    from ucwa_flow.flow._url_segment import urlsegment

    known: dict[str, Any] = {**JINJA_FILTERS, "urlsegment": urlsegment}
    return {
        name: _bounded(name, _CHECKS[name]) if name in _CHECKS else known[name] for name in FILTERS
    }


def tests() -> dict[str, Callable[..., Any]]:
    """The tests of :data:`TESTS`."""
    from jinja2.tests import TESTS as JINJA_TESTS

    known: dict[str, Any] = dict(JINJA_TESTS)
    return {name: known[name] for name in TESTS}

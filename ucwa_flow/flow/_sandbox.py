"""Templates, values and conditions, compiled once in a Jinja2 sandbox.

Flow authors write Jinja2: ``say: "Hi {{ caller.name }}"``, ``if: "misses > 2"``. Message
text is untrusted, so everything here runs in an
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`: no attribute starting with ``_``,
no mutation of lists or dicts, no imports, ``range`` capped, and ``*``/``**`` refuse to
build huge strings or numbers. HTML templates autoescape, so a caller's text cannot
inject markup into the bot's HTML replies.

Compilation errors are raised as :class:`TemplateCompileError` (the builder turns them
into located diagnostics); errors at render time, including sandbox violations such as
``{{ ''.__class__ }}``, are raised as :class:`TemplateRenderError` with a safe one-line
message and the template's source location.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

from jinja2 import Template as JinjaTemplate
from jinja2 import Undefined, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow._diagnostics import Location
from ucwa_flow.flow._limits import MAX_SIZE, check_format, check_str_call, filters, tests

__all__ = [
    "RESERVED_NAMES",
    "Condition",
    "Template",
    "TemplateCompileError",
    "TemplateRenderError",
    "Value",
]

#: names the interpreter puts in every template context; variables may not use them
RESERVED_NAMES: frozenset[str] = frozenset(
    {"vars", "match", "caller", "message", "webhook", "now", "state", "flow"}
    | {"conversation", "delivery"}
    | {"range", "dict", "lipsum", "cycler", "joiner", "namespace", "true", "false", "none"}
    | {"True", "False", "None", "loop", "self", "super", "varargs", "kwargs"}
)

_MAX_RANGE = 1000
_MAX_SIZE = MAX_SIZE  # longest string or list that `*` or a padding filter may build
_MAX_EXPONENT = 64
_MAX_POWER_BITS = 65_536  # the largest number `**` may build
#: how much CPU time one render may take: loops, calls and attribute reads check it
RENDER_SECONDS = 0.25

# The deadlines of the render in progress (renders are synchronous and never nest). The
# bound is on the thread's CPU time, so that a busy machine never fails a small template;
# the wall clock (cheap to read, never behind CPU time) says when that is worth reading.
_deadline = math.inf
_cpu_deadline = math.inf


def _check_time() -> None:
    if time.monotonic() > _deadline and time.thread_time() > _cpu_deadline:
        raise SecurityError(f"a template may run at most {RENDER_SECONDS:g}s in flows")


_WHOLE_EXPRESSION = re.compile(r"\A\s*\{\{(?P<expr>(?:(?!\}\}|\{\{|\{%).)*)\}\}\s*\Z", re.DOTALL)


class TemplateCompileError(UcwaFlowError):
    """A template or condition that does not compile; ``lineno`` is 1-based within it."""

    def __init__(self, message: str, lineno: int = 1) -> None:
        super().__init__(message)
        self.lineno = lineno


class TemplateRenderError(UcwaFlowError):
    """Rendering failed (a sandbox violation or a runtime error); the message is safe to log."""


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
            _check_time()
            yield item


def _safe_range(*args: int) -> _BoundedRange:
    rng = range(*args)
    if len(rng) > _MAX_RANGE:
        raise SecurityError(f"range() is limited to {_MAX_RANGE} items in flows")
    return _BoundedRange(rng)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Fail loudly instead of rendering an empty string for `{{ ''.__class__ }}`.
        raise SecurityError(f"access to {attribute!r} of a {type(obj).__name__} is not allowed")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_time()
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
        _check_time()
        check_str_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_time()
        return super().getitem(obj, argument)


def _environment(autoescape: bool) -> _Sandbox:
    env = _Sandbox(autoescape=autoescape, keep_trailing_newline=True)
    env.globals["range"] = _safe_range
    env.filters.clear()
    env.filters.update(filters())
    env.tests.clear()
    env.tests.update(tests())
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


@contextlib.contextmanager
def _time_limit() -> Iterator[None]:
    global _deadline, _cpu_deadline  # renders are synchronous: one deadline at a time
    previous = _deadline, _cpu_deadline
    _deadline = min(previous[0], time.monotonic() + RENDER_SECONDS)
    _cpu_deadline = min(previous[1], time.thread_time() + RENDER_SECONDS)
    try:
        yield
    finally:
        _deadline, _cpu_deadline = previous


class _Compiled:
    """Shared parts of templates and conditions: source, location, static analysis.

    Parsing happens at once (syntax errors, unknown filters and tests are compile errors);
    turning the tree into Python code waits for the first render, so that validating a
    large flow does not pay for code it never runs.
    """

    __slots__ = ("_ast", "_code", "_env", "captures", "location", "source", "variables")

    def __init__(self, source: str, location: Location, ast: nodes.Template, env: _Sandbox):
        self.source = source
        self.location = location
        _check_names(ast, env)
        #: top-level names the template reads (variables and context names)
        self.variables: frozenset[str] = _free_names(ast)
        #: names read as ``match.NAME`` or ``match['NAME']``
        self.captures: frozenset[str] = frozenset(_captures(ast))
        self._ast: nodes.Template | None = ast
        self._env = env
        self._code: JinjaTemplate | None = None

    @property
    def _template(self) -> JinjaTemplate:
        if self._code is None:
            assert self._ast is not None
            self._code = self._env.from_string(self._ast)
            self._ast = None
        return self._code

    def _run(self, context: Mapping[str, Any]) -> Any:
        try:
            with _time_limit():
                return self._template.render(context)
        except SecurityError as exc:
            raise TemplateRenderError(f"{self.location}: unsafe template: {exc}") from None
        except Exception as exc:  # any runtime failure of user code is reported, not raised
            raise TemplateRenderError(
                f"{self.location}: template failed: {type(exc).__name__}: {exc}"
            ) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


_SCOPING = (
    nodes.Assign,
    nodes.AssignBlock,
    nodes.For,
    nodes.Macro,
    nodes.CallBlock,
    nodes.With,
    nodes.FilterBlock,
    nodes.Scope,
)


def _free_names(ast: nodes.Template) -> frozenset[str]:
    if any(True for _ in ast.find_all(_SCOPING)):
        return frozenset(meta.find_undeclared_variables(ast))  # exact, but slow
    # Without any construct that binds names, every loaded name is free.
    return frozenset(
        name.name
        for name in ast.find_all(nodes.Name)
        if isinstance(name, nodes.Name) and name.ctx == "load"
    )


def _check_names(ast: nodes.Template, env: _Sandbox) -> None:
    for node in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        raise TemplateCompileError(
            f"{type(node).__name__.lower()} is not available in flow templates", node.lineno
        )
    for call in ast.find_all(nodes.Filter):
        assert isinstance(call, nodes.Filter)
        if call.name not in env.filters:
            raise TemplateCompileError(f"no filter named {call.name!r}", call.lineno)
    for test in ast.find_all(nodes.Test):
        assert isinstance(test, nodes.Test)
        if test.name not in env.tests:
            raise TemplateCompileError(f"no test named {test.name!r}", test.lineno)


def _captures(ast: nodes.Node) -> set[str]:
    found: set[str] = set()
    for node in ast.find_all(nodes.Getattr):
        assert isinstance(node, nodes.Getattr)
        if isinstance(node.node, nodes.Name) and node.node.name == "match":
            found.add(node.attr)
    for item in ast.find_all(nodes.Getitem):
        assert isinstance(item, nodes.Getitem)
        key = item.arg
        on_match = isinstance(item.node, nodes.Name) and item.node.name == "match"
        if on_match and isinstance(key, nodes.Const) and isinstance(key.value, str):
            found.add(key.value)
    return found


def _parse_template(source: str, env: _Sandbox) -> nodes.Template:
    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateCompileError(exc.message or "syntax error", exc.lineno) from None


def _parse_expression(source: str, env: _Sandbox) -> nodes.Template:
    parser = Parser(env, source, state="variable")
    try:
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", 1)
    except TemplateSyntaxError as exc:
        raise TemplateCompileError(exc.message or "syntax error", exc.lineno) from None
    body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
    ast = nodes.Template(body, lineno=1)
    ast.set_environment(env)
    return ast


class Template(_Compiled):
    """A text template: ``render(context) -> str``.

    ``html=True`` compiles it with autoescaping, for the HTML part of a ``say``.
    """

    __slots__ = ("html",)

    def __init__(self, source: str, location: Location, *, html: bool = False) -> None:
        env = _HTML if html else _TEXT
        super().__init__(source, location, _parse_template(source, env), env)
        self.html = html

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context`` (see ``docs/flow-language.md``, "Template context")."""
        return str(self._run(context))


class _Expression(_Compiled):
    __slots__ = ()

    def __init__(self, source: str, location: Location) -> None:
        super().__init__(source, location, _parse_expression(source, _TEXT), _TEXT)

    def value(self, context: Mapping[str, Any]) -> Any:
        try:
            ctx = self._template.new_context(dict(context))
            with _time_limit():
                for _ in self._template.root_render_func(ctx):
                    pass
        except SecurityError as exc:
            raise TemplateRenderError(f"{self.location}: unsafe expression: {exc}") from None
        except Exception as exc:
            raise TemplateRenderError(
                f"{self.location}: expression failed: {type(exc).__name__}: {exc}"
            ) from None
        result = ctx.vars.get("result")
        return None if isinstance(result, Undefined) else result


class Condition(_Expression):
    """A boolean Jinja2 expression such as ``misses > 2 and not vars.ticket``.

    The source may also be written wrapped in ``{{ }}``; the braces are ignored.
    """

    __slots__ = ()

    def __init__(self, source: str, location: Location) -> None:
        whole = _WHOLE_EXPRESSION.match(source)
        super().__init__(whole.group("expr") if whole else source, location)

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        """Evaluate to a bool; a failing expression raises :class:`TemplateRenderError`."""
        return bool(self.value(context))


class Value:
    """A value to store or send: a JSON tree whose strings are templates.

    * a string that is exactly one ``{{ expression }}`` keeps the expression's native type
      (``"{{ misses + 1 }}"`` is an int, ``"{{ match.id }}"`` a string);
    * any other string renders as a text template;
    * numbers, booleans and null are constants; lists and mappings are evaluated item by item.
    """

    __slots__ = ("_tree", "captures", "location", "source", "variables")

    def __init__(self, source: Any, location: Location) -> None:
        self.source = source
        self.location = location
        parts: list[_Compiled] = []
        self._tree = _compile_tree(source, location, parts)
        self.variables: frozenset[str] = frozenset().union(*(p.variables for p in parts))
        self.captures: frozenset[str] = frozenset().union(*(p.captures for p in parts))

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """Evaluate to plain JSON-compatible data (or whatever an expression returns)."""
        return _evaluate_tree(self._tree, context)

    def __repr__(self) -> str:
        return f"Value({self.source!r})"


def _compile_tree(source: Any, location: Location, parts: list[_Compiled]) -> Any:
    if isinstance(source, str):
        whole = _WHOLE_EXPRESSION.match(source)
        compiled: _Compiled
        if whole:
            compiled = _Expression(whole.group("expr"), location)
        elif "{" in source:
            compiled = Template(source, location)
        else:
            return source
        parts.append(compiled)
        return compiled
    if isinstance(source, list):
        return [_compile_tree(item, location, parts) for item in source]
    if isinstance(source, dict):
        return {key: _compile_tree(item, location, parts) for key, item in source.items()}
    return source


def _evaluate_tree(tree: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(tree, _Expression):
        return tree.value(context)
    if isinstance(tree, Template):
        return tree.render(context)
    if isinstance(tree, list):
        return [_evaluate_tree(item, context) for item in tree]
    if isinstance(tree, dict):
        return {key: _evaluate_tree(item, context) for key, item in tree.items()}
    return tree

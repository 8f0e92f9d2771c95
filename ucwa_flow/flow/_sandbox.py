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

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

from jinja2 import Template as JinjaTemplate
from jinja2 import Undefined, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow._diagnostics import Location
from ucwa_flow.flow._limits import MAX_SIZE, check_format, check_str_call, filters, tests
from ucwa_flow.flow._plain import plain_parts, render_plain
from ucwa_flow.flow._render_time import check_time, time_limit
from ucwa_flow.flow._simple_templates import NO_NAMES, Names, simple_names

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
    | {"conversation", "delivery", "campaign"}
    | {"range", "dict", "lipsum", "cycler", "joiner", "namespace", "true", "false", "none"}
    | {"True", "False", "None", "loop", "self", "super", "varargs", "kwargs"}
)

_MAX_RANGE = 1000
_MAX_SIZE = MAX_SIZE  # longest string or list that `*` or a padding filter may build
_MAX_EXPONENT = 64
_MAX_POWER_BITS = 65_536  # the largest number `**` may build
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
            check_time()
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


class _Compiled:
    """Shared parts of templates and conditions: source, location, static analysis.

    Parsing happens at once (syntax errors, unknown filters and tests are compile errors);
    turning the tree into Python code waits for the first render, so that validating a
    large flow does not pay for code it never runs.
    """

    __slots__ = (
        "_ast",
        "_code",
        "_env",
        "_globals",
        "_names",
        "_plain",
        "campaign",
        "captures",
        "location",
        "source",
        "variables",
    )

    def __init__(
        self,
        source: str,
        location: Location,
        ast: nodes.Template | None,
        env: _Sandbox,
        names: Names | None = None,
    ):
        self.source = source
        self.location = location
        # a template without a tree was read by simple_names, which gives ``names``
        variables, captures, campaign = _analyse(ast, env) if ast is not None else names or NO_NAMES
        #: top-level names the template reads (variables and context names)
        self.variables: frozenset[str] = variables
        self._names = tuple(self.variables)
        #: names read as ``match.NAME`` or ``match['NAME']``
        self.captures: frozenset[str] = captures
        #: names read as ``campaign.NAME`` or ``campaign['NAME']``
        self.campaign: frozenset[str] = campaign
        self._ast: nodes.Template | None = ast
        self._env = env
        self._code: JinjaTemplate | None = None
        self._globals: dict[str, Any] = {}
        self._plain = None if names is None else plain_parts(source, env.globals)  # no Jinja

    @property
    def _template(self) -> JinjaTemplate:
        if self._code is None:
            ast = self._ast or _parse_template(self.source, self._env)
            self._code = self._env.from_string(ast)
            self._globals = dict(self._code.globals)
            self._ast = None
        return self._code

    def _new_context(self, picked: dict[str, Any]) -> Context:
        """A Jinja context holding ``picked`` and the globals, as ``Template.render`` makes
        one but with the globals flattened once, not copied twice per render (its record
        of them serves only imports, which flows cannot use)."""
        template = self._template
        env = template.environment
        parent = {**self._globals, **picked}
        return env.context_class(env, parent, template.name, template.blocks)

    def _picked(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The names of ``context`` this template reads (a lazy context builds no more)."""
        return {name: context[name] for name in self._names if name in context}

    def _run(self, context: Mapping[str, Any]) -> Any:
        picked = self._picked(context)
        try:
            if self._plain is not None:  # no loop, call or filter: nothing to time
                return render_plain(self._plain, picked, self._env)
            with time_limit:
                ctx = self._new_context(picked)
                return self._env.concat(self._template.root_render_func(ctx))
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

_UNAVAILABLE = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


def _analyse(ast: nodes.Template, env: _Sandbox) -> Names:
    """The names a template reads, the captures (``match.NAME``) and the campaign variables
    (``campaign.NAME``) it reads, in one walk of its tree; :class:`TemplateCompileError`
    for what flow templates cannot use (an ``include``, then an unknown filter, then an
    unknown test, each the first one in the tree)."""
    unavailable: nodes.Node | None = None
    unknown_filter: nodes.Filter | None = None
    unknown_test: nodes.Test | None = None
    scoping = False
    loaded: set[str] = set()
    attributes: dict[str, set[str]] = {"match": set(), "campaign": set()}
    for node in ast.find_all(nodes.Node):
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                loaded.add(node.name)
        elif isinstance(node, nodes.Getattr):
            if isinstance(node.node, nodes.Name) and node.node.name in attributes:
                attributes[node.node.name].add(node.attr)
        elif isinstance(node, nodes.Getitem):
            key = node.arg
            root = node.node.name if isinstance(node.node, nodes.Name) else None
            if root in attributes and isinstance(key, nodes.Const) and isinstance(key.value, str):
                attributes[root].add(key.value)
        elif isinstance(node, nodes.Filter):
            if unknown_filter is None and node.name not in env.filters:
                unknown_filter = node
        elif isinstance(node, nodes.Test):
            if unknown_test is None and node.name not in env.tests:
                unknown_test = node
        elif isinstance(node, _UNAVAILABLE):
            unavailable = unavailable or node
        if isinstance(node, _SCOPING):
            scoping = True
    if unavailable is not None:
        raise TemplateCompileError(
            f"{type(unavailable).__name__.lower()} is not available in flow templates",
            unavailable.lineno,
        )
    if unknown_filter is not None:
        raise TemplateCompileError(
            f"no filter named {unknown_filter.name!r}", unknown_filter.lineno
        )
    if unknown_test is not None:
        raise TemplateCompileError(f"no test named {unknown_test.name!r}", unknown_test.lineno)
    # Without any construct that binds names, every loaded name is free.
    names = meta.find_undeclared_variables(ast) if scoping else loaded  # exact, but slow
    return frozenset(names), frozenset(attributes["match"]), frozenset(attributes["campaign"])


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

    ``html=True`` compiles it with autoescaping, for the HTML part of a ``say``. Most
    templates are text with ``{{ name }}`` or ``{{ name.attribute }}`` in it; those are
    read without Jinja2 (:func:`simple_names`), so that validating a large flow does not
    pay for parsing them, and rendered without it (``ucwa_flow.flow._plain``).
    """

    __slots__ = ("html",)

    def __init__(self, source: str, location: Location, *, html: bool = False) -> None:
        env = _HTML if html else _TEXT
        names = simple_names(source)
        ast = _parse_template(source, env) if names is None else None
        super().__init__(source, location, ast, env, names)
        self.html = html

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context`` (see ``docs/flow-language.md``, "Template context")."""
        return str(self._run(context))


class _Expression(_Compiled):
    __slots__ = ()

    def __init__(self, source: str, location: Location) -> None:
        super().__init__(source, location, _parse_expression(source, _TEXT), _TEXT)

    def value(self, context: Mapping[str, Any]) -> Any:
        picked = self._picked(context)
        try:
            ctx = self._new_context(picked)
            with time_limit:
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

    __slots__ = ("_tree", "campaign", "captures", "location", "source", "variables")

    def __init__(self, source: Any, location: Location) -> None:
        self.source = source
        self.location = location
        parts: list[_Compiled] = []
        self._tree = _compile_tree(source, location, parts)
        self.variables: frozenset[str] = frozenset().union(*(p.variables for p in parts))
        self.captures: frozenset[str] = frozenset().union(*(p.captures for p in parts))
        self.campaign: frozenset[str] = frozenset().union(*(p.campaign for p in parts))

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

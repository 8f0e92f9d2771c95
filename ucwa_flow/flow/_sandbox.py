"""Templates, values and conditions, compiled once in a Jinja2 sandbox.

Flow authors write Jinja2: ``say: "Hi {{ caller.name }}"``, ``if: "misses > 2"``. Message
text is untrusted, so everything here runs in an
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`: no attribute starting with ``_``,
no mutation of lists or dicts, no imports, ``range`` capped, and ``*``/``**`` refuse to
build huge strings or numbers. HTML templates autoescape, so a caller's text cannot
inject markup into the bot's HTML replies.

Compilation errors are raised as :class:`TemplateCompileError` (the builder turns them
into located diagnostics), a tree nested deeper than :data:`MAX_NESTING` levels among
them (``{{ a + a + ... }}`` with a thousand terms: Jinja's and Python's compilers, which
recurse, would run out of stack); errors at render time, including sandbox violations
such as ``{{ ''.__class__ }}``, are raised as :class:`TemplateRenderError` with a safe
one-line message and the template's source location.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from ucwa_flow.bounded_json import not_data
from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow._diagnostics import Location
from ucwa_flow.flow._plain import JINJA_GLOBALS, Part, plain_parts, render_plain
from ucwa_flow.flow._render_time import time_limit
from ucwa_flow.flow._simple_templates import NO_NAMES, Names, simple_expression, simple_names
from ucwa_flow.flow._template_tree import (
    MAX_NESTING,
    TemplateCompileError,
    analyse,
    parse_expression,
    parse_template,
)

if TYPE_CHECKING:
    from jinja2 import Template as JinjaTemplate
    from jinja2 import nodes
    from jinja2.runtime import Context

    from ucwa_flow.flow._jinja_env import Sandbox as _Sandbox

__all__ = [
    "MAX_NESTING",
    "RESERVED_NAMES",
    "Condition",
    "Locate",
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

#: a tree deeper than this (its ``elif`` branches counted as levels: see ``analyse``)
#: is turned into Python when it is compiled, not when it is first rendered, so that what
#: Python refuses in its code (more than 20 nested loops, 100 levels of indentation, 200
#: nested parentheses, a thousand-odd ``elif`` branches) is a compile error too; a
#: shallower tree cannot come near those limits, and most templates are far shallower
_COMPILE_NOW = 16

_WHOLE_EXPRESSION = re.compile(r"\A\s*\{\{(?P<expr>(?:(?!\}\}|\{\{|\{%).)*)\}\}\s*\Z", re.DOTALL)
_ABSENT: Any = object()  # a name the context does not hold


class TemplateRenderError(UcwaFlowError):
    """Rendering failed (a sandbox violation or a runtime error); the message is safe to log."""


def _env(html: bool) -> _Sandbox:
    """The sandbox for HTML (autoescaping) or text templates. Jinja2 is imported here, on
    first use: validating a flow whose templates are all plain (``_simple_templates``)
    never needs it, nor does anything before a template is parsed or rendered."""
    global _jinja
    if _jinja is None:
        from ucwa_flow.flow import _jinja_env

        _jinja = _jinja_env
    return cast("_Sandbox", _jinja.HTML if html else _jinja.TEXT)


#: :mod:`ucwa_flow.flow._jinja_env` (Jinja2 and the sandbox) once :func:`_env` ran
_jinja: Any = None


def __getattr__(name: str) -> Any:
    if name in ("_TEXT", "_HTML"):  # the two sandboxes, as they were named before
        return _env(name == "_HTML")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        "fields",
        "location",
        "source",
        "variables",
    )

    def __init__(
        self,
        source: str,
        location: Location,
        ast: nodes.Template | None,
        env: _Sandbox | None,
        names: Names | None = None,
    ):
        self.source = source
        self.location = location
        # a template without a tree was read by simple_names, which gives ``names``; its
        # sandbox (``env``) is found when it is first rendered
        depth, analysed = analyse(ast, cast("_Sandbox", env)) if ast is not None else (0, None)
        variables, captures, campaign, fields = analysed or names or NO_NAMES
        #: top-level names the template reads (variables and context names)
        self.variables: frozenset[str] = variables
        self._names = tuple(self.variables)
        #: names read as ``match.NAME`` or ``match['NAME']``
        self.captures: frozenset[str] = captures
        #: names read as ``campaign.NAME`` or ``campaign['NAME']``
        self.campaign: frozenset[str] = campaign
        #: fields read of the context's fixed-shape names: ``"caller.name"``
        self.fields: frozenset[str] = fields
        self._ast: nodes.Template | None = ast
        self._env = env
        self._code: JinjaTemplate | None = None
        self._globals: dict[str, Any] = {}
        # a simple template is rendered without Jinja2 (``_plain``; set by Template)
        self._plain: tuple[Part, ...] | None = None
        if depth > _COMPILE_NOW:
            self._compile_now()

    def _compile_now(self) -> None:
        """Turn the tree into Python at once: :class:`TemplateCompileError` when Python
        refuses the code for its nesting (see :data:`_COMPILE_NOW`), or Jinja2 the tree."""
        from jinja2.exceptions import TemplateSyntaxError

        try:
            self._template  # noqa: B018 (compiled and kept for the first render)
        except TemplateSyntaxError as exc:
            raise TemplateCompileError(exc.message or "syntax error", exc.lineno) from None
        except (SyntaxError, RecursionError, MemoryError) as exc:
            detail = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
            raise TemplateCompileError(f"nested too deeply to run ({detail})") from None

    @property
    def _template(self) -> JinjaTemplate:
        if self._code is None:
            env = self._env = self._env or self._environment()
            ast = self._ast or self._parse(env)
            self._code = env.from_string(ast)
            self._globals = dict(self._code.globals)
            self._ast = None
        return self._code

    def _environment(self) -> _Sandbox:
        return _env(False)

    def _parse(self, env: _Sandbox) -> nodes.Template:
        return parse_template(self.source, env)

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
        picked = {}  # a loop, not a comprehension: no frame of its own (one per render)
        for name in self._names:
            value = context.get(name, _ABSENT)  # as ``name in context``, then ``context[name]``
            if value is not _ABSENT:
                picked[name] = value
        return picked

    def _run(self, context: Mapping[str, Any]) -> Any:
        picked = self._picked(context)
        try:
            if self._plain is not None:  # no loop, call or filter: nothing to time
                env = self._env = self._env or self._environment()
                return render_plain(self._plain, picked, env)
            with time_limit:
                ctx = self._new_context(picked)
                return self._env.concat(self._template.root_render_func(ctx))  # type: ignore[union-attr]
        except Exception as exc:  # any runtime failure of user code is reported, not raised
            raise self._failure(exc) from None

    def _failure(self, exc: Exception) -> TemplateRenderError:
        """What a render that raised ``exc`` reports."""
        if isinstance(exc, _jinja.SecurityError):
            return TemplateRenderError(f"{self.location}: unsafe template: {exc}")
        return TemplateRenderError(f"{self.location}: template failed: {type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


class Template(_Compiled):
    """A text template: ``render(context) -> str``.

    ``html=True`` compiles it with autoescaping, for the HTML part of a ``say``. Most
    templates are text with ``{{ name }}`` or ``{{ name.attribute }}`` in it; those are
    read without Jinja2 (:func:`simple_names`), so that validating a large flow does not
    pay for parsing them, and rendered without it (``ucwa_flow.flow._plain``).
    """

    __slots__ = ("html",)

    def __init__(self, source: str, location: Location, *, html: bool = False) -> None:
        self.html = html
        names = simple_names(source)
        env = _env(html) if names is None else None
        ast = parse_template(source, env) if env is not None else None
        super().__init__(source, location, ast, env, names)
        if names is not None:
            self._plain = plain_parts(source, JINJA_GLOBALS)

    def _environment(self) -> _Sandbox:
        return _env(self.html)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context`` (see ``docs/flow-language.md``, "Template context")."""
        plain, env = self._plain, self._env
        if plain is None or env is None:
            return str(self._run(context))
        picked = {}  # what ``_run`` does, ``_picked`` inline: a call less (a say each)
        for name in self._names:
            value = context.get(name, _ABSENT)
            if value is not _ABSENT:
                picked[name] = value
        try:
            return render_plain(plain, picked, env)
        except Exception as exc:
            raise self._failure(exc) from None


class _Expression(_Compiled):
    __slots__ = ()

    def __init__(self, source: str, location: Location) -> None:
        names = simple_expression(source)
        env = _env(False) if names is None else None
        ast = parse_expression(source, env) if env is not None else None
        super().__init__(source, location, ast, env, names)

    def _parse(self, env: _Sandbox) -> nodes.Template:
        return parse_expression(self.source, env)

    def value(self, context: Mapping[str, Any]) -> Any:
        picked = self._picked(context)
        try:
            ctx = self._new_context(picked)
            with time_limit:
                for _ in self._template.root_render_func(ctx):
                    pass
        except _jinja.SecurityError as exc:
            raise TemplateRenderError(f"{self.location}: unsafe expression: {exc}") from None
        except Exception as exc:
            raise TemplateRenderError(
                f"{self.location}: expression failed: {type(exc).__name__}: {exc}"
            ) from None
        result = ctx.vars.get("result")
        return None if isinstance(result, _jinja.Undefined) else result


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

    Each template of the tree is one of :attr:`parts`, located by ``locate`` (given the
    keys and indexes that lead to it from the value: ``("list",)``, ``("items", 0)``) or,
    without it, at ``location``, the value's. What the value reads is what its parts read,
    each part read on its own (a name one part binds, ``{% for state in items %}``, is
    still the context's in another: F124 checks each part's fields, at the part). A part
    that does not compile raises :class:`TemplateCompileError` with its ``location``.
    """

    __slots__ = (
        "_tree",
        "campaign",
        "captures",
        "fields",
        "location",
        "parts",
        "source",
        "variables",
    )

    def __init__(self, source: Any, location: Location, locate: Locate | None = None) -> None:
        self.source = source
        self.location = location
        parts: list[_Compiled] = []
        self._tree = _compile_tree(source, (), location, locate, parts)
        #: the templates of the tree, in its order
        self.parts: tuple[_Compiled, ...] = tuple(parts)
        self.variables: frozenset[str] = frozenset().union(*(p.variables for p in parts))
        self.captures: frozenset[str] = frozenset().union(*(p.captures for p in parts))
        self.campaign: frozenset[str] = frozenset().union(*(p.campaign for p in parts))
        self.fields: frozenset[str] = frozenset().union(*(p.fields for p in parts))

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """Evaluate to plain JSON data (dicts, lists, text, numbers, booleans, None);
        :class:`TemplateRenderError` for a value nested deeper than ``MAX_DEPTH`` levels, or
        one that is no JSON data (``namespace()``, ``range(3)``: no store takes it).

        A value can nest without bound otherwise: ``set: {v: "{{ [v] }}"}`` on every
        message made ``v`` one level deeper each time, and after some 490 messages
        ``copy.deepcopy`` (a durable bot's commit) ended the bot in a RecursionError. The
        bound is JSON's from outside the bot (:mod:`ucwa_flow.bounded_json`), a webhook's
        answer's among them, so that no variable nests deeper, however it was set."""
        result = _evaluate_tree(self._tree, context)
        problem = not_data(result)
        if problem is not None:
            raise TemplateRenderError(f"{self.location}: {problem}")
        return result

    def __repr__(self) -> str:
        return f"Value({self.source!r})"


#: where a part of a value is, given its keys and indexes within the value
Locate = Callable[[tuple[str | int, ...]], Location]


def _compile_tree(
    source: Any,
    path: tuple[str | int, ...],
    location: Location,
    locate: Locate | None,
    parts: list[_Compiled],
) -> Any:
    if isinstance(source, str):
        if "{" not in source:
            return source  # a constant text: nothing to compile, nor to locate
        if path and locate is not None:
            location = locate(path)
        whole = _WHOLE_EXPRESSION.match(source)
        compiled: _Compiled
        try:
            if whole:
                compiled = _Expression(whole.group("expr"), location)
            else:
                compiled = Template(source, location)
        except TemplateCompileError as exc:
            exc.location = location  # F112 at the part, not at the value
            raise
        parts.append(compiled)
        return compiled
    if isinstance(source, list):
        return [
            _compile_tree(item, (*path, i), location, locate, parts)
            for i, item in enumerate(source)
        ]
    if isinstance(source, dict):
        return {
            key: _compile_tree(item, (*path, key), location, locate, parts)
            for key, item in source.items()
        }
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

"""A template's tree: parsed by Jinja2, and read in one walk (:func:`analyse`).

:mod:`ucwa_flow.flow._sandbox` compiles templates and runs them; this is what it learns of
a template before it runs: whether its tree nests too deeply for Jinja's and Python's
compilers (which recurse: :data:`MAX_NESTING`), whether it uses what flow templates cannot
(an ``include``, an unknown filter or test), and which names, captures, campaign variables
and fields of ``caller``, ``message``, ``conversation`` and ``now`` it reads (of those
names only where they are the context's: see :func:`analyse`). Errors are
:class:`TemplateCompileError`, with the line within the template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow._simple_templates import Names

if TYPE_CHECKING:
    from jinja2 import nodes

    from ucwa_flow.flow._diagnostics import Location
    from ucwa_flow.flow._jinja_env import Sandbox

__all__ = [
    "MAX_NESTING",
    "TOO_DEEP",
    "TemplateCompileError",
    "analyse",
    "parse_expression",
    "parse_template",
]

#: how deep a template's or condition's tree may nest (expressions in expressions, blocks
#: in blocks; as deep as a flow's YAML, ``MAX_DEPTH``): deeper is a compile error
MAX_NESTING = 64


class TemplateCompileError(UcwaFlowError):
    """A template or condition that does not compile; ``lineno`` is 1-based within it.
    ``location`` is the part of a value that does not compile (``None``: the whole)."""

    def __init__(self, message: str, lineno: int = 1) -> None:
        super().__init__(message)
        self.lineno = lineno
        self.location: Location | None = None


def analyse(ast: nodes.Template, env: Sandbox) -> tuple[int, Names]:
    """How deep the tree's Python code nests (see below), and the names a template reads,
    the captures (``match.NAME``) and the campaign variables (``campaign.NAME``) it reads,
    in one walk
    of its tree; :class:`TemplateCompileError` for a tree nested deeper than
    :data:`MAX_NESTING` (found first: the tree is walked with a list of its own, not
    recursion) and for what flow templates cannot use (an ``include``, then an unknown
    filter, then an unknown test, each the first one in the tree).

    The depth returned is the tree's plus its ``{% elif %}`` branches: Jinja2 keeps an
    ``if``'s ``elif`` branches side by side (3,000 of them are a tree 6 levels deep), but
    Python nests each ``elif`` in the one before, in its syntax tree and its compiler, which
    recurse: 3,000 branches passed validate, then every render ended in a RecursionError
    as the code was compiled. Counting them sends such a template to
    :meth:`_Compiled._compile_now` as the flow loads; the ``elif`` branches are not
    :data:`MAX_NESTING` levels (a hundred compile and run).

    The fields (``"caller.name"``) are those of the context's names only: a name the
    template binds anywhere (a loop's target, ``set``, ``with``, a macro's or a call
    block's parameter, the ``caller`` a macro or a call block reads) is left out, fields
    and all: ``{% for message in items %}{{ message.text }}{% endfor %}`` reads an item's
    field, even where the same name is the context's elsewhere in the template
    (``{{ message }}`` beside the loop): which read is whose is Jinja2's scoping, not
    repeated here."""
    from jinja2 import meta, nodes
    from jinja2.exceptions import TemplateSyntaxError

    from ucwa_flow.flow import _jinja_env
    from ucwa_flow.flow._simple_templates import FIELD_ROOTS

    unavailable: nodes.Node | None = None
    unknown_filter: nodes.Filter | None = None
    unknown_test: nodes.Test | None = None
    scoping = False
    loaded: set[str] = set()
    bound: set[str] = set()  # names the template binds itself (ctx "store" or "param")
    macros: list[nodes.Macro | nodes.CallBlock] = []
    attributes: dict[str, set[str]] = {"match": set(), "campaign": set()}
    attributes.update((root, set()) for root in FIELD_ROOTS)
    deepest = elifs = 0
    pending = [(child, 2) for child in reversed(list(ast.iter_child_nodes()))]
    while pending:  # the order of ``ast.find_all``: each node, then its children
        node, depth = pending.pop()
        if depth > deepest:
            if depth > MAX_NESTING:
                raise TemplateCompileError(TOO_DEEP, node.lineno)
            deepest = depth
        children = list(node.iter_child_nodes())
        if children:
            pending.extend((child, depth + 1) for child in reversed(children))
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                loaded.add(node.name)
            else:
                bound.add(node.name)
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
        elif isinstance(node, nodes.If):
            elifs += len(node.elif_)
        elif isinstance(node, _jinja_env.UNAVAILABLE):
            unavailable = unavailable or node
        if isinstance(node, _jinja_env.SCOPING):
            scoping = True
            if isinstance(node, nodes.Macro | nodes.CallBlock):
                macros.append(node)
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
    try:
        names = meta.find_undeclared_variables(ast) if scoping else loaded  # exact, but slow
    except TemplateSyntaxError as exc:  # what Jinja2's code generator refuses, as it would
        # at the first render: ``{% for loop in items %}``
        raise TemplateCompileError(exc.message or "syntax error", exc.lineno) from None
    for macro in macros:  # a macro's name; ``caller`` in its body is its caller's
        if isinstance(macro, nodes.Macro):
            bound.add(macro.name)
        if any(name.name == "caller" for name in macro.find_all(nodes.Name)):
            bound.add("caller")
    roots = FIELD_ROOTS - bound
    fields = frozenset(f"{root}.{attr}" for root in roots for attr in attributes[root])
    found = (frozenset(names), frozenset(attributes["match"]), frozenset(attributes["campaign"]))
    return deepest + elifs, (*found, fields)


TOO_DEEP = f"nested too deeply (at most {MAX_NESTING} levels of expressions and blocks)"


def parse_template(source: str, env: Sandbox) -> nodes.Template:
    from jinja2.exceptions import TemplateSyntaxError

    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateCompileError(exc.message or "syntax error", exc.lineno) from None
    except RecursionError:  # Jinja's parser recurses: ``((((...))))``, ``[[[[...]]]]``
        raise TemplateCompileError(TOO_DEEP) from None


def parse_expression(source: str, env: Sandbox) -> nodes.Template:
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError
    from jinja2.parser import Parser

    parser = Parser(env, source, state="variable")
    try:
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", 1)
    except TemplateSyntaxError as exc:
        raise TemplateCompileError(exc.message or "syntax error", exc.lineno) from None
    except RecursionError:
        raise TemplateCompileError(TOO_DEEP) from None
    body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
    ast = nodes.Template(body, lineno=1)
    ast.set_environment(env)
    return ast

"""Templates that need no parser: text with ``{{ name }}`` or ``{{ name.attribute }}``.

Most flow templates are such (``Hello {{ caller.name }}``, ``Code {{ match.code }}``). What
validating needs of them (the variables and captures they read) shows in the text, and
they cannot have a syntax error, so :func:`simple_names` reads them with one regular
expression instead of Jinja2's lexer and parser; the sandbox parses them at their first
render. A plain expression may also join such names and quoted texts (no backslash, brace,
``%`` or ``#`` in them) with ``or`` and ``and``: ``{{ description or "none given" }}``;
:func:`simple_expression` reads a value's or a condition's expression of that form. Any
other template, and any whose names Jinja2 reads as constants or operators
(``{{ none }}``), or that joins more than :data:`MAX_OPERANDS` operands and attributes
(its tree nests as deep: the sandbox checks that depth as it parses), gets ``None``: it is
parsed as before.
When every template of a flow is plain, validating it does not import Jinja2.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

__all__ = [
    "FIELD_ROOTS",
    "MAX_OPERANDS",
    "NO_NAMES",
    "Names",
    "simple_expression",
    "simple_names",
]

#: what a template reads: its variables, its captures (``match.NAME``), its campaign
#: variables (``campaign.NAME``) and the fields it reads of the context's names of a fixed
#: shape (``caller.name``, written ``"caller.name"``: see :data:`FIELD_ROOTS`)
Names = tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]
NO_NAMES: Names = (frozenset(), frozenset(), frozenset(), frozenset())
#: the names of the template context whose fields are known (F124 checks them)
FIELD_ROOTS = frozenset(
    {"caller", "message", "webhook", "conversation", "delivery", "now", "state", "flow"}
)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_STRING = r"""(?:"[^"\\{}%#\n]*"|'[^'\\{}%#\n]*')"""
_OPERAND = rf"(?:{_NAME}(?:\.{_NAME})*|{_STRING})"
#: names and quoted texts joined by ``or`` and ``and``
_EXPRESSION = rf" *{_OPERAND}(?: +(?:or|and) +{_OPERAND})* *"
#: text (no ``{{``, ``{%`` or ``{#``) and ``{{ expression }}``
_SIMPLE = re.compile(rf"(?:[^{{]|\{{(?![{{%#])|\{{\{{{_EXPRESSION}\}}\}})*\Z")
_BLOCK = re.compile(rf"\{{\{{({_EXPRESSION})\}}\}}")
#: a block that reads one name or attribute: ``{{ name.attribute }}``
_REFERENCE = re.compile(rf"\{{\{{ *({_NAME})((?:\.{_NAME})*) *\}}\}}")
_WHOLE = re.compile(rf"{_EXPRESSION}\Z")
#: an operand or an operator, in turn
_TOKEN = re.compile(rf"{_STRING}|({_NAME})((?:\.{_NAME})*)")
#: the most operands a plain expression joins, less the attributes of its longest
#: ``name.a.b`` chain: Jinja2 nests ``a or b or c`` one level an operator, and ``s.a.b``
#: one level an attribute; a plain template is parsed only at its first render, where the
#: sandbox's checks on deep trees (``_sandbox._COMPILE_NOW``, ``MAX_NESTING``) do not run,
#: so one that may nest deeper is parsed as the flow loads (``s.x.x...`` with 250
#: attributes passed validate, then failed every render: 200 nested parentheses)
MAX_OPERANDS = 12
#: names Jinja2 reads as constants or operators, or that Python reserves: parsed as usual
_WORDS = frozenset(
    {"true", "false", "none", "and", "or", "not", "in", "is", "if", "else", "self"}
)  # ``self`` is Jinja2's reference to the template


def simple_names(source: str) -> Names | None:
    """The variables, the captures and the campaign variables of a template that is text
    with plain expressions (``{{ name }}``, ``{{ name.attribute }}``, ``{{ a or "b" }}``)
    in it, as the sandbox finds them in its tree; ``None`` for any other template (it is
    parsed)."""
    if _SIMPLE.match(source) is None:
        return None
    return _names(found.group(1) for found in _BLOCK.finditer(source))


def simple_expression(source: str) -> Names | None:
    """Like :func:`simple_names`, for an expression (what ``{{ }}`` would hold)."""
    if _WHOLE.match(source) is None:
        return None
    return _names((source,))


def _names(expressions: Iterable[str]) -> Names | None:
    variables: set[str] = set()
    captures: set[str] = set()
    campaign: set[str] = set()
    fields: set[str] = set()
    for expression in expressions:
        operands = longest = 0  # operands and the longest attribute chain: see MAX_OPERANDS
        for i, found in enumerate(_TOKEN.finditer(expression)):
            if i % 2:  # an operator (the expression was matched whole)
                continue
            operands += 1
            if found.group(1) is None:  # a quoted text
                if operands + longest > MAX_OPERANDS:
                    return None
                continue
            name, attributes = found.group(1), found.group(2).split(".")[1:]
            longest = max(longest, len(attributes))
            if operands + longest > MAX_OPERANDS:
                return None
            if any(keyword.iskeyword(n) or n.lower() in _WORDS for n in (name, *attributes)):
                return None
            variables.add(name)
            if name == "match" and attributes:
                captures.add(attributes[0])
            elif name == "campaign" and attributes:
                campaign.add(attributes[0])
            elif name in FIELD_ROOTS and attributes:
                fields.add(f"{name}.{attributes[0]}")
    return frozenset(variables), frozenset(captures), frozenset(campaign), frozenset(fields)

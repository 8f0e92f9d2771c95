"""Templates that need no parser: text with ``{{ name }}`` or ``{{ name.attribute }}``.

Most flow templates are such (``Hello {{ caller.name }}``, ``Code {{ match.code }}``). What
validating needs of them (the variables and captures they read) shows in the text, and
they cannot have a syntax error, so :func:`simple_names` reads them with one regular
expression instead of Jinja2's lexer and parser; the sandbox parses them at their first
render. Any other template, and any whose names Jinja2 reads as constants or operators
(``{{ none }}``), gets ``None``: it is parsed as before.
"""

from __future__ import annotations

import keyword
import re

__all__ = ["NO_NAMES", "Names", "simple_names"]

#: what a template reads: its variables, its captures (``match.NAME``) and its campaign
#: variables (``campaign.NAME``)
Names = tuple[frozenset[str], frozenset[str], frozenset[str]]
NO_NAMES: Names = (frozenset(), frozenset(), frozenset())
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: text (no ``{{``, ``{%`` or ``{#``) and ``{{ name }}``/``{{ name.attribute... }}``
_SIMPLE = re.compile(rf"(?:[^{{]|\{{(?![{{%#])|\{{\{{ *{_NAME}(?:\.{_NAME})* *\}}\}})*\Z")
_REFERENCE = re.compile(rf"\{{\{{ *({_NAME})((?:\.{_NAME})*) *\}}\}}")
#: names Jinja2 reads as constants or operators, or that Python reserves: parsed as usual
_WORDS = frozenset({"true", "false", "none", "and", "or", "not", "in", "is", "if", "else"})


def simple_names(source: str) -> Names | None:
    """The variables, the captures and the campaign variables of a template that is text
    with ``{{ name }}`` or ``{{ name.attribute }}`` in it, as the sandbox finds them in its
    tree; ``None`` for any other template (it is parsed)."""
    if _SIMPLE.match(source) is None:
        return None
    variables: set[str] = set()
    captures: set[str] = set()
    campaign: set[str] = set()
    for found in _REFERENCE.finditer(source):
        name, attributes = found.group(1), found.group(2).split(".")[1:]
        if any(keyword.iskeyword(n) or n.lower() in _WORDS for n in (name, *attributes)):
            return None
        variables.add(name)
        if name == "match" and attributes:
            captures.add(attributes[0])
        elif name == "campaign" and attributes:
            campaign.add(attributes[0])
    return frozenset(variables), frozenset(captures), frozenset(campaign)

"""Simple templates rendered without Jinja2, to the same text.

A template that is text with ``{{ name }}`` or ``{{ name.attribute }}`` in it (what
:func:`~ucwa_flow.flow._simple_templates.simple_names` recognises: most flow templates,
``You said: {{ message }}``) compiles in Jinja2 to code that yields the text and, for each
reference, the name looked up in the context (Jinja2's ``Undefined`` when it is missing),
each attribute read through the sandbox's ``getattr``, converted with ``str`` (``escape``
in an autoescaping environment); the parts are joined. :func:`render_plain` does just
that, with the environment's own ``undefined``, ``getattr`` and conversion, for about a
tenth of the work of setting up Jinja2's context, evaluation context and generator.

The text between references is the template's source with its line breaks written as
``\\n``, as Jinja2's lexer gives it (``newline_sequence`` is not changed in flows). A
template that names one of the environment's globals (``{{ range }}``) is left to Jinja2,
which reads those from its globals. ``tests/flow/test_plain_templates.py`` renders many
templates and values both ways and compares the text (or the error).
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from typing import TYPE_CHECKING, Any

from markupsafe import escape

from ucwa_flow.flow._simple_templates import _BLOCK as BLOCK
from ucwa_flow.flow._simple_templates import _REFERENCE as REFERENCE

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = ["JINJA_GLOBALS", "Part", "plain_parts", "render_plain"]

#: the names the sandboxes hold as globals (Jinja2's own; a test compares), known here
#: without importing Jinja2, which validating a flow of plain templates does not need
JINJA_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace"})

#: a text, or a reference: the name and the attributes read from it in turn
Part = str | tuple[str, tuple[str, ...]]

_NEWLINE = re.compile(r"\r\n|\r")  # Jinja2's lexer writes every line break as "\n"
_MISSING = object()


def plain_parts(source: str, names_of_globals: Container[str]) -> tuple[Part, ...] | None:
    """The parts of ``source``, a template :func:`simple_names` read; ``None`` when one of
    its blocks is more than a reference (``{{ a or "b" }}``) or reads one of
    ``names_of_globals`` (Jinja2 renders it)."""
    parts: list[Part] = []
    end = 0
    for block in BLOCK.finditer(source):
        found = REFERENCE.fullmatch(source, block.start(), block.end())
        if found is None:
            return None
        name = found.group(1)
        if name in names_of_globals:
            return None
        if found.start() > end:
            parts.append(_NEWLINE.sub("\n", source[end : found.start()]))
        parts.append((name, tuple(found.group(2).split(".")[1:])))
        end = found.end()
    if end < len(source):
        parts.append(_NEWLINE.sub("\n", source[end:]))
    return tuple(parts)


def render_plain(
    parts: tuple[Part, ...], picked: Mapping[str, Any], env: SandboxedEnvironment
) -> str:
    """The text of ``parts`` with the names in ``picked``, as the environment ``env``
    renders the template: its ``undefined`` for a missing name, its ``getattr`` for an
    attribute, ``escape`` when it autoescapes, else ``str``. Raises what Jinja2 would."""
    convert = escape if env.autoescape else str
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        name, attributes = part
        value = picked.get(name, _MISSING)
        if value is _MISSING:
            value = env.undefined(name=name)
        for attribute in attributes:
            value = env.getattr(value, attribute)
        out.append(convert(value))
    return "".join(out)

"""Simple templates render without Jinja2 (``ucwa_flow.flow._plain``) to Jinja2's text.

Every template here is rendered twice, by the plain renderer and by the Jinja2 sandbox
(the same :class:`Template` with its plain parts taken away), in the same context: the
text, or the error message, must be the same. The values cover what a context holds and
what a flow author may put in variables (``None``, numbers, booleans, strings with markup,
``Markup``, lists, dicts, a datetime) and worse (a value whose ``str`` fails); the
templates cover missing names, missing attributes, attributes of a missing name, unsafe
and mutating attributes, methods, line breaks, stray braces, and both the text and the
autoescaping HTML environment. Secrets are not the renderer's business: a transcript line
is cleaned of them after it is rendered (``runtime.records.without_secrets``).
"""

from __future__ import annotations

import copy
import datetime
import random
from typing import Any, ClassVar

import pytest
from markupsafe import Markup

from ucwa_flow.flow import Location, Say, Template, TemplateRenderError, load_flow_text
from ucwa_flow.flow._sandbox import RESERVED_NAMES
from ucwa_flow.flow._simple_templates import simple_names

HERE = Location("t.yaml", 3, 7)


class _Loud:
    def __str__(self) -> str:
        raise ValueError("no text for this one")


class _Shown:
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return f"shown {self.text}"

    def __html__(self) -> str:
        return f"<em>{self.text}</em>"


VALUES: list[Any] = [
    None,
    0,
    -3,
    1.5,
    1e100,
    True,
    False,
    "",
    "plain words",
    "<b>bold</b> & 'quoted' \"twice\"",
    "line\r\nbreaks\rkept",
    "{{ not a template }}",
    Markup("<i>trusted</i> &amp;"),
    [1, "a", None],
    (),
    {"name": "Ann <ann@x>", "code": 42, "inner": {"deep": Markup("<u>d</u>")}},
    {"name": None},
    {},
    datetime.datetime(2026, 12, 1, 18, 30, tzinfo=datetime.UTC),
    _Shown("s&s"),
    _Loud(),
]

REFERENCES = [
    "{{ a }}",
    "{{a}}",
    "{{  a  }}",
    "{{ b }}",
    "{{ missing }}",
    "{{ a.name }}",
    "{{ a.code }}",
    "{{ a.inner.deep }}",
    "{{ a.inner.missing }}",
    "{{ missing.name }}",
    "{{ a.items }}",
    "{{ a.update }}",
    "{{ a.append }}",
    "{{ a.__class__ }}",
    "{{ a._private }}",
    "{{ a.year }}",
    "{{ a.text }}",
    "{{ a.real }}",
]

TEXTS = [
    "",
    "You said: ",
    "Hi ",
    "! ",
    "<p>",
    "a & b",
    "\r\n",
    "\n",
    "\r",
    "{ ",
    " }}",
    "}",
    "{",
    "{x}",
    "% #",
    "é ✓ ",
]


def _pair(source: str, *, html: bool) -> tuple[Template, Template]:
    """The template, and the same one rendered by Jinja2 (its plain parts taken away)."""
    template = Template(source, HERE, html=html)
    assert template._plain is not None, f"{source!r} is not a plain template"
    jinja = copy.copy(template)
    jinja._plain = None
    return template, jinja


def _both(source: str, context: dict[str, Any], *, html: bool) -> tuple[str, str]:
    """The template's text (or error) rendered plainly and by Jinja2."""
    template, jinja = _pair(source, html=html)
    return _outcome(template, context), _outcome(jinja, context)


def _outcome(template: Template, context: dict[str, Any]) -> str:
    try:
        return "text: " + template.render(context)
    except TemplateRenderError as exc:
        return f"error: {exc}"


def _templates() -> list[str]:
    rng = random.Random(17)
    made = [text + ref for text in TEXTS for ref in REFERENCES[:3]]
    made += [ref + text for ref in REFERENCES for text in TEXTS[:4]]
    for _ in range(300):
        pieces = rng.choices(TEXTS + REFERENCES, k=rng.randint(1, 6))
        made.append("".join(pieces))
    return [source for source in dict.fromkeys(made) if _plain(source)]


def _plain(source: str) -> bool:
    return simple_names(source) is not None


@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
def test_plain_and_jinja_renders_give_the_same_text_or_error(html: bool) -> None:
    pairs = [_pair(source, html=html) for source in _templates()]
    assert len(pairs) > 300
    compared = 0
    for a in VALUES:
        for b in (None, "second", 7):
            context = {"a": a, "b": b}
            for template, jinja in pairs:
                plain = _outcome(template, context)
                assert plain == _outcome(jinja, context), (template.source, a, b)
                compared += 1
    assert compared > 20_000


def test_the_comparison_can_tell_a_difference() -> None:
    template = Template("x {{ a }}", HERE)
    jinja = copy.copy(template)
    jinja._plain = None
    assert template._plain is not None
    template._plain = ("x ", ("a", ()), "!")  # a renderer that adds a character
    assert _outcome(template, {"a": 1}) != _outcome(jinja, {"a": 1})


def test_an_escape_attempt_fails_the_same_way_plainly() -> None:
    plain, jinja = _both("{{ a.__class__ }}", {"a": "text"}, html=False)
    assert plain == jinja
    assert plain.startswith("error: t.yaml:3:7: unsafe template: access to '__class__'")
    plain, jinja = _both("{{ a.update }}", {"a": {}}, html=False)
    assert plain == jinja
    assert "unsafe template" in plain


def test_simple_templates_render_without_compiling_jinja() -> None:
    template = Template("You said: {{ message }}", HERE)
    assert template.render({"message": "hi"}) == "You said: hi"
    assert template._code is None  # Jinja2 never turned it into code


@pytest.mark.parametrize("name", sorted({"range", "dict", "lipsum", "cycler", "joiner"}))
def test_a_template_naming_a_global_is_left_to_jinja(name: str) -> None:
    assert name in RESERVED_NAMES
    template = Template(f"{{{{ {name} }}}}", HERE)
    assert template._plain is None
    assert template.render({}).startswith("<")  # the global itself, as Jinja2 shows it


def test_non_simple_templates_are_left_to_jinja() -> None:
    for source in ["{{ a | upper }}", "{{ a + 1 }}", "{% if a %}x{% endif %}", "{{ a['b'] }}"]:
        assert Template(source, HERE)._plain is None


def test_a_flow_says_the_same_with_the_lazy_context() -> None:
    """Through a flow's own templates and a running conversation's context (the engine's
    path), both renderers give the same text."""
    from ucwa_flow.runtime.context import Context

    flow = load_flow_text(_FLOW, "f.flow.yaml").flow
    assert flow is not None
    say = flow.states["s"].enter[0]
    assert isinstance(say, Say)

    class _Instance:
        variables: ClassVar[dict[str, Any]] = {"pin": "1234", "n": 3}
        state = "s"
        caller_uri = "sip:ann@x"
        caller_name = None

    context = Context(_Instance(), {"message": "<hi>"})  # type: ignore[arg-type]
    for part in (say.text, say.html):
        assert part is not None
        assert part._plain is not None
        jinja = copy.copy(part)
        jinja._plain = None
        assert part.render(context) == jinja.render(context)
    assert say.text is not None
    assert say.text.render(context) == "ann: <hi> (1234, 3) s"


_FLOW = """\
version: 1
name: f
start: s
secrets: [pin]
settings:
  format: html
variables:
  pin: "0000"
  n: 0
states:
  s:
    enter:
      - say:
          text: "{{ caller.name }}: {{ message }} ({{ pin }}, {{ vars.n }}) {{ state }}"
          html: "<b>{{ caller.name }}</b>: {{ message }} ({{ pin }})"
"""


def test_the_globals_known_without_jinja_are_the_sandboxes_own() -> None:
    from ucwa_flow.flow import _jinja_env
    from ucwa_flow.flow._plain import JINJA_GLOBALS

    assert set(_jinja_env.TEXT.globals) == set(JINJA_GLOBALS)
    assert set(_jinja_env.HTML.globals) == set(JINJA_GLOBALS)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ('{{ a or "none given" }}', "none given"),
        ("x {{ a }} {{ b and a }}", "x None None"),
        ("{{ c.name or b }}!", "B!"),
    ],
)
def test_plain_expressions_beyond_a_reference_are_left_to_jinja(source: str, text: str) -> None:
    # validate reads these without a parser (simple_names); Jinja2 renders them
    assert simple_names(source) is not None
    template = Template(source, HERE)
    assert template._plain is None
    assert template.render({"a": None, "b": "B", "c": {}}) == text


@pytest.mark.parametrize("source", ["a {{ self }} b", "a {{ self.x }} b"])
def test_self_is_jinjas_template_reference_not_a_plain_name(source: str) -> None:
    template = Template(source, HERE)
    assert template._plain is None
    jinja = _outcome(template, {})
    assert jinja.startswith("text: a "), jinja


def test_expressions_are_never_rendered_as_plain_text() -> None:
    from ucwa_flow.flow import Condition

    condition = Condition("misses", HERE)
    assert condition._plain is None

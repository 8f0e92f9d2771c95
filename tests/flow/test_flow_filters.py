"""Every filter and test the docs list works inside the sandbox; a render error is reported.

The lists are read from ``docs/flow-language.md`` ("Filters and tests"), so a name added
to the docs without a working sample here fails, and so does one the sandbox lacks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from ucwa_flow.flow import Location, Template, TemplateRenderError, load_flow_text
from ucwa_flow.testing import load_script, run_scenario

ROOT = Path(__file__).resolve().parents[2]
HERE = Location("t.flow.yaml", 4, 9)


def _documented(label: str) -> list[str]:
    text = (ROOT / "docs" / "flow-language.md").read_text("utf-8")
    section = text.split("### Filters and tests", 1)[1].split("\n## ", 1)[0]
    paragraph = next(p for p in section.split("\n\n") if p.startswith(label))
    return re.findall(r"`([^`]+)`", paragraph.split(":", 1)[1])


FILTERS = _documented("Filters:")
TESTS = _documented("Tests (")

CONTEXT: dict[str, Any] = {
    "message": "Hello world",
    "n": -3.7,
    "items": [3, 1, 2, 2],
    "people": [{"name": "ann", "age": 30}, {"name": "bob", "age": 25}],
    "d": {"b": 2, "a": 1},
    "size": 2048,
    "url": "see http://x.org",
    "html": "<b>hi</b>",
}

#: one template per filter, and what it renders with CONTEXT
FILTER_SAMPLES: dict[str, tuple[str, str]] = {
    "abs": ("{{ n | abs }}", "3.7"),
    "attr": ("{{ (message | attr('title'))() }}", "Hello World"),
    "batch": ("{{ items | batch(3, 0) | list }}", "[[3, 1, 2], [2, 0, 0]]"),
    "capitalize": ("{{ 'hELLO' | capitalize }}", "Hello"),
    "center": ("[{{ 'ab' | center(6) }}]", "[  ab  ]"),
    "count": ("{{ items | count }}", "4"),
    "d": ("{{ missing | d('none') }}", "none"),
    "default": ("{{ missing | default('none') }}", "none"),
    "dictsort": ("{{ d | dictsort }}", "[('a', 1), ('b', 2)]"),
    "e": ("{{ html | e }}", "&lt;b&gt;hi&lt;/b&gt;"),
    "escape": ("{{ html | escape }}", "&lt;b&gt;hi&lt;/b&gt;"),
    "filesizeformat": ("{{ size | filesizeformat }}", "2.0 kB"),
    "first": ("{{ items | first }}", "3"),
    "float": ("{{ '2.5' | float }}", "2.5"),
    "forceescape": ("{{ html | forceescape }}", "&lt;b&gt;hi&lt;/b&gt;"),
    "format": ("{{ '%s=%d' | format('x', 5) }}", "x=5"),
    "groupby": ("{{ people | groupby('age') | map(attribute='grouper') | list }}", "[25, 30]"),
    "indent": ("{{ 'a\nb' | indent(2) }}", "a\n  b"),
    "int": ("{{ '42' | int + 1 }}", "43"),
    "items": ("{{ d | items | list }}", "[('b', 2), ('a', 1)]"),
    "join": ("{{ items | join('-') }}", "3-1-2-2"),
    "last": ("{{ items | last }}", "2"),
    "length": ("{{ message | length }}", "11"),
    "list": ("{{ 'ab' | list }}", "['a', 'b']"),
    "lower": ("{{ message | lower }}", "hello world"),
    "map": ("{{ people | map(attribute='name') | join(',') }}", "ann,bob"),
    "max": ("{{ items | max }}", "3"),
    "min": ("{{ items | min }}", "1"),
    "pprint": ("{{ d | pprint }}", "{'a': 1, 'b': 2}"),
    "random": ("{{ [7] | random }}", "7"),
    "reject": ("{{ items | reject('odd') | list }}", "[2, 2]"),
    "rejectattr": (
        "{{ people | rejectattr('age', 'gt', 26) | map(attribute='name') | join }}",
        "bob",
    ),
    "replace": ("{{ message | replace('world', 'there') }}", "Hello there"),
    "reverse": ("{{ items | reverse | list }}", "[2, 2, 1, 3]"),
    "round": ("{{ n | round }}", "-4.0"),
    "safe": ("{{ html | safe }}", "<b>hi</b>"),
    "select": ("{{ items | select('odd') | list }}", "[3, 1]"),
    "selectattr": (
        "{{ people | selectattr('age', 'gt', 26) | map(attribute='name') | join }}",
        "ann",
    ),
    "slice": ("{{ items | slice(2) | list }}", "[[3, 1], [2, 2]]"),
    "sort": ("{{ items | sort | join }}", "1223"),
    "string": ("{{ items | string }}", "[3, 1, 2, 2]"),
    "striptags": ("{{ html | striptags }}", "hi"),
    "sum": ("{{ items | sum }}", "8"),
    "title": ("{{ message | title }}", "Hello World"),
    "tojson": ("{{ d | tojson }}", '{"a": 1, "b": 2}'),
    "trim": ("[{{ '  x ' | trim }}]", "[x]"),
    "truncate": ("{{ message | truncate(9, leeway=0) }}", "Hello..."),
    "unique": ("{{ items | unique | list }}", "[3, 1, 2]"),
    "upper": ("{{ message | upper }}", "HELLO WORLD"),
    "urlencode": ("{{ 'a b&c' | urlencode }}", "a%20b%26c"),
    "urlsegment": (
        "{{ '../a b/c' | urlsegment }}/{{ '..' | urlsegment }}",
        "..%2Fa%20b%2Fc/%2E%2E",
    ),
    "urlize": ("{{ url | urlize }}", 'see <a href="http://x.org" rel="noopener">http://x.org</a>'),
    "wordcount": ("{{ message | wordcount }}", "2"),
    "wordwrap": ("{{ 'aaa bbb' | wordwrap(3) }}", "aaa\nbbb"),
    "xmlattr": ("{{ {'class': 'x'} | xmlattr }}", ' class="x"'),
}

#: one template per test; each renders the text after the arrow with CONTEXT
TEST_SAMPLES: dict[str, tuple[str, str]] = {
    "!=": ("{{ items | select('!=', 2) | list }}", "[3, 1]"),
    "<": ("{{ items | select('<', 2) | list }}", "[1]"),
    "<=": ("{{ items | select('<=', 2) | list }}", "[1, 2, 2]"),
    "==": ("{{ items | select('==', 2) | list }}", "[2, 2]"),
    ">": ("{{ items | select('>', 2) | list }}", "[3]"),
    ">=": ("{{ items | select('>=', 2) | list }}", "[3, 2, 2]"),
    "boolean": ("{{ true is boolean }} {{ 1 is boolean }}", "True False"),
    "callable": ("{{ message.upper is callable }} {{ message is callable }}", "True False"),
    "defined": ("{{ message is defined }} {{ missing is defined }}", "True False"),
    "divisibleby": ("{{ 9 is divisibleby 3 }} {{ 9 is divisibleby 2 }}", "True False"),
    "eq": ("{{ 2 is eq 2 }} {{ 2 is eq 3 }}", "True False"),
    "equalto": ("{{ 2 is equalto 2 }} {{ 2 is equalto 3 }}", "True False"),
    "escaped": ("{{ (html | e) is escaped }} {{ html is escaped }}", "True False"),
    "even": ("{{ 2 is even }} {{ 3 is even }}", "True False"),
    "false": ("{{ false is false }} {{ 0 is false }}", "True False"),
    "filter": ("{{ 'truncate' is filter }} {{ 'nope' is filter }}", "True False"),
    "float": ("{{ 2.5 is float }} {{ 2 is float }}", "True False"),
    "ge": ("{{ 3 is ge 3 }} {{ 2 is ge 3 }}", "True False"),
    "greaterthan": ("{{ 3 is greaterthan 2 }} {{ 2 is greaterthan 2 }}", "True False"),
    "gt": ("{{ 3 is gt 2 }} {{ 2 is gt 2 }}", "True False"),
    "in": ("{{ 2 is in items }} {{ 5 is in items }}", "True False"),
    "integer": ("{{ 2 is integer }} {{ 2.5 is integer }}", "True False"),
    "iterable": ("{{ items is iterable }} {{ 2 is iterable }}", "True False"),
    "le": ("{{ 2 is le 2 }} {{ 3 is le 2 }}", "True False"),
    "lessthan": ("{{ 1 is lessthan 2 }} {{ 2 is lessthan 2 }}", "True False"),
    "lower": ("{{ 'ab' is lower }} {{ message is lower }}", "True False"),
    "lt": ("{{ 1 is lt 2 }} {{ 2 is lt 2 }}", "True False"),
    "mapping": ("{{ d is mapping }} {{ items is mapping }}", "True False"),
    "ne": ("{{ 1 is ne 2 }} {{ 2 is ne 2 }}", "True False"),
    "none": ("{{ none is none }} {{ 0 is none }}", "True False"),
    "number": ("{{ 2 is number }} {{ '2' is number }}", "True False"),
    "odd": ("{{ 3 is odd }} {{ 2 is odd }}", "True False"),
    "sameas": ("{{ none is sameas none }} {{ 0 is sameas none }}", "True False"),
    "sequence": ("{{ items is sequence }} {{ 2 is sequence }}", "True False"),
    "string": ("{{ message is string }} {{ 2 is string }}", "True False"),
    "test": ("{{ 'odd' is test }} {{ 'nope' is test }}", "True False"),
    "true": ("{{ true is true }} {{ 1 is true }}", "True False"),
    "undefined": ("{{ missing is undefined }} {{ message is undefined }}", "True False"),
    "upper": ("{{ 'AB' is upper }} {{ message is upper }}", "True False"),
}


def test_the_docs_list_the_filters_and_tests_and_nothing_else_is_available() -> None:
    assert len(FILTERS) > 40
    assert len(TESTS) > 30
    filters = {name for name in FILTER_SAMPLES if name not in FILTERS}
    assert filters == set(), "samples of filters the docs do not list"
    for name in ("nope", "attr2"):
        result = load_flow_text(_flow(f"{{{{ message | {name} }}}}"), "f.flow.yaml")
        assert [d.code for d in result.diagnostics] == ["F112"]


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
def test_every_documented_filter_renders_in_the_sandbox(name: str, html: bool) -> None:
    source, expected = FILTER_SAMPLES[name]  # a documented filter needs a sample here
    assert f"| {name}" in source or f"|{name}" in source
    rendered = Template(source, HERE, html=html).render(CONTEXT)
    # in HTML, a plain text result is escaped; markup a filter makes (e, urlize...) is not
    assert rendered in ((expected, str(escape(expected))) if html else (expected,))


@pytest.mark.parametrize("name", TESTS)
def test_every_documented_test_renders_in_the_sandbox(name: str) -> None:
    source, expected = TEST_SAMPLES[name]  # a documented test needs a sample here
    assert f"'{name}'" in source or f"is {name} " in f"{source} "
    assert Template(source, HERE).render(CONTEXT) == expected


def test_truncate_of_a_message_works() -> None:
    # issue 10: `'str' object has no attribute 'policies'` on every message
    template = Template("{{ message | truncate(60) }}", HERE)
    assert template.render({"message": "word " * 30}) == "word " * 10 + "word..."
    assert Template("{{ message | wordwrap(5) }}", HERE).render(CONTEXT) == "Hello\nworld"


BOMBS = [
    "{{ 'x' | center(100000000) }}",
    "{{ 'x' | truncate(100000000) }}",
    "{{ items | batch(100000000, 0) | list }}",
    "{{ items | slice(100000000) | list }}",
    "{{ '%100000000s' | format('x') }}",
    "{{ '%100000000s' % 'x' }}",
    "{{ '%*s' % (100000000, 'x') }}",
    "{{ '{:>100000000}'.format('x') }}",
    "{{ '{:>{}}'.format('x', 100000000) }}",
    "{{ 'x'.ljust(100000000) }}",
    "{{ 'x'.zfill(100000000) }}",
    "{{ ('a' * 10000) | replace('a', 'a' * 10000) }}",
    "{{ ('a' * 10000).replace('a', 'a' * 10000) }}",
    "{{ ('\t' * 10000).expandtabs(10000) }}",
]


@pytest.mark.parametrize("source", BOMBS)
def test_filters_operators_and_methods_refuse_to_build_huge_texts(source: str) -> None:
    with pytest.raises(TemplateRenderError, match=r"^t\.flow\.yaml:4:9: unsafe template: "):
        Template(source, HERE).render(CONTEXT)


def test_ordinary_widths_and_formats_still_work() -> None:
    source = "{{ '%5.1f|' % 2.25 }}{{ '{:>4}|'.format(7) }}{{ 'x'.ljust(3) }}|{{ 100 % 7 }}"
    assert Template(source, HERE).render({}) == "  2.2|   7|x  |2"


def _flow(say: str) -> str:
    return (
        "version: 1\nname: t\nstart: s\nsettings: {idle_timeout: 1m}\nstates:\n  s:\n"
        f'    messages:\n      - any: true\n        say: "{say}"\n'
    )


async def test_the_bot_says_a_truncated_message_and_reports_a_failing_template(
    tmp_path: Path,
) -> None:
    flow = tmp_path / "t.flow.yaml"
    flow.write_text(
        "version: 1\nname: t\nstart: s\nsettings: {idle_timeout: 1m}\nstates:\n  s:\n"
        "    messages:\n"
        "      - choice: [boom]\n"
        '        say: "{{ 1 / 0 }}"\n'
        "      - any: true\n"
        '        say: "{{ message | truncate(20, leeway=0) }}"\n',
        "utf-8",
    )
    script = tmp_path / "t.test.yaml"
    script.write_text(
        "flow: t.flow.yaml\nscenarios:\n"
        "  - name: truncates\n    steps:\n"
        "      - invite: hello\n"
        "      - expect: {say: hello}\n"
        "      - say: a rather long message from the caller\n"
        "      - expect: {say: a rather long...}\n"
        "  - name: reports\n    steps:\n"
        "      - invite: hello\n"
        "      - expect: {say: hello}\n"
        "      - say: boom\n"
        "      - expect: {say: anything}\n",
        "utf-8",
    )
    loaded = load_script(script)
    assert loaded.script is not None, [str(d) for d in loaded.diagnostics]
    truncates, reports = [await run_scenario(loaded.script, sc) for sc in loaded.script.scenarios]
    assert truncates.failure is None, str(truncates.failure)
    assert reports.failure is not None
    # the failing `say` sent nothing, and the error is traced with the template's location
    assert "  the bot reported: " in "\n".join(reports.failure.details)
    details = "\n".join(reports.failure.details)
    # the location once, after the message (it was said before it too)
    assert (
        f"  the bot reported: template failed: ZeroDivisionError: division by zero ({flow}:9:14)"
        in details
    )
    assert details.count(f"{flow}:9:14") == 1


def test_the_run_transcript_says_a_template_errors_location_once() -> None:
    # `ucwa-flow run` printed "! t.flow.yaml:4:9: template failed: ... (t.flow.yaml:4:9)"
    from ucwa_flow.runtime import trace as t
    from ucwa_flow.runtime.transcript import describe

    try:
        Template("{{ 1 / 0 }}", HERE).render({})
    except TemplateRenderError as exc:
        record = t.FlowError(at=0, conversation="c", message=str(exc), location=HERE)
    assert describe(record) == (
        "! template failed: ZeroDivisionError: division by zero (t.flow.yaml:4:9)"
    )
    webhook = t.FlowError(at=0, conversation="c", message="POST x answered 500", location=HERE)
    assert describe(webhook) == "! POST x answered 500 (t.flow.yaml:4:9)"

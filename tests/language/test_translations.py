"""Translations (issue 15, item 5): ``say: {texts: ...}``, the conversation's language from
``settings.language``, from the first message (``detect_language``) or the default, and
``validate``'s F142/F143 at the ``say``'s file:line:col."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ucwa_flow.flow import load_flow_text
from ucwa_flow.testing import ScenarioResult, load_script, run_scenario

FLOW = """\
version: 1
name: polyglot
start: hello
variables: {lang: null}
settings:
  idle_timeout: 10m
  first_message: route_only
  default_language: en
  language: "{{ lang or '' }}"
  detect_language:
    de: [hallo, guten tag]
    fr: [bonjour, salut]
states:
  hello:
    enter:
      - say:
          texts:
            en: Hello {{ caller.name }}!
            de: Hallo {{ caller.name }}!
            fr: {text: "Bonjour {{ caller.name }} !", html: "<b>Bonjour</b>"}
    messages:
      - match: '^lang (?P<lang>\\w+)$'
        say:
          texts:
            en: "Now in {{ conversation.language }}"
            de: "Jetzt {{ conversation.language }}"
            fr: "En {{ conversation.language }}"
      - any: true
        say:
          texts:
            en: Only English here.
"""

SCRIPT = """\
flow: polyglot.flow.yaml
scenarios:
  - name: the first message tells the language
    steps:
      - invite: Guten Tag
      - expect: {say: "Hallo Lene Aaling!"}
      - say: what
      - expect: {say: "Only English here."}
  - name: French, with the text part of an HTML version
    steps:
      - invite: salut
      - expect: {say: "Bonjour Lene Aaling !"}
  - name: the default when nothing is detected
    steps:
      - invite: hi
      - expect: {say: "Hello Lene Aaling!"}
  - name: only the first message counts
    steps:
      - invite
      - expect: {say: "Hello Lene Aaling!"}
      - say: hello
      - say: bonjour
      - expect: {say: "Only English here."}
      - expect: {say: "Only English here."}
  - name: settings.language wins when it names a language of the flow
    steps:
      - invite: hallo
      - expect: {say: "Hallo Lene Aaling!"}
      - say: lang fr
      - expect: {say: "En fr"}
      - say: lang xx
      - expect: {say: "Jetzt de"}
"""


async def _results(path: Path) -> list[ScenarioResult]:
    loaded = load_script(path)
    assert loaded.script is not None, [str(d) for d in loaded.diagnostics]
    return [await run_scenario(loaded.script, sc) for sc in loaded.script.scenarios]


async def test_the_conversation_speaks_its_language(write: Callable[..., Path]) -> None:
    write("polyglot.flow.yaml", FLOW)
    results = await _results(write("polyglot.test.yaml", SCRIPT))
    assert [str(r.failure) for r in results if r.failure] == []


def test_validate_reports_a_text_missing_in_a_language() -> None:
    result = load_flow_text(FLOW, "polyglot.flow.yaml")
    assert [str(d) for d in result.diagnostics] == [
        "polyglot.flow.yaml:30:11: F142 warning: no text in 'de', 'fr': "
        "such callers hear the default language's ('en')"
    ]
    without_default = FLOW.replace("  default_language: en\n", "")
    result = load_flow_text(without_default, "polyglot.flow.yaml")
    assert [f"{d.line}:{d.col}: {d.code}" for d in result.diagnostics] == [
        "16:11: F143",
        "23:11: F143",
        "29:11: F143",  # and no F142: with no default, no caller falls back to one
    ]


def test_a_flow_diff_shows_every_language_of_a_say() -> None:
    from ucwa_flow.diff._describe import describe_actions

    flow = load_flow_text(FLOW, "polyglot.flow.yaml").flow
    assert flow is not None
    assert describe_actions(flow.states["hello"].enter) == (
        'say [en] "Hello {{ caller.name }}!"',
        'say [de] "Hallo {{ caller.name }}!"',
        'say [fr] "Bonjour {{ caller.name }} !"',
        'say [fr] html "<b>Bonjour</b>"',
    )

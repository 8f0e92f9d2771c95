"""The conversation's facts in templates and conditions (issue 15, item 4): the subject,
the message counts, the account, the caller and ``now`` in the flow's time zone, through
``ucwa-flow test`` scripts on the simulator (a subject set by the script's invite step)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ucwa_flow.testing import ScenarioResult, load_script, run_scenario

FLOW = """\
version: 1
name: facts
start: ask
settings: {timezone: Europe/Paris, idle_timeout: 10m, first_message: route_only}
states:
  ask:
    enter:
      - say: >-
          {{ caller.name }} <{{ caller.uri }}> on {{ conversation.account }} about
          "{{ conversation.subject }}" at {{ now.strftime('%H:%M %Z') }}
    messages:
      - any: true
        do:
          - if: "conversation.subject == ''"
            then: [{say: "no subject"}]
          - say: >-
              caller {{ conversation.messages.caller }}, bot {{ conversation.messages.bot }},
              total {{ conversation.messages.total }}
"""


async def _run(path: Path) -> list[ScenarioResult]:
    loaded = load_script(path)
    assert loaded.script is not None, [str(d) for d in loaded.diagnostics]
    return [await run_scenario(loaded.script, sc) for sc in loaded.script.scenarios]


async def test_templates_see_the_subject_counts_account_caller_and_local_time(
    write: Callable[..., Path],
) -> None:
    write("facts.flow.yaml", FLOW)
    path = write(
        "facts.test.yaml",
        """
        flow: facts.flow.yaml
        scenarios:
          - name: with a subject
            at: "2026-01-05T09:30:00+00:00"
            steps:
              - invite: {text: hello, subject: Pizza order 42}
              - expect:
                  say: >-
                    Lene Aaling <sip:lenea@contoso.com> on sip:toshm@contoso.com
                    about "Pizza order 42" at 10:30 CET
              - say: one
              - expect: {say: "caller 2, bot 1, total 3"}
              - say: two
              - expect: {say: "caller 3, bot 2, total 5"}
          - name: without a subject
            steps:
              - invite
              - expect: {say: {contains: 'about ""'}}
              - say: one
              - expect: {say: "no subject"}
              - expect: {say: "caller 1, bot 2, total 3"}
        """,
    )
    results = await _run(path)
    assert [str(r.failure) for r in results if r.failure] == []


async def test_a_script_invite_takes_a_subject_only_as_text(write: Callable[..., Path]) -> None:
    write("facts.flow.yaml", FLOW)
    path = write(
        "facts.test.yaml",
        """
        flow: facts.flow.yaml
        scenarios:
          - name: a subject must be a text
            steps:
              - invite: {text: hello, subject: [1]}
        """,
    )
    loaded = load_script(path)
    assert [f"{d.line}:{d.col}: {d.code}" for d in loaded.diagnostics] == ["5:40: S003"]


def test_run_on_the_simulator_starts_its_chats_with_the_subject_given() -> None:
    from tests.e2e.test_cli import ucwa_flow

    done = ucwa_flow("run", "flows/pizza-menu.flow.yaml", "--subject", "Dinner", stdin="hi\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "you: hi",
        'bot: Hi Lene Aaling! About "Dinner": 1 Pizzas, 2 Drinks, 3 Opening hours',
    ]

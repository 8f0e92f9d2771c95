"""Invitees in test scripts: the same outcome whether or not the script mentions them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ucwa_flow.flow import load_flow_text
from ucwa_flow.testing import load_script, run_scenario
from ucwa_flow.testing._stage import invitees

FLOW = """
version: 1
name: handoff
start: ask
variables: {agent: "sip:agent@contoso.com"}
states:
  ask:
    enter: [{say: Connecting you.}]
    messages:
      - any: true
        do:
          - invite:
              to: "{{ agent }}"
              message: "{{ caller.uri }} is waiting"
              timeout: 2m
              accepted: [{say: An agent is joining.}]
              declined: [{say: No agent is free.}]
              no_answer: [{say: No agent answered.}]
    no_match: [{say: "?"}]
"""

UNANSWERED = """
              - invite: hi
              - expect: {say: Connecting you.}
              - wait: 29s
              - expect: silence
              - wait: 1s
              - expect: {say: No agent answered.}
              - expect: silence
"""

SCRIPT = f"""
flow: handoff.flow.yaml
scenarios:
  - name: the script never looks at the agent
    steps:{UNANSWERED}
  - name: the script looks at the agent's queue first
    steps:
              - invite: hi
              - expect: {{say: "sip:lenea@contoso.com is waiting", to: "sip:agent@contoso.com"}}
              - expect: {{say: Connecting you.}}
              - wait: 29s
              - expect: silence
              - wait: 1s
              - expect: {{say: No agent answered.}}
              - expect: silence
  - name: the agent accepts
    steps:
              - invite: hi
              - accept: sip:agent@contoso.com
              - expect: {{say: Connecting you.}}
              - expect: {{say: An agent is joining.}}
"""


async def test_an_invitees_outcome_does_not_depend_on_looking_at_their_queue(
    write: Callable[..., Path],
) -> None:
    write("handoff.flow.yaml", FLOW)
    path = write("handoff.test.yaml", SCRIPT)
    loaded = load_script(path)
    assert loaded.script is not None, [str(d) for d in loaded.diagnostics]
    results = [await run_scenario(loaded.script, sc) for sc in loaded.script.scenarios]
    assert [str(r.failure) for r in results if r.failure is not None] == []


def test_invitees_are_the_invite_targets_with_the_variables_defaults() -> None:
    flow = load_flow_text(FLOW, "handoff.flow.yaml").raise_for_errors()
    assert invitees(flow, "sip:lenea@contoso.com") == ["sip:agent@contoso.com"]
    other = FLOW.replace('"sip:agent@contoso.com"', "null").replace(
        '"{{ agent }}"', '"{{ agent or caller.uri }}"'
    )
    flow = load_flow_text(other, "handoff.flow.yaml").raise_for_errors()
    assert invitees(flow, "sip:Bob@contoso.com") == ["sip:bob@contoso.com"]
    unknown = FLOW.replace('"sip:agent@contoso.com"', "null")
    flow = load_flow_text(unknown, "handoff.flow.yaml").raise_for_errors()
    assert invitees(flow, "sip:lenea@contoso.com") == []


def test_a_handoffs_agents_are_invitees_too() -> None:
    text = """
version: 1
name: desk
start: ask
variables: {queue: "sip:queue@contoso.com"}
settings: {idle_timeout: 5m}
states:
  ask:
    messages:
      - any: true
        do:
          - handoff:
              to: ["{{ queue }}", "sip:Ann@contoso.com", "{{ queue }}"]
              no_answer: [stop]
              agent_left: [stop]
"""
    result = load_flow_text(text, "desk.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    assert invitees(result.flow, "sip:lenea@contoso.com") == [
        "sip:queue@contoso.com",
        "sip:ann@contoso.com",
    ]

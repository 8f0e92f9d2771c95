"""Suspended work is data: action lists have stable ids, and a continuation taken at an
invite inside nested branches survives a trip through JSON text and resumes the same way."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ucwa_flow.flow import ActionRef, Flow, If, Invite, UnknownActionList, load_flow_text
from ucwa_flow.runtime.invites import Invitations
from ucwa_flow.runtime.services import Continuation
from ucwa_flow.testing import load_script, run_scenario

FLOW = """
version: 1
name: nested
start: ask
settings: {first_message: route_only}
variables: {agent: "sip:agent@contoso.com", vip: true}
states:
  ask:
    enter: [{say: Hello.}]
    messages:
      - match: '^order (?P<n>[0-9]+)$'
        do:
          - if: "vip"
            then:
              - say: "Checking order {{ match.n }}."
              - invite:
                  to: "{{ agent }}"
                  message: "order {{ match.n }}"
                  timeout: 2m
                  accepted:
                    - if: "match.n == '42'"
                      then: [{say: "Agent took {{ match.n }}."}]
                      else: [{say: "Agent took another."}]
                  declined: [{say: "Declined: {{ message }}."}]
              - say: "After the invite: {{ message }}."
            else: [{say: Not for you.}]
          - say: "Done with {{ match.n }}."
          - goto: bye
    no_match: [{say: "?"}]
  "after sales":
    enter: [{say: Unused.}]
  bye:
    enter: [{say: Bye.}]
"""

SCRIPT = """
flow: nested.flow.yaml
scenarios:
  - name: accepted
    steps:
      - invite: hi
      - expect: {say: Hello.}
      - say: order 42
      - expect: {say: Checking order 42.}
      - accept: sip:agent@contoso.com
      - expect: {say: Agent took 42.}
      - expect: {say: "After the invite: order 42."}
      - expect: {say: Done with 42.}
      - expect: {say: Bye.}
  - name: declined
    steps:
      - invite: hi
      - expect: {say: Hello.}
      - say: order 7
      - expect: {say: Checking order 7.}
      - decline: sip:agent@contoso.com
      - expect: {say: "Declined: order 7."}
      - expect: {say: "After the invite: order 7."}
      - expect: {say: Done with 7.}
      - expect: {say: Bye.}
"""


def _flow() -> Flow:
    return load_flow_text(FLOW, "nested.flow.yaml").raise_for_errors()


def test_every_action_list_has_an_id_that_resolves_to_it() -> None:
    flow = _flow()
    handler = "states.ask.messages[0]"
    invite_at = f"{handler}[0].then"
    assert flow.action_list(handler) is flow.states["ask"].handlers[0].actions
    (branch,) = flow.states["ask"].handlers[0].actions[:1]
    assert isinstance(branch, If)
    assert flow.action_list(invite_at) is branch.then
    invite = branch.then[1]
    assert isinstance(invite, Invite)
    assert flow.action_list(f"{invite_at}[1].accepted") is invite.accepted
    assert flow.action_list(f"{invite_at}[1].no_answer") == ()  # not written: empty
    nested = f"{invite_at}[1].accepted[0].then"
    assert flow.action_list(nested) == invite.accepted[0].then  # type: ignore[union-attr]
    ids = list(flow.action_list_ids)
    assert "states.ask.enter" in ids
    assert "states.ask.no_match[0]" in ids
    assert 'states["after sales"].enter' in ids
    assert "states.bye.delivery_failed" in ids


def test_ids_depend_only_on_the_flow_text() -> None:
    first, second = _flow(), _flow()
    assert list(first.action_list_ids) == list(second.action_list_ids)
    for list_id in first.action_list_ids:
        ours, theirs = first.action_list(list_id), second.action_list(list_id)
        assert [a.location for a in ours] == [a.location for a in theirs]


def test_an_unknown_id_is_one_clear_error() -> None:
    with pytest.raises(UnknownActionList) as caught:
        _flow().action_list("states.gone.enter")
    assert str(caught.value) == (
        "flow 'nested' has no action list 'states.gone.enter' (the flow changed)"
    )


def test_a_continuation_is_json_text_and_back() -> None:
    rest = Continuation(
        ActionRef("states.ask.messages[0][0].then", 1),
        (ActionRef("states.ask.messages[0][0].then", 2), ActionRef("states.ask.messages[0]", 1)),
        {"match": {"n": "42"}, "message": "order 42", "webhook": {"status": 200, "json": [1]}},
        after_end=True,
    )
    text = rest.to_json()
    assert json.loads(text)["frames"][1] == ["states.ask.messages[0]", 1]
    assert Continuation.from_json(text) == rest
    assert rest.branch("accepted") == "states.ask.messages[0][0].then[1].accepted"
    with pytest.raises(TypeError):
        Continuation(None, (), {"live": object()}).to_json()


async def _run_script(tmp_path: Path) -> list[str]:
    (tmp_path / "nested.flow.yaml").write_text(FLOW, encoding="utf-8")
    path = tmp_path / "nested.test.yaml"
    path.write_text(textwrap.dedent(SCRIPT).lstrip("\n"), encoding="utf-8")
    loaded = load_script(path)
    assert loaded.script is not None, [str(d) for d in loaded.diagnostics]
    results = [await run_scenario(loaded.script, sc) for sc in loaded.script.scenarios]
    return [str(r.failure) for r in results if r.failure is not None]


async def test_the_scenarios_pass_without_a_round_trip(tmp_path: Path) -> None:
    assert await _run_script(tmp_path) == []


async def test_a_continuation_resumed_from_json_text_gives_the_same_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    begin = Invitations.begin
    seen: list[str] = []

    def through_json(self: Invitations, *args: object) -> None:
        *head, rest = args
        assert isinstance(rest, Continuation)
        seen.append(rest.to_json())
        begin(self, *head, Continuation.from_json(seen[-1]))  # type: ignore[arg-type,call-arg]

    monkeypatch.setattr(Invitations, "begin", through_json)
    assert await _run_script(tmp_path) == []
    assert len(seen) == 2  # one suspension per scenario, both resumed from text
    assert json.loads(seen[0]) == {
        "at": ["states.ask.messages[0][0].then", 1],
        "frames": [["states.ask.messages[0][0].then", 2], ["states.ask.messages[0]", 1]],
        "extras": {"match": {"n": "42"}, "message": "order 42"},
        "after_end": False,
    }

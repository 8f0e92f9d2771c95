"""``settings.first_message``: the text that comes with the invitation, handled or only routed."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.e2e.harness import stage
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.flow._schema import schema_text
from ucwa_flow.runtime import trace as t

QUIZ = """
version: 1
name: quiz
start: ask
settings: {{idle_timeout: 10m{extra}}}
states:
  ask:
    enter: [{{say: "Hello! What is 6 x 7?"}}]
    messages:
      - choice: ["42"]
        say: Right.
        do: [stop]
    no_match:
      - say: "Wrong, try again."
"""


def _quiz(extra: str = "") -> Flow:
    result = load_flow_text(QUIZ.format(extra=extra), "quiz.flow.yaml")
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    return result.raise_for_errors()


async def test_by_default_the_invitations_text_is_the_first_message_handled() -> None:
    flow = _quiz()
    assert flow.settings.first_message == "handle"
    async with stage(flow) as s:
        lene = await s.person()
        await lene.say("hello")  # the first line starts the chat: it is the invitation's text
        assert await lene.hear(2) == ["Hello! What is 6 x 7?", "Wrong, try again."]
        await s.idle()
        assert [m.text for m in s.of(t.MessageIn)] == ["hello"]
        assert [n.miss for n in s.of(t.NoMatch)] == [1]


async def test_route_only_greets_and_waits_for_the_next_message() -> None:
    flow = _quiz(", first_message: route_only")
    assert flow.settings.first_message == "route_only"
    async with stage(flow) as s:
        lene = await s.person()
        await lene.say("hello")
        assert await lene.hear() == ["Hello! What is 6 x 7?"]
        await lene.silence()
        await s.idle()
        assert s.of(t.MessageIn) == []
        assert s.of(t.NoMatch) == []
        await lene.say("42")
        assert await lene.hear() == ["Right."]
        assert await lene.hear_end() == "the bot ended the conversation"
        await s.idle()
        assert [m.text for m in s.of(t.MessageIn)] == ["42"]


@pytest.mark.parametrize("value", ["route", "ignore", True, 1])
def test_a_bad_first_message_setting_is_a_located_error(value: object) -> None:
    text = QUIZ.format(extra=f", first_message: {json.dumps(value)}")
    result = load_flow_text(text, "quiz.flow.yaml")
    assert result.flow is None
    assert [(d.code, d.line) for d in result.diagnostics] == [("S004", 5)]
    assert "settings.first_message" in str(result.diagnostics[0])
    assert "handle, route_only" in str(result.diagnostics[0])
    # the published schema rejects it too (editors flag it as it is typed)
    schema = json.loads(schema_text())
    flow = {"version": 1, "name": "q", "start": "a", "states": {"a": {}}}
    flow["settings"] = {"first_message": value}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(flow, schema)
    flow["settings"] = {"first_message": "route_only"}
    jsonschema.validate(flow, schema)

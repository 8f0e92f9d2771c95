"""A durable bot killed while a conversation is inside a sub-flow (two calls deep) carries
on there after the restart: the call stack is in the conversation's record, so the
sub-flows still return to their callers with their values, and the caller's variables
come back as they were; the caller's secrets stay redacted in what the sub-flow says."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import stage
from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.store import ConversationQuery, Store

MAIN = """\
version: 1
name: durable-calls
start: menu
settings: {idle_timeout: 1h, first_message: route_only}
variables: {who: null, sure: null, note: kept, pin: "4711"}
secrets: [pin]
states:
  menu:
    enter:
      - say: Hello.
      - call:
          flow: lib/ask-name.subflow.yaml
          with: {greeting: "Your name? (PIN {{ pin }})"}
          returns: {name: who, sure: sure}
      - say: "Thanks {{ who }} ({{ sure }}), {{ note }}."
      - goto: done
  done:
    messages:
      - any: true
        say: "{{ who }} said {{ message }}"
"""
ASK_NAME = """\
version: 1
subflow: ask-name
params: {greeting: {}}
returns: [name, sure]
variables: {name: null, sure: null}
start: ask
states:
  ask:
    enter: [{say: "{{ greeting }}"}]
    messages:
      - match: '^(?P<name>\\w+)$'
        do:
          - call:
              flow: yes-no.subflow.yaml
              with: {question: "Is {{ name }} right?"}
              returns: {answer: sure}
          - return
"""
YES_NO = """\
version: 1
subflow: yes-no
params: {question: {}}
returns: [answer]
variables: {answer: null}
start: ask
states:
  ask:
    enter: [{say: "{{ question }}"}]
    messages:
      - choice: ["yes", "no"]
        do: [{return: {answer: "{{ message }}"}}]
"""


def _flow(folder: Path) -> Flow:
    (folder / "lib").mkdir()
    (folder / "main.flow.yaml").write_text(MAIN, "utf-8")
    (folder / "lib" / "ask-name.subflow.yaml").write_text(ASK_NAME, "utf-8")
    (folder / "lib" / "yes-no.subflow.yaml").write_text(YES_NO, "utf-8")
    result = load_flow(folder / "main.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


async def test_a_restart_inside_a_sub_flow_returns_to_the_caller(
    store: Store,
    tmp_path: Path,
) -> None:
    async with stage(_flow(tmp_path), store=store) as s:
        lene = await s.person()
        await lene.say("hello")
        assert await lene.hear(2) == ["Hello.", "Your name? (PIN 4711)"]
        await s.idle()

        await s.crash()
        await lene.say("Ann")  # while the bot is down: handled in the sub-flow
        await s.restart()
        assert await lene.hear() == ["Is Ann right?"]
        await s.idle()
        (record,) = await store.conversations(ConversationQuery())
        assert record.state == "yes-no/ask"
        assert dict(record.variables) == {"answer": None, "question": "Is Ann right?"}
        assert [frame["subflow"] for frame in record.extra["calls"]] == ["ask-name", "yes-no"]

        await s.crash()
        await s.restart()  # two calls deep, restored: both return to their callers
        await lene.say("yes")
        assert await lene.hear() == ["Thanks Ann (yes), kept."]
        await lene.say("hi")
        assert await lene.hear() == ["Ann said hi"]
        await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    assert record.state == "done"
    assert dict(record.variables) == {"who": "Ann", "sure": "yes", "note": "kept", "pin": "4711"}
    assert "calls" not in record.extra
    # said inside the sub-flow, whose variables do not hold it: the caller's secret still
    lines = await store.transcript(record.account, record.conversation)
    said = [(line.data or {}).get("text") for line in lines if line.kind == "message_out"]
    assert said[:2] == ["Hello.", "Your name? (PIN [redacted])"]


async def test_a_conversation_ended_inside_a_sub_flow_keeps_the_flows_own_variables(
    store: Store,
    tmp_path: Path,
) -> None:
    # its record used to keep the sub-flow's variables (the flow's own were lost)
    async with stage(_flow(tmp_path), store=store) as s:
        lene = await s.person()
        await lene.say("hello")
        assert await lene.hear(2) == ["Hello.", "Your name? (PIN 4711)"]
        await s.idle()
        await lene.caller.hang_up()
        await s.until(lambda: s.of(t.Ended))
        await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    assert record.status == "ended"
    assert set(record.variables) == {"who", "sure", "note", "pin"}
    assert record.variables["note"] == "kept"

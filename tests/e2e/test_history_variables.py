"""A variable's change is in a conversation's history once.

A conversation the flow ends (``stop``) is committed ended; the server's end of it comes
later and commits its record again. That second commit wrote every variable again, as if
the conversation had just started (``set category = "password"`` twice, after ``ended``,
in ``ucwa-flow transcripts show``).
"""

from __future__ import annotations

from tests.e2e.harness import stage
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.store import ConversationQuery, Store

FLOW = """\
version: 1
name: once
start: ask
variables: {answer: null}
states:
  ask:
    enter:
      - say: Your answer?
    messages:
      - any: true
        set: {answer: "{{ message }}"}
        say: Thanks.
        do: [stop]
"""


def _flow() -> Flow:
    result = load_flow_text(FLOW, "once.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


async def test_a_conversation_the_flow_stops_records_each_variable_once(
    sqlite_store: Store,
) -> None:
    async with stage(_flow(), store=sqlite_store) as s:
        lene = await s.person()
        await lene.say("forty-two")
        assert await lene.hear(2) == ["Your answer?", "Thanks."]
        await lene.hear_end()
        await s.idle()
        await s.committed()
    (record,) = await sqlite_store.conversations(ConversationQuery())
    assert record.status == "ended"
    lines = await sqlite_store.transcript(record.account, record.conversation)
    kinds = [line.kind for line in lines]
    assert "ended" in kinds, kinds
    variables = [line.data for line in lines if line.kind == "variable"]
    assert variables == [{"name": "answer", "value": "forty-two"}], kinds

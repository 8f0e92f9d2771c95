"""A variable of a sub-flow and one of its caller's with the same name: each change is
one line in the conversation's history, where it was made.

The commit adds a line for a caller's change that no line shows yet, and took "a line
shows it" from the last line of that *name*: the sub-flow's ``answer`` set after the
caller's hid the caller's line, so the caller's ``set answer = "first"`` was written a
second time, at the end of the step.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import stage
from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.store import ConversationQuery, Store

MAIN = """\
version: 1
name: same-names
start: menu
settings: {idle_timeout: 1h}
variables: {answer: null}
states:
  menu:
    enter:
      - set: {answer: first}
      - call: {flow: ask.subflow.yaml}
      - say: "kept {{ answer }}"
      - stop
"""
ASK = """\
version: 1
subflow: ask
variables: {answer: null}
start: q
states:
  q:
    enter:
      - set: {answer: inner}
      - say: Your answer?
    messages:
      - any: true
        do: [return]
"""


def _flow(folder: Path) -> Flow:
    (folder / "main.flow.yaml").write_text(MAIN, "utf-8")
    (folder / "ask.subflow.yaml").write_text(ASK, "utf-8")
    return load_flow(folder / "main.flow.yaml").raise_for_errors()


async def test_a_name_set_in_a_sub_flow_and_its_caller_is_one_line_each(
    sqlite_store: Store, tmp_path: Path
) -> None:
    async with stage(_flow(tmp_path), store=sqlite_store) as s:
        lene = await s.person()
        await lene.say("blue")  # invites the bot, and answers the sub-flow
        assert await lene.hear(2) == ["Your answer?", "kept first"]
        await lene.hear_end()
        await s.idle()
        await s.committed()
    (record,) = await sqlite_store.conversations(ConversationQuery())
    lines = await sqlite_store.transcript(record.account, record.conversation)
    variables = [line.data for line in lines if line.kind == "variable"]
    assert variables == [
        {"name": "answer", "value": "first"},  # the caller's
        {"name": "answer", "value": "inner"},  # the sub-flow's
    ]

"""A stored transcript shows a turn's variable changes where they happened.

A handler runs ``set`` before ``say`` (and a regex's captures before either), so the
``set`` lines come before what the bot said in that turn; a ``set`` in an action list
comes between the says around it. ``transcripts show``, ``transcripts export`` (text and
JSON lines) and the review app's replay of a stored conversation agree on that order.
Before, every variable line of a commit was written after the commit's other lines, as
if the turn had set them last.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.harness import BOT, stage
from tests.e2e.test_turned_away import store, target, transcripts, where  # noqa: F401
from tests.store.conftest import Target
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.review._stored import StoredConversations
from ucwa_flow.store import ConversationQuery, Store

TEXT = """
version: 1
name: order
start: ask
settings:
  idle_timeout: 1h
variables: {name: null, greeted: false, topic: null, step: 0}
states:
  ask:
    enter:
      - say: What is your name?
    messages:
      - match: "^i am (?P<name>\\\\w+)$"
        set: {greeted: true}
        say: "Hi {{ name }}! What about?"
        goto: topic
  topic:
    messages:
      - any: true
        do:
          - say: Noted.
          - set: {topic: "{{ message }}", step: 1}
          - set: {greeted: true}
          - say: "Your topic: {{ topic }}"
          - stop
"""

#: the history, kind and what it says, in the order the flow did it
EXPECTED = [
    ("state", "ask"),
    ("message_out", "What is your name?"),
    ("message_in", "i am Ann"),
    ("variable", "name"),
    ("variable", "greeted"),
    ("message_out", "Hi Ann! What about?"),
    ("state", "topic"),
    ("message_in", "printer"),
    ("message_out", "Noted."),
    ("variable", "topic"),
    ("variable", "step"),  # greeted was true already: no line
    ("message_out", "Your topic: printer"),
    ("ended", "bot"),
]


def _flow() -> Flow:
    loaded = load_flow_text(TEXT, "order.flow.yaml")
    assert loaded.flow is not None, [str(d) for d in loaded.diagnostics]
    return loaded.flow


def _said(kind: str, data: dict[str, object]) -> str:
    return str(
        {
            "state": data.get("state"),
            "message_out": data.get("text"),
            "message_in": data.get("text"),
            "variable": data.get("name"),
            "ended": str(data.get("reason", "")).removeprefix("ended by the "),
        }[kind]
    )


async def test_set_lines_come_where_the_flow_set_them(
    target: Target,  # noqa: F811
    store: Store,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    async with stage(_flow(), store=store) as s:
        ann = await s.person()
        await ann.say("i am Ann")
        assert await ann.hear(2) == ["What is your name?", "Hi Ann! What about?"]
        await ann.say("printer")
        assert await ann.hear(2) == ["Noted.", "Your topic: printer"]
        await ann.hear_end()
        await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    entries = await store.transcript(BOT, record.conversation)
    history = [(e.kind, _said(e.kind, e.data)) for e in entries]
    assert history == EXPECTED
    assert [e.data["value"] for e in entries if e.kind == "variable"] == ["Ann", True, "printer", 1]
    # the review app's replay of the stored conversation: the same order
    detail = await StoredConversations(store).detail(record.conversation)
    assert detail is not None
    steps = [(step["kind"], step["text"] or step["state"]) for step in detail["steps"]]
    kinds = {"state": "enter", "message_out": "out", "message_in": "in", "variable": "action"}
    expected_steps = [
        (kinds.get(kind, kind), f"set {text}" if kind == "variable" else text)
        for kind, text in EXPECTED[:-1]
    ]
    assert steps[:-1] == expected_steps
    assert steps[-1][0] == "ended"
    await store.aclose()

    shown = await transcripts(capsys, "show", record.conversation, *where(target))
    body = [line[22:].split(None, 1) for line in shown.split("\n\n", 1)[1].splitlines()]
    labels = [label for label, *_ in body]
    assert labels == [
        "state", "bot", "caller", "set", "set", "bot", "state",
        "caller", "bot", "set", "set", "bot", "ended",
    ]  # fmt: skip
    assert body[3][1] == 'name = "Ann"'
    assert body[9][1] == 'topic = "printer"'
    exported = await transcripts(capsys, "export", "--format", "text", *where(target))
    assert exported == shown
    lines = (await transcripts(capsys, "export", *where(target))).splitlines()
    objects = [json.loads(line) for line in lines][1:]
    assert [(o["kind"], _said(o["kind"], o["data"])) for o in objects] == EXPECTED
    assert [o["seq"] for o in objects] == sorted(o["seq"] for o in objects)

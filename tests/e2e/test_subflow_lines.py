"""Variable lines around sub-flow calls, kept in a store (both backends).

Each change of a variable is one line, where it happened: a ``set`` before a call whose
sub-flow waits for the caller (a commit in between) is not written again when the
sub-flow returns, the caller's variables that never changed get none, a sub-flow's
parameter is a line at the call. A parameter made from a caller's secret, and whatever a
sub-flow or the flow makes from it, is redacted by value, in the lines and in the ended
conversation's record. Before, the commit compared the sub-flow's variables with the
caller's (``x = 1`` twice, ``keep = "k"`` for a variable never set) and redacted a
variable line only by its name.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.harness import BOT, stage, webhook_server
from tests.e2e.test_turned_away import store, target  # noqa: F401
from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.store import ConversationQuery, Store

ASKING = """\
version: 1
name: m
start: menu
settings: {idle_timeout: 1h}
variables: {x: 0, who: null, keep: k, flag: 0}
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - any: true
        do:
          - set: {x: 1}
          - call:
              flow: ask.subflow.yaml
              with: {prompt: "Your name?"}
              returns: {name: who}
          - set: {flag: 1}
          - set: {flag: true}
          - say: "Thanks {{ who }} x={{ x }} flag={{ flag }}"
          - goto: done
  done:
    messages:
      - any: true
        say: bye
"""
ASK = """\
version: 1
subflow: ask
params: {prompt: {}}
returns: [name]
variables: {name: null}
start: ask
states:
  ask:
    enter: [{say: "{{ prompt }}"}]
    messages:
      - any: true
        do:
          - set: {name: "{{ message }}"}
          - return
"""

PIN = """\
version: 1
name: m
start: menu
settings: {idle_timeout: 1h}
variables: {pin: null, ok: null, copy: null}
secrets: [pin]
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - match: '^pin (?P<pin>\\d+)$'
        do:
          - call:
              flow: check.subflow.yaml
              with: {code: "{{ pin }}"}
              returns: {ok: ok, masked: copy}
          - say: "ok={{ ok }}"
          - stop
"""
CHECK = """\
version: 1
subflow: check
params: {code: {}}
returns: [ok, masked]
variables: {ok: null, masked: null}
start: s
states:
  s:
    enter:
      - set: {masked: "ref-{{ code }}"}
      - say: sure?
    messages:
      - any: true
        do: [{return: {ok: "yes"}}]
"""


def _flow(tmp_path: Path, main: str, name: str, sub: str) -> Flow:
    (tmp_path / "main.flow.yaml").write_text(main, encoding="utf-8")
    (tmp_path / name).write_text(sub, encoding="utf-8")
    loaded = load_flow(tmp_path / "main.flow.yaml")
    assert loaded.flow is not None, [str(d) for d in loaded.diagnostics]
    return loaded.flow


def _one_file(tmp_path: Path, text: str) -> Flow:
    path = tmp_path / "m.flow.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_flow(path)
    assert loaded.flow is not None, [str(d) for d in loaded.diagnostics]
    return loaded.flow


async def test_each_change_is_one_line_where_it_happened_across_a_call(
    store: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with stage(_flow(tmp_path, ASKING, "ask.subflow.yaml", ASK), store=store) as s:
        ann = await s.person()
        await ann.say("hi")
        assert await ann.hear(2) == ["Hello.", "Your name?"]
        await s.idle()  # committed while the sub-flow waits for the caller
        await ann.say("Ann")
        assert await ann.hear() == ["Thanks Ann x=1 flag=True"]
        await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    entries = await store.transcript(BOT, record.conversation)
    history = [
        (e.kind, e.data["name"], e.data["value"]) if e.kind == "variable" else e.kind
        for e in entries
        if e.kind in ("variable", "state", "message_in")
    ]
    assert history == [
        "state",
        "message_in",
        ("variable", "x", 1),
        ("variable", "prompt", "Your name?"),  # the sub-flow's parameter, at the call
        "state",
        "message_in",
        ("variable", "name", "Ann"),
        ("variable", "who", "Ann"),
        "state",  # back in menu
        ("variable", "flag", 1),
        ("variable", "flag", True),  # True == 1 in Python: still a change
        "state",
    ]
    assert record.variables == {"x": 1, "who": "Ann", "keep": "k", "flag": True}
    assert type(record.variables["flag"]) is bool


async def test_a_secret_passed_to_a_sub_flow_is_redacted_by_value(
    store: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with stage(_flow(tmp_path, PIN, "check.subflow.yaml", CHECK), store=store) as s:
        ann = await s.person()
        await ann.say("pin 4711")
        assert await ann.hear(2) == ["Hello.", "sure?"]
        await s.idle()  # committed while the sub-flow runs
        (running,) = await store.conversations(ConversationQuery())
        lines = await store.transcript(BOT, running.conversation)
        assert "4711" not in json.dumps([line.data for line in lines])
        await ann.say("y")
        assert await ann.hear() == ["ok=yes"]
        await ann.hear_end()
        await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    entries = await store.transcript(BOT, record.conversation)
    variables = {e.data["name"]: e.data["value"] for e in entries if e.kind == "variable"}
    assert variables == {
        "pin": "[redacted]",
        "code": "[redacted]",
        "masked": "ref-[redacted]",
        "ok": "yes",
        "copy": "ref-[redacted]",
    }
    assert "4711" not in json.dumps([e.data for e in entries])
    assert record.status == "ended"
    assert record.variables == {"pin": "[redacted]", "ok": "yes", "copy": "ref-[redacted]"}


_USED_AND_CLEARED = """\
version: 1
name: m
start: menu
settings: {idle_timeout: 1h}
variables: {pin: null, ref: null}
secrets: [pin]
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - match: '^pin (?P<pin>\\d+)$'
        do:
          - set: {ref: "R-{{ pin }}"}
          - set: {pin: null}
          - say: "ok {{ ref }}"
          - stop
"""


async def test_a_secret_set_used_and_cleared_in_one_commit_is_redacted(
    store: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    # the texts to blank out were what the secrets held at the commit and at the last one:
    # a secret cleared after use in the same step left `ref = R-4711`, the bot's reply and
    # the ended record's `ref` in clear
    async with stage(_one_file(tmp_path, _USED_AND_CLEARED), store=store) as s:
        ann = await s.person()
        await ann.say("pin 4711")
        assert await ann.hear(2) == ["Hello.", "ok R-4711"]  # the caller is told
        await ann.hear_end()
        await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    assert record.status == "ended"
    assert record.variables == {"pin": "[redacted]", "ref": "R-[redacted]"}
    lines = await store.transcript(BOT, record.conversation)
    assert "4711" not in json.dumps([line.data for line in lines])
    assert ("message_out", "ok R-[redacted]") in [
        (line.kind, line.data.get("text")) for line in lines
    ]


_MAPPING_AND_NUMBERS = """\
version: 1
name: m
start: menu
settings: {idle_timeout: 1h}
variables: {account: {number: "5550001"}, pin: null, ref: null, order: null}
secrets: [account, pin]
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - match: '^pin (?P<pin>\\d+)$'
        do:
          - set: {ref: "A-{{ account.number }}"}
          - say: "ok {{ ref }}"
      - match: '^order (?P<order>\\d+)$'
        do:
          - say: "order {{ order }} noted"
          - stop
"""


async def test_a_secret_mapping_is_blanked_out_by_each_of_its_values(
    store: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    # a secret mapping's values were never looked for (`ref = "A-5550001"` was stored in
    # clear); a number that holds a secret is blanked out too (it cannot be told from a copy)
    async with stage(_one_file(tmp_path, _MAPPING_AND_NUMBERS), store=store) as s:
        ann = await s.person()
        await ann.say("pin 1234")
        assert await ann.hear(2) == ["Hello.", "ok A-5550001"]
        await ann.say("order 912345")
        assert await ann.hear(1) == ["order 912345 noted"]
        await ann.hear_end()
        await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    assert record.variables == {
        "account": "[redacted]",
        "pin": "[redacted]",
        "ref": "A-[redacted]",
        "order": "9[redacted]5",
    }
    lines = await store.transcript(BOT, record.conversation)
    stored = json.dumps([line.data for line in lines])
    assert "5550001" not in stored
    assert '1234"' not in stored
    said = [(line.kind, line.data.get("text")) for line in lines]
    assert ("message_out", "ok A-[redacted]") in said
    assert ("message_in", "order 9[redacted]5") in said
    assert ("message_out", "order 9[redacted]5 noted") in said


_ECHOED = """\
version: 1
name: m
start: menu
settings: {idle_timeout: 1h}
variables: {employee: null, reset: null, url: URL}
secrets: [employee]
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - match: '^(?P<employee>E\\d{6})$'
        do:
          - webhook:
              url: "{{ url }}/reset"
              json: {employee: "{{ employee }}"}
              result: reset
              success: [{say: "ref {{ reset.id }}"}, stop]
              failure: [stop]
"""


async def test_a_webhooks_answer_that_repeats_a_secret_is_redacted_by_value(
    store: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    # the answer echoes what it was sent: the `reset` variable's line and the ended
    # record had the secret blanked out, but the outcome line kept the answer in clear
    with webhook_server() as hooks:
        hooks.reply = {"id": "R-1", "employee": "E123456"}
        flow = _one_file(tmp_path, _ECHOED.replace("URL", hooks.url))
        async with stage(flow, store=store) as s:
            ann = await s.person()
            await ann.say("E123456")
            assert await ann.hear(2) == ["Hello.", "ref R-1"]
            await ann.hear_end()
            await s.idle()
    assert hooks.received[0][2] == {"employee": "E123456"}  # the service gets it
    (record,) = await store.conversations(ConversationQuery())
    lines = await store.transcript(BOT, record.conversation)
    assert "E123456" not in json.dumps([line.data for line in lines])
    (outcome,) = [line.data for line in lines if line.kind == "outcome"]
    assert outcome["result"]["json"] == {"id": "R-1", "employee": "[redacted]"}

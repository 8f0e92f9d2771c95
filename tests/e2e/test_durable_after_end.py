"""The webhooks of an ``ended`` handler survive a crash (both stores).

A support desk files a ticket when the caller leaves (the state's ``ended`` handler), then
posts the chat's outcome with that ticket to a CRM. The durable bot is killed (as SIGKILL
would) while the ticket system holds the first request, and started again on the same
store: the ticket request is sent again with the same ``Idempotency-Key`` and the secret
it carries (the caller's PIN), and once it answers the rest of the handler runs as it
would have (the ticket variable set, the CRM post). Then the ended record keeps no pending
work and no secret. Before, a conversation that had ended was never carried on: the
ticket was never filed again and the CRM never heard of it.

The same holds for a webhook started before the end and still waited on when it came
(sent again; its answer runs nothing, as without the crash), in an ``ended`` handler of a
sub-flow's state (its variables and call stack kept), after a graceful stop, and for a bot
that starts clean (its application expired). A webhook whose action the new version of
the flow no longer has is reported and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from tests.e2e.harness import BOT, Hooks, stage, webhook_server
from tests.e2e.test_subflow_lines import _one_file
from tests.guards import WAIT
from ucwa_flow.flow import Flow
from ucwa_flow.store import ConversationQuery, ConversationRecord, Store

_DESK = """\
version: 1
name: desk
start: menu
settings: {idle_timeout: 1h}
variables: {topic: null, pin: null, ticket: null, filed: null, url: URL}
secrets: [pin]
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - match: '^pin (?P<pin>\\d{4,})$'
        say: noted
      - any: true
        do: [{set: {topic: "{{ message }}"}}, {say: "About {{ topic }}."}]
    ended:
      - webhook:
          url: "{{ url }}/ticket"
          json: {topic: "{{ topic }}", pin: "{{ pin }}"}
          result: ticket
          success: [{set: {filed: "{{ ticket.id }}"}}]
      - webhook:
          url: "{{ url }}/crm"
          json: {ticket: "{{ filed }}", topic: "{{ topic }}"}
"""


async def _ended(store: Store) -> ConversationRecord:
    """The conversation's record once it is committed ended (``WAIT`` at most)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not (found := await store.conversations(ConversationQuery(status="ended"))):
        assert loop.time() < deadline, "timed out waiting for the ended record"
        await asyncio.sleep(0.01)
    (record,) = found
    return record


def _desk(tmp_path: Path, hooks: Hooks, text: str = _DESK) -> Flow:
    return _one_file(tmp_path, text.replace("URL", hooks.url))


async def test_an_ended_handlers_webhook_pending_at_a_crash_is_sent_again_and_its_rest_runs(
    store: Store, tmp_path: Path
) -> None:
    with webhook_server() as hooks:
        async with stage(_desk(tmp_path, hooks), store=store) as s:
            ann = await s.person()
            await ann.say("pin 98765")
            await ann.say("printer jam")
            assert await ann.hear(3) == ["Hello.", "noted", "About printer jam."]
            await s.idle()
            hooks.hold.set()  # the ticket system takes its time
            await ann.caller.hang_up()
            await s.until(lambda: len(hooks.received) == 1, "the ticket request", idle=False)
            await s.crash()  # the call dies with the process
            hooks.hold.clear()
            await s.restart()
            await s.until(lambda: len(hooks.received) == 3, "the ticket again, and the CRM")
            await s.idle()
            (record,) = await store.conversations(ConversationQuery())
            lines = await store.transcript(BOT, record.conversation)
    paths = [path for _, path, _ in hooks.received]
    assert paths == ["/ticket", "/ticket", "/crm"]
    keys = [headers.get("Idempotency-Key") for headers in hooks.headers]
    assert keys[0] == keys[1], keys  # the same call
    assert keys[2] not in keys[:2]
    ticket = {"topic": "printer jam", "pin": "98765"}  # the secret's real value, again
    assert [body for _, _, body in hooks.received] == [
        ticket,
        ticket,
        {"ticket": "INC0042", "topic": "printer jam"},
    ]
    # the handler ran on as it would have: its lines are the conversation's
    outcomes = [line.data["action"] for line in lines if line.kind == "outcome"]
    assert outcomes == ["webhook", "webhook"]
    filed = [line.data for line in lines if line.kind == "variable"]
    assert {"name": "filed", "value": "INC0042"} in filed
    assert [line.kind for line in lines].count("ended") == 1
    # done: nothing left to carry on, and no secret kept
    assert record.status == "ended"
    assert record.pending == ()
    assert "after_end" not in record.extra
    kept = json.dumps([record.variables, record.extra, [line.data for line in lines]])
    assert "98765" not in kept, [
        m.start() for m in __import__("re").finditer("98765", kept)
    ] and kept


async def test_a_webhook_gone_from_the_new_flow_after_the_end_is_reported(
    store: Store, tmp_path: Path
) -> None:
    with webhook_server() as hooks:
        async with stage(_desk(tmp_path, hooks), store=store) as s:
            ann = await s.person()
            await ann.say("printer jam")
            assert await ann.hear(2) == ["Hello.", "About printer jam."]
            await s.idle()
            hooks.hold.set()
            await ann.caller.hang_up()
            await s.until(lambda: len(hooks.received) == 1, "the ticket request", idle=False)
            await s.crash()
            hooks.hold.clear()
            # the new version files no ticket: a log line where its webhook was
            changed = _DESK.replace(
                """      - webhook:
          url: "{{ url }}/ticket"
          json: {topic: "{{ topic }}", pin: "{{ pin }}"}
          result: ticket
          success: [{set: {filed: "{{ ticket.id }}"}}]
""",
                '      - log: {message: "tickets are filed elsewhere now"}\n',
            )
            await s.restart(_desk(tmp_path, hooks, changed))
            await s.idle()
            (record,) = await store.conversations(ConversationQuery())
            lines = await store.transcript(BOT, record.conversation)
    assert len(hooks.received) == 1  # not sent again: its action is not there any more
    errors = [line.data["message"] for line in lines if line.kind == "error"]
    assert errors == [
        "a webhook waited on after the end is not sent again: "
        "the flow has no webhook at states.menu.ended[0] any more"
    ], errors
    assert record.pending == ()
    assert "after_end" not in record.extra


_BEFORE_END = """\
version: 1
name: desk
start: menu
settings: {idle_timeout: 1h}
variables: {ticket: null, url: URL}
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - any: true
        do:
          - webhook:
              url: "{{ url }}/ticket"
              json: {topic: "{{ message }}"}
              result: ticket
              success: [{say: "Ticket {{ ticket.id }}."}]
"""


async def test_a_webhook_started_before_the_end_and_waited_on_at_a_crash_is_sent_again(
    store: Store, tmp_path: Path
) -> None:
    with webhook_server() as hooks:
        async with stage(_desk(tmp_path, hooks, _BEFORE_END), store=store) as s:
            ann = await s.person()
            hooks.hold.set()
            await ann.say("printer jam")
            await s.until(lambda: len(hooks.received) == 1, "the ticket request", idle=False)
            assert await ann.hear() == ["Hello."]
            await ann.caller.hang_up()  # while the ticket system holds the request
            ended = await _ended(store)  # committed (the webhook still held)
            await s.crash()
            hooks.hold.clear()
            await s.restart()
            await s.until(lambda: len(hooks.received) == 2, "the ticket again")
            await s.idle()
            (record,) = await store.conversations(ConversationQuery())
            lines = await store.transcript(BOT, record.conversation)
    assert [(w.kind, w.after_end) for w in ended.pending] == [("webhook", False)]
    keys = [headers.get("Idempotency-Key") for headers in hooks.headers]
    assert keys[0] == keys[1], keys
    assert hooks.received[0] == hooks.received[1]
    # its answer runs nothing after the end, as without the crash; the work is done
    assert [line.kind for line in lines if line.kind in ("outcome", "message_out")] == [
        "message_out"
    ]
    assert record.pending == ()
    assert "after_end" not in record.extra


_MAIN = """\
version: 1
name: m
start: menu
settings: {idle_timeout: 1h}
variables: {who: null, url: URL}
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - any: true
        do:
          - call:
              flow: ask.subflow.yaml
              with: {prompt: "Your name?", url: "{{ url }}"}
              returns: {name: who}
"""
_ASK = """\
version: 1
subflow: ask
params: {prompt: {}, url: {}}
returns: [name]
variables: {name: null, r: null}
start: ask
states:
  ask:
    enter: [{say: "{{ prompt }}"}]
    ended:
      - webhook:
          url: "{{ url }}/first"
          json: {prompt: "{{ prompt }}"}
          result: r
      - webhook:
          url: "{{ url }}/second"
          json: {id: "{{ r.id }}", prompt: "{{ prompt }}"}
"""


async def test_an_ended_handler_in_a_sub_flow_carries_on_with_the_sub_flows_variables(
    store: Store, tmp_path: Path
) -> None:
    with webhook_server() as hooks:
        (tmp_path / "ask.subflow.yaml").write_text(_ASK, encoding="utf-8")
        flow = _desk(tmp_path, hooks, _MAIN)
        async with stage(flow, store=store) as s:
            ann = await s.person()
            await ann.say("hi")
            assert await ann.hear(2) == ["Hello.", "Your name?"]
            await s.idle()
            hooks.hold.set()
            await ann.caller.hang_up()  # in the sub-flow's state
            await s.until(lambda: len(hooks.received) == 1, "the first request", idle=False)
            await s.crash()
            hooks.hold.clear()
            await s.restart()
            await s.until(lambda: len(hooks.received) == 3, "the first again, and the second")
            await s.idle()
            (record,) = await store.conversations(ConversationQuery())
    assert [(path, body) for _, path, body in hooks.received] == [
        ("/first", {"prompt": "Your name?"}),
        ("/first", {"prompt": "Your name?"}),
        ("/second", {"id": "INC0042", "prompt": "Your name?"}),
    ]
    assert record.pending == ()
    assert "after_end" not in record.extra


async def test_it_is_sent_again_by_a_bot_that_starts_clean(store: Store, tmp_path: Path) -> None:
    with webhook_server() as hooks:
        async with stage(_desk(tmp_path, hooks), store=store) as s:
            ann = await s.person()
            await ann.say("printer jam")
            assert await ann.hear(2) == ["Hello.", "About printer jam."]
            await s.idle()
            hooks.hold.set()
            await ann.caller.hang_up()
            await s.until(lambda: len(hooks.received) == 1, "the ticket request", idle=False)
            await s.crash()
            hooks.hold.clear()
            await s.clock.advance(20 * 60)  # the server forgets an application unpolled 15 min
            await s.restart()
            assert not s.bot.reattached  # no UCWA conversation is needed to send it
            await s.until(lambda: len(hooks.received) == 3, "the ticket again, and the CRM")
            await s.idle()
            (record,) = await store.conversations(ConversationQuery())
    assert [path for _, path, _ in hooks.received] == ["/ticket", "/ticket", "/crm"]
    assert hooks.headers[0]["Idempotency-Key"] == hooks.headers[1]["Idempotency-Key"]
    assert record.pending == ()


async def test_it_is_sent_again_after_a_graceful_stop(store: Store, tmp_path: Path) -> None:
    with webhook_server() as hooks:
        async with stage(_desk(tmp_path, hooks), store=store) as s:
            ann = await s.person()
            await ann.say("printer jam")
            assert await ann.hear(2) == ["Hello.", "About printer jam."]
            await s.idle()
            hooks.hold.set()
            await ann.caller.hang_up()
            await s.until(lambda: len(hooks.received) == 1, "the ticket request", idle=False)
            await s.bot.aclose()  # SIGTERM: commits what is pending, leaves the rest
            assert s.task is not None
            s.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await s.task
            hooks.hold.clear()
            await s.restart()
            await s.until(lambda: len(hooks.received) == 3, "the ticket again, and the CRM")
            await s.idle()
            (record,) = await store.conversations(ConversationQuery())
    assert [path for _, path, _ in hooks.received] == ["/ticket", "/ticket", "/crm"]
    assert hooks.headers[0]["Idempotency-Key"] == hooks.headers[1]["Idempotency-Key"]
    assert record.pending == ()


_CLEARED = """\
version: 1
name: desk
start: menu
settings: {idle_timeout: 1h}
variables: {pin: null, r: null, url: URL}
secrets: [pin]
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - match: '^pin (?P<pin>\\d{4,})$'
        do:
          - webhook:
              url: "{{ url }}/check?pin={{ pin }}"
              json: {x: 1}
              result: r
      - match: '^forget$'
        do: [{set: {pin: null}}, {say: forgotten}]
"""


@pytest.mark.parametrize("crash", [False, True], ids=["no-crash", "crash"])
async def test_a_secret_cleared_before_the_end_is_blanked_out_of_a_later_webhooks_error(
    store: Store, tmp_path: Path, crash: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # the secret texts a conversation held were dropped at its end: the error line of a
    # webhook that failed after it (its URL) was cleaned of the variables' values only, and
    # the PIN, cleared while the webhook was held, was stored in clear; after a crash, the
    # rebuilt instance knew only the variables the record kept
    with webhook_server() as hooks:
        async with stage(_desk(tmp_path, hooks, _CLEARED), store=store) as s:
            ann = await s.person()
            hooks.hold.set()
            hooks.answer_held = not crash  # (after a crash: sent again, and answered)
            await ann.say("pin 98765")
            await s.until(lambda: len(hooks.received) == 1, "the check", idle=False)
            await ann.say("forget")
            assert await ann.hear(2) == ["Hello.", "forgotten"]
            await ann.caller.hang_up()
            ended = await _ended(store)  # committed, the check still held
            hooks.status = 500
            if crash:
                await s.crash()
                hooks.hold.clear()
                await s.restart()
                await s.until(lambda: len(hooks.received) == 2, "the check again")
            else:
                hooks.released.set()
            await s.idle()
            (record,) = await store.conversations(ConversationQuery())
            lines = await store.transcript(BOT, record.conversation)
    assert [w.kind for w in ended.pending] == ["webhook"]
    assert all(path == "/check?pin=98765" for _, path, _ in hooks.received)  # it gets it
    (error,) = [line.data for line in lines if line.kind == "error"]
    assert error["message"] == f"POST {hooks.url}/check?pin=[redacted] answered 500", error
    assert "98765" not in json.dumps([line.data for line in lines])
    # done: the record keeps no work after the end, nor the secret texts kept for it
    assert record.pending == ()
    assert "after_end" not in record.extra
    assert "98765" not in json.dumps(record.extra)
    # and the log's warning line, cleaned at the call of the secrets it was made with
    warned = [r.getMessage() for r in caplog.records if "/check?pin=" in r.getMessage()]
    assert warned, caplog.text
    assert all("pin=[redacted]" in line for line in warned), warned

"""A durable bot (SQLite store) killed mid-conversation and restarted carries on where it was.

The bot runs in this process against the simulator on loopback; :meth:`Stage.crash` kills it
the way SIGKILL would (nothing more committed, sent or deleted: the UCWA application stays
on the server with the events the bot had not acknowledged), and :meth:`Stage.restart`
starts a new bot on the same store. What the caller hears is the proof: every message
answered exactly once, state, variables and ladder kept, timers firing once.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests.e2e.harness import BOT, Hooks, pass_markers, stage, webhook_server
from tests.e2e.shown import assert_shown_in_order
from tests.store.conftest import postgres_url
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.runtime import trace as t
from ucwa_flow.store import ChannelPosition, ConversationQuery, Store, open_store

FLOW = """\
version: 1
name: durable-desk
start: ask
settings:
  idle_timeout: 1h
  changed_message: We updated this desk; please start again.
variables: {name: null, ticket_url: null, ticket: null}
secrets: [name]
states:
  ask:
    enter:
      - say: What is your name?
    messages:
      - match: 'i am (?P<name>\\w+)'
        say: Hello {{ name }}.
        goto: wait
    no_match:
      - say: Please say "I am" and your name.
      - say: Once more, "I am" and your name.
  wait:
    enter:
      - say: Say "ticket" for a ticket.
    messages:
      - keywords: [ticket]
        goto: ticket
      - keywords: [agent]
        goto: handoff
      - any: true
        say: "{{ name }}, you said: {{ message }}"
    timeouts:
      - after: 30s
        do:
          - say: Still there, {{ name }}?
  ticket:
    enter:
      - webhook:
          url: "{{ ticket_url }}"
          method: POST
          json: {who: "{{ name }}"}
          timeout: 10s
          result: ticket
          success:
            - say: Ticket {{ ticket.id }} is open.
          failure:
            - say: The ticket system failed.
      - goto: wait
  handoff:
    enter:
      - say: Asking an agent.
      - invite:
          to: sip:marco@contoso.com
          message: "{{ name }} needs help"
          timeout: 2m
          accepted:
            - say: An agent accepted.
          declined:
            - say: The agent declined.
          no_answer:
            - say: Nobody answered.
      - say: Back to you, {{ name }}.
      - goto: wait
"""


def _flow(ticket_url: str = "http://127.0.0.1:9/none") -> Flow:
    text = FLOW.replace("ticket_url: null", f"ticket_url: {ticket_url!r}")
    result = load_flow_text(text, "durable.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


async def test_a_restarted_bot_carries_on_every_conversation(store: Store) -> None:
    async with stage(_flow(), store=store) as s:
        lene = await s.person()
        await lene.say("hello")
        assert await lene.hear(2) == ["What is your name?", 'Please say "I am" and your name.']
        await s.idle()

        await s.crash()
        await lene.say("hm")  # while the bot is down: the ladder's second rung
        await s.restart()
        assert await lene.hear() == ['Once more, "I am" and your name.']
        await lene.say("I am Ann")
        assert await lene.hear(2) == ["Hello Ann.", 'Say "ticket" for a ticket.']
        await s.idle()

        await s.crash()
        await s.clock.advance(31)  # the timeout fell due while the bot was down
        await s.restart()
        await s.clock.advance(0)
        assert await lene.hear() == ["Still there, Ann?"]
        await s.clock.advance(60)  # fired once, not again
        await lene.say("yes")
        assert await lene.hear() == ["Ann, you said: yes"]
        await lene.silence()


async def test_a_webhook_pending_at_the_crash_is_sent_again_with_the_same_key(store: Store) -> None:
    with webhook_server() as hooks:
        async with stage(_flow(hooks.url), store=store) as s:
            lene = await s.person()
            await lene.say("I am Bo")
            assert await lene.hear(3) == [
                "What is your name?",
                "Hello Bo.",
                'Say "ticket" for a ticket.',
            ]
            await s.idle()
            hooks_before = len(hooks.received)
            hooks.hold.set()  # the ticket system takes its time
            await lene.say("ticket")
            await s.until(lambda: len(hooks.received) > hooks_before, "the webhook", idle=False)
            await s.crash()  # the call dies with the process
            hooks.hold.clear()
            await s.restart()
            await s.until(lambda: len(hooks.received) > hooks_before + 1, "the retry")
            assert await lene.hear(2) == [
                "Ticket INC0042 is open.",
                'Say "ticket" for a ticket.',
            ]
            await lene.silence()
            keys = _keys(hooks)
            assert len(keys) == 2, keys
            assert keys[0] == keys[1], keys


def _keys(hooks: Hooks) -> list[str]:
    return [headers.get("Idempotency-Key", "") for headers in hooks.headers]


async def test_the_store_keeps_one_continuous_history(store: Store) -> None:
    async with stage(_flow(), store=store) as s:
        lene = await s.person()
        await lene.say("I am Cyd")
        assert len(await lene.hear(3)) == 3
        await s.idle()
        await s.crash()
        await lene.say("after the crash")
        await s.restart()
        assert await lene.hear() == ["Cyd, you said: after the crash"]
        await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    lines = await store.transcript(record.account, record.conversation)
    said = [(line.kind, (line.data or {}).get("text")) for line in lines if "message" in line.kind]
    assert said == [
        ("message_out", "What is your name?"),
        ("message_in", "[redacted]"),  # it gave the secret name
        ("message_out", "Hello [redacted]."),
        ("message_out", 'Say "ticket" for a ticket.'),
        ("message_in", "after the crash"),
        ("message_out", "[redacted], you said: after the crash"),
    ]
    assert all(line.outcome == "sent" for line in lines if line.kind == "message_out")
    variables = [line.data for line in lines if line.kind == "variable"]
    # once: the turn after the restart is measured against the variables restored
    assert variables == [{"name": "name", "value": "[redacted]"}]
    if store.backend == "sqlite":  # what an operator reads: one history across the restart
        said_in_order = [
            "What is your name?",
            "caller  [redacted]",
            "Hello [redacted].",
            "caller  after the crash",
            "[redacted], you said: after the crash",
        ]
        await assert_shown_in_order(store, record.conversation, said_in_order)


async def test_an_invite_ringing_at_the_crash_is_answered_after_the_restart(store: Store) -> None:
    async with stage(_flow(), store=store) as s:
        marco = await s.agent("sip:marco@contoso.com")
        lene = await s.person()
        await lene.say("I am Di")
        assert len(await lene.hear(3)) == 3
        await lene.say("agent")
        assert await lene.hear() == ["Asking an agent."]
        offer = await marco.invited()
        await s.idle()
        await s.crash()
        await marco.client.accept(offer.accept_href)  # while the bot is down
        await s.restart()
        assert await lene.hear(3) == [
            "An agent accepted.",
            "Back to you, Di.",
            'Say "ticket" for a ticket.',
        ]
        await lene.silence()
        assert marco.invitations.empty()  # invited once, not again after the restart


async def test_an_invite_decided_but_not_sent_before_the_crash_is_sent_after_it(
    store: Store,
) -> None:
    async with stage(_flow(), store=store) as s:
        marco = await s.agent("sip:marco@contoso.com")
        lene = await s.person()
        await lene.say("I am Ed")
        assert len(await lene.hear(3)) == 3
        await s.idle()
        invitations = s.bot.engine.invitations
        invitations.dispatch = lambda op: None  # type: ignore[method-assign]  # dies first
        await lene.say("agent")
        assert await lene.hear() == ["Asking an agent."]
        await s.idle()
        await s.crash()
        await s.restart()
        await pass_markers(s)
        offer = await marco.invited()
        await marco.client.decline(offer.decline_href)
        assert await lene.hear(2) == ["The agent declined.", "Back to you, Ed."]


async def test_conversations_of_an_application_gone_meanwhile_are_recorded_as_ended(
    store: Store,
) -> None:
    async with stage(_flow(), store=store) as s:
        lene = await s.person()
        await lene.say("I am Flo")
        assert len(await lene.hear(3)) == 3
        await s.idle()
        await s.crash()
        await s.clock.advance(20 * 60)  # the server forgets an application unpolled 15 min
        await s.restart()
        assert not s.bot.reattached
        assert s.bot.engine.instances == {}
        (record,) = await store.conversations(ConversationQuery())
        assert record.status == "ended"
        assert "application ended" in (record.ended_reason or "")


async def test_a_conversation_whose_state_is_gone_from_the_new_flow_ends_politely(
    store: Store,
) -> None:
    async with stage(_flow(), store=store) as s:
        lene = await s.person()
        await lene.say("I am Gus")
        assert len(await lene.hear(3)) == 3
        await s.idle()
        await s.crash()
        changed = FLOW.replace("  wait:", "  waiting:").replace("goto: wait", "goto: waiting")
        result = load_flow_text(changed, "durable.flow.yaml")
        assert result.flow is not None, [str(d) for d in result.diagnostics]
        s.flow = result.flow
        await s.restart()
        assert await lene.hear() == ["We updated this desk; please start again."]
        assert await lene.hear_end() == "the bot ended the conversation"


async def test_a_reply_sent_just_before_the_crash_is_not_sent_again(store: Store) -> None:
    async with stage(_flow(), store=store) as s:
        lene = await s.person()
        await lene.say("I am Hal")
        assert len(await lene.hear(3)) == 3
        await s.idle()
        committer, durable = s.bot._committer, s.bot.durable
        assert committer is not None
        assert durable is not None
        committer.cancel()
        commit, dead = durable.commit, asyncio.Event()

        async def commit_then_die(position: ChannelPosition | None = None) -> bool:
            done = await commit(position)  # the reply is committed, then sent...
            await dead.wait()  # ...and the process dies before committing anything more
            return done

        durable.commit = commit_then_die  # type: ignore[method-assign]
        await lene.say("one")
        assert await lene.hear() == ["Hal, you said: one"]
        await s.crash()
        snapshot = await store.load(BOT)
        assert [e.payload["text"] for e in snapshot.outbox] == ["Hal, you said: one"]
        await s.restart()
        await pass_markers(s)
        await lene.say("two")
        assert await lene.hear() == ["Hal, you said: two"]
        await lene.silence()


async def test_a_reply_committed_but_not_sent_before_the_crash_is_sent_once(store: Store) -> None:
    async with stage(_flow(), store=store) as s:
        lene = await s.person()
        await lene.say("I am Ida")
        assert len(await lene.hear(3)) == 3
        await s.idle()
        sender = s.bot.engine.sender
        sender.send = lambda items: None  # type: ignore[method-assign]  # dies first
        await lene.say("one")
        await s.until(lambda: len(s.of(t.MessageOut)) == 4, "the reply decided")
        await s.idle()
        await s.crash()
        await s.restart()
        await pass_markers(s)
        assert await lene.hear() == ["Ida, you said: one"]
        await lene.say("two")
        assert await lene.hear() == ["Ida, you said: two"]
        await lene.silence()


async def test_a_locked_store_holds_the_bot_back_until_it_works_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await open_store(str(path), busy_timeout=0.05)
    try:
        async with stage(_flow(), store=store) as s:
            lene = await s.person()
            await lene.say("I am Jo")
            assert len(await lene.hear(3)) == 3
            await s.idle()
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
            await lene.say("one")
            await s.until(lambda: "is locked" in caplog.text, "the store failure", idle=False)
            await lene.silence()  # nothing is sent without being committed
            other.execute("ROLLBACK")
            other.close()
            await s.clock.advance(1)  # the next try
            assert await lene.hear() == ["Jo, you said: one"]
            await lene.silence()
        failures = [r for r in caplog.records if "is locked" in r.getMessage()]
        assert failures
        assert all("\n" not in r.getMessage() and not r.exc_info for r in failures)
    finally:
        await store.aclose()


async def test_a_database_connection_lost_mid_run_is_tried_again(
    pg_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store = pg_store
    # its connection's application_name is its schema's name (tests/bot_stores.py)
    found = re.search(r"\(schema (\w+)\)", store.target)
    assert found is not None, store.target
    name = found.group(1)
    async with stage(_flow(), store=store) as s:
        lene = await s.person()
        await lene.say("I am Kai")
        assert len(await lene.hear(3)) == 3
        await s.idle()
        with psycopg.connect(postgres_url(), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            ).fetchall()
        assert killed, "the store has a connection of its own"
        await lene.say("one")
        await s.until(lambda: "nothing is sent or read" in caplog.text, "the failure", idle=False)
        await lene.silence()
        await s.clock.advance(1)  # the next try opens a new connection
        assert await lene.hear() == ["Kai, you said: one"]
        await lene.silence()

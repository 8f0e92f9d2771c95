"""A durable bot (SQLite store) killed mid-conversation and restarted carries on where it was.

The bot runs in this process against the simulator on loopback; :meth:`Stage.crash` kills it
the way SIGKILL would (nothing more committed, sent or deleted: the UCWA application stays
on the server with the events the bot had not acknowledged), and :meth:`Stage.restart`
starts a new bot on the same store. What the caller hears is the proof: every message
answered exactly once, state, variables and ladder kept, timers firing once.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import Hooks, stage, webhook_server
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.store import ConversationQuery, open_store

FLOW = """\
version: 1
name: durable-desk
start: ask
settings:
  idle_timeout: 1h
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
"""


def _flow(ticket_url: str = "http://127.0.0.1:9/none") -> Flow:
    text = FLOW.replace("ticket_url: null", f"ticket_url: {ticket_url!r}")
    result = load_flow_text(text, "durable.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


async def test_a_restarted_bot_carries_on_every_conversation(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    try:
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
    finally:
        await store.aclose()


async def test_a_webhook_pending_at_the_crash_is_sent_again_with_the_same_key(
    tmp_path: Path,
) -> None:
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    try:
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
                assert len(keys) == 2 and keys[0] == keys[1], keys
    finally:
        await store.aclose()


def _keys(hooks: Hooks) -> list[str]:
    return [headers.get("Idempotency-Key", "") for headers in hooks.headers]


async def test_the_store_keeps_one_continuous_history(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    try:
        async with stage(_flow(), store=store) as s:
            lene = await s.person()
            await lene.say("I am Cy")
            assert len(await lene.hear(3)) == 3
            await s.idle()
            await s.crash()
            await lene.say("after the crash")
            await s.restart()
            assert await lene.hear() == ["Cy, you said: after the crash"]
            await s.idle()
            await s.bot.durable.commit() if s.bot.durable else None
        (record,) = await store.conversations(ConversationQuery())
        lines = await store.transcript(record.account, record.conversation)
        said = [
            (line.kind, (line.data or {}).get("text")) for line in lines if "message" in line.kind
        ]
        assert said == [
            ("message_out", "What is your name?"),
            ("message_in", "I am Cy"),
            ("message_out", "Hello Cy."),
            ("message_out", 'Say "ticket" for a ticket.'),
            ("message_in", "after the crash"),
            ("message_out", "Cy, you said: after the crash"),
        ]
        assert all(line.outcome == "sent" for line in lines if line.kind == "message_out")
        variables = [line.data for line in lines if line.kind == "variable"]
        assert {"name": "name", "value": "[redacted]"} in variables
    finally:
        await store.aclose()

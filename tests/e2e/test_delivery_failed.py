"""``delivery_failed``: a send request that fails and a server Failure event both run it,
with UCWA's reason in ``delivery``."""

from __future__ import annotations

import asyncio
import contextlib
import re
from functools import partial

from tests.e2e.harness import BOT, Stage, stage
from tests.guards import WAIT
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.runtime import trace as t
from ucwa_flow.store import Store

FLOW = """
version: 1
name: lossy
start: ask
settings: {idle_timeout: 10m}
variables: {lost: null}
states:
  ask:
    enter: [{say: "Question?"}]
    messages:
      - any: true
        say: "Answer."
    timeouts:
      - after: 1m
        do: [{say: "Still there?"}]
    delivery_failed:
      - log: >-
          lost: {{ delivery.code }}/{{ delivery.subcode }}
          {{ delivery.status }} {{ delivery.message }}
      - set: {lost: "{{ delivery }}"}
      - say: "Sorry, one of my messages was lost."
"""


def _flow() -> Flow:
    result = load_flow_text(FLOW, "lossy.flow.yaml")
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    return result.raise_for_errors()


def _bots_messages(s: Stage) -> str:
    """The path of the bot's sendMessage link (the caller's own sends must not fail)."""
    (instance,) = s.bot.engine.instances.values()
    href = instance.conv.messaging.send_message_href
    assert href is not None
    return re.escape(href.split("?", 1)[0]) + "$"


def _sleeping(s: Stage, seconds: float) -> bool:
    """Something (the bot's client backing off) sleeps ``seconds`` from now on the clock."""
    return s.clock.monotonic() + seconds in s.clock.due_times


def _lost(s: Stage) -> list[str]:
    return [a.detail for a in s.of(t.ActionDone) if a.action == "log"]


async def test_a_send_request_that_fails_runs_delivery_failed_with_the_ucwa_error() -> None:
    async with stage(_flow()) as s:
        lene = await s.person()
        await lene.say("hi")
        assert await lene.hear() == ["Question?"]  # the invitation's "hi" is not answered yet
        assert await lene.hear() == ["Answer."]
        # the first try and the client's three retries (0.5, 1 and 2 s apart) all fail
        rule = s.sim.faults.inject(method="POST", path=_bots_messages(s), status=503, times=4)
        await lene.say("are you there?")
        for tried, backoff in ((1, 0.5), (2, 1.0), (3, 2.0)):
            await s.until(
                partial(lambda n, b: rule.hits == n and _sleeping(s, b), tried, backoff),
                f"the back-off after try {tried}",
                idle=False,
            )
            await s.clock.advance(backoff)
        assert await lene.hear() == ["Sorry, one of my messages was lost."]
        assert rule.hits == 4
        await s.idle()
        assert _lost(s) == ["lost: ServiceUnavailable/None 503 Injected fault."]
        (instance,) = s.bot.engine.instances.values()
        assert instance.variables["lost"] == {
            "code": "ServiceUnavailable",
            "subcode": None,
            "message": "Injected fault.",
            "status": 503,
        }
        errors = [e.message for e in s.of(t.FlowError)]
        assert len(errors) == 1
        assert "503" in errors[0]
        # the conversation goes on
        await lene.say("again")
        assert await lene.hear() == ["Answer."]


async def test_a_say_that_fails_inside_delivery_failed_does_not_run_it_again() -> None:
    async with stage(_flow()) as s:
        lene = await s.person()
        await lene.say("hi")
        assert await lene.hear(2) == ["Question?", "Answer."]
        s.sim.faults.inject(method="POST", path=_bots_messages(s), status=409, times=2)
        await lene.say("are you there?")
        await s.until(lambda: len(s.of(t.FlowError)) == 2, "both failed sends")
        await lene.silence()
        assert _lost(s) == ["lost: Conflict/None 409 Injected fault."]
        await lene.say("again")
        assert await lene.hear() == ["Answer."]


async def test_a_lost_connection_after_the_send_runs_delivery_failed_without_a_code() -> None:
    async with stage(_flow()) as s:
        lene = await s.person()
        await lene.say("hi")
        assert await lene.hear(2) == ["Question?", "Answer."]
        s.sim.faults.inject(method="POST", path=_bots_messages(s), drop=True, times=1)
        await lene.say("are you there?")
        # the server did the work: the message arrives, but the bot never heard the answer
        assert await lene.hear(2) == ["Answer.", "Sorry, one of my messages was lost."]
        await s.idle()
        (line,) = _lost(s)
        assert line.startswith("lost: None/None None ")
        (instance,) = s.bot.engine.instances.values()
        assert instance.variables["lost"]["code"] is None
        assert instance.variables["lost"]["message"]


async def test_a_failure_event_for_a_message_runs_delivery_failed_with_its_reason() -> None:
    async with stage(_flow()) as s:
        lene = await s.person()
        await lene.say("hi")
        assert await lene.hear(2) == ["Question?", "Answer."]
        # the caller's endpoint is gone without the server having ended the chat yet: the
        # server accepts the bot's next message and then reports it undeliverable
        (chat,) = s.sim.router.live_chats.values()
        caller, chat.caller = chat.caller, None
        try:
            await s.clock.advance(60)  # the silence timeout says "Still there?"
            await s.idle()
            await s.until(lambda: len(_lost(s)) == 1, "delivery_failed")
            # its own "Sorry" is lost too: reported, but it does not run delivery_failed again
            await s.until(lambda: len(s.of(t.MessageOut)) == 4, "the bot's apology")
            await s.idle()
        finally:
            chat.caller = caller
        assert _lost(s) == [
            "lost: RemoteFailure/Unreachable None The message could not be delivered."
        ]
        (instance,) = s.bot.engine.instances.values()
        assert [m.text for m in s.of(t.MessageOut)][2:] == [
            "Still there?",
            "Sorry, one of my messages was lost.",
        ]
        assert instance.variables["lost"] == {
            "code": "RemoteFailure",
            "subcode": "Unreachable",
            "message": "The message could not be delivered.",
            "status": None,
        }


async def test_a_graceful_stop_sends_what_delivery_failed_says_of_a_reply_lost_meanwhile(
    sqlite_store: Store,
) -> None:
    """A durable bot's graceful stop waits for the replies under way; one of them fails
    while it waits, and ``delivery_failed`` answers. That answer must be sent by the stop
    too: left in the outbox, it is in doubt for the next start (another worker's, after a
    hand-over), which says it only once its event channel has settled it."""
    async with stage(_flow(), store=sqlite_store) as s:
        lene = await s.person()
        await lene.say("hi")
        assert await lene.hear(2) == ["Question?", "Answer."]
        # the next reply waits on the clock at the server, then fails (409: not sent again)
        rule = s.sim.faults.inject(
            method="POST", path=_bots_messages(s), status=409, delay=5.0, times=1
        )
        await lene.say("are you there?")
        # sent once committed: it waits at the server
        await s.until(lambda: rule.hits == 1, "the reply at the server", idle=False)
        assert s.task is not None
        s.task.cancel()  # a graceful stop: the reading ends, then the bot closes
        with contextlib.suppress(asyncio.CancelledError):
            await s.task
        s.task = None
        committer, durable = s.bot._committer, s.bot.durable
        assert committer is not None
        assert durable is not None
        closing = asyncio.create_task(s.bot.aclose())
        # the stop cancels the committer, commits what is left, then waits for the reply
        await s.until(
            lambda: committer.done() and not (durable.committing or durable.journal),
            "the stop to wait for the reply",
            idle=False,
        )
        assert not closing.done()
        await s.clock.advance(5.0)
        await asyncio.wait_for(closing, WAIT)
        assert _lost(s) == ["lost: Conflict/None 409 Injected fault."]
        snapshot = await sqlite_store.load(BOT)
        assert snapshot.outbox == ()  # sent, and its answer committed: nothing in doubt
        assert await lene.hear() == ["Sorry, one of my messages was lost."]

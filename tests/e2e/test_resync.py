"""After the event channel loses track, the conversations the server still has carry on.

The simulator's ``resync`` (a P-GET answered with only a ``resync`` link, as the fault plan
injects it) loses nothing and its conversations stay active: the bot asks the server which
conversations are still open, re-reads their messaging and carries on. A ``resume`` after
an absence (``resume_after``) ends the client's conversations on the server: the bot finds
none listed and ends its own as it always did. A rebuild whose reads fail ends them all.
Everything runs over loopback: the real bot, the real simulator, a real caller.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

import pytest

from tests.e2e.harness import BOT, Person, Stage, stage
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.runtime import trace as t
from ucwa_flow.simulator.state import Application
from ucwa_flow.store import ConversationQuery, Store

FLOW = """\
version: 1
name: resync-desk
start: ask
settings:
  idle_timeout: 1h
variables: {name: null}
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
  wait:
    messages:
      - keywords: [agent]
        goto: asking
      - any: true
        say: "{{ name }}, you said: {{ message }}"
  asking:
    enter:
      - say: Asking Marco.
      - invite:
          to: sip:marco@contoso.com
          message: "{{ name }} needs help"
          timeout: 2m
          accepted: [{say: Marco accepted.}]
          declined: [{say: Marco declined.}]
          no_answer: [{say: Marco did not answer.}]
      - goto: wait
    messages:
      - any: true
        say: Still asking.
"""

KEPT = "carries on after the resync"


def _flow() -> Flow:
    result = load_flow_text(FLOW, "resync.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


def _bot_app(s: Stage) -> Application:
    return [a for a in s.sim.applications if a.user.uri == BOT][-1]


def _resync_next_poll(s: Stage, times: int = 1) -> None:
    """The bot's next P-GET (``times`` P-GETs) is answered with only a ``resync`` link to
    its first unacknowledged batch, as the fault plan's ``resync`` answers it."""
    app = _bot_app(s)
    href = app.channel.href(app.channel.first_unacked)
    events = re.escape(urlsplit(href).path) + "$"
    body = json.dumps({"_links": {"resync": {"href": href}}}).encode()
    s.sim.faults.inject(method="GET", path=events, body=body, times=times)


async def _in_wait(s: Stage) -> tuple[Person, str]:
    """A caller in state ``wait`` as Ann; the conversation's href."""
    lene = await s.person()
    await lene.say("I am Ann")
    assert await lene.hear(2) == ["What is your name?", "Hello Ann."]
    await s.idle()
    (href,) = s.bot.engine.instances
    return lene, href


async def _resynced(s: Stage, lene: Person, times: int = 1) -> None:
    """The bot's poll after the caller's next message is answered with ``resync``."""
    _resync_next_poll(s, times)
    await lene.say("one")
    assert await lene.hear() == ["Ann, you said: one"]
    channel = s.bot.channel
    assert channel is not None
    await s.until(lambda: channel.stats.resyncs == 1, "the resync", idle=False)


async def test_a_conversation_still_open_after_a_resync_carries_on_in_its_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "ucwa_flow")
    async with stage(_flow()) as s:
        lene, href = await _in_wait(s)
        await _resynced(s, lene)
        await lene.say("two")
        assert await lene.hear() == ["Ann, you said: two"]  # the old bot hung up instead
        await lene.silence()
        assert list(s.bot.engine.instances) == [href]
        assert s.bot.engine.instances[href].state == "wait"
        assert s.of(t.Ended) == []
        kept = [r for r in caplog.records if KEPT in r.getMessage()]
        assert len(kept) == 1
        assert kept[0].levelno == logging.WARNING


async def test_a_later_message_waits_for_the_decision_and_nothing_else_does() -> None:
    async with stage(_flow()) as s:
        lene, href = await _in_wait(s)
        engine = s.bot.engine
        # the rebuild's read of the active conversations waits 5 s on the server's clock
        listing = s.sim.faults.inject(method="GET", path=r"/communication/conversations$", delay=5)
        await _resynced(s, lene)
        await s.until(lambda: s.sim.app.delayed == 1, "the rebuild's read", idle=False)
        conv = engine.tracker.get(href)
        assert conv is not None
        read = conv.last_incoming
        await lene.say("two")  # read by the bot while the rebuild's GET is out...
        await s.until(lambda: conv.last_incoming != read, "the message read", idle=False)
        held = s.clock.monotonic()
        await s.clock.advance(5)
        assert await lene.hear() == ["Ann, you said: two"]
        # ...and handled only once the listing was answered: the shared clock moves only
        # when the test moves it, so this holds however slow the machine
        (two,) = [r for r in s.of(t.MessageIn) if r.text == "two"]
        assert two.at >= held + 5
        await lene.silence()
        assert listing.hits == 1
        assert s.of(t.Ended) == []


async def test_a_conversation_the_server_ended_in_the_gap_ends_as_before(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "ucwa_flow")
    async with stage(_flow()) as s:
        lene, href = await _in_wait(s)
        # the bot's next poll reaches the server after resume_after: it was away, and the
        # server ended its conversations and answers with ``resume``
        away = s.sim.config.resume_after + 1
        events = re.escape(urlsplit(_bot_app(s).channel.href(1)).path) + "$"
        s.sim.faults.inject(method="GET", path=events, delay=away)
        await lene.say("one")
        assert await lene.hear() == ["Ann, you said: one"]
        await s.idle()
        await s.clock.advance(away)
        assert await lene.hear_end()
        await s.until(lambda: not s.bot.engine.instances, "the bot to end it")
        assert [r.conversation for r in s.of(t.Ended)] == [href]
        assert "lost track of the conversations (resume)" in caplog.text
        assert "carries on after the resume" not in caplog.text


async def test_a_conversation_waiting_on_an_invite_ends_as_before() -> None:
    async with stage(_flow()) as s:
        marco = await s.agent("sip:marco@contoso.com")  # answers by hand: never, here
        lene, href = await _in_wait(s)
        await lene.say("agent")
        assert await lene.hear() == ["Asking Marco."]
        await marco.invited()
        await s.idle()
        _resync_next_poll(s)
        await lene.say("hello?")
        assert await lene.hear() == ["Still asking."]
        assert await lene.hear_end()  # the invitation it waited on was let go
        await s.until(lambda: not s.bot.engine.instances, "the bot to end it")
        assert [(r.conversation, r.by) for r in s.of(t.Ended)] == [(href, "bot")]


async def test_a_failed_rebuild_ends_every_conversation(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "ucwa_flow")
    async with stage(_flow()) as s:
        lene, href = await _in_wait(s)
        s.sim.faults.inject(method="GET", path=r"/communication/conversations$", status=403)
        await _resynced(s, lene)
        assert await lene.hear_end()
        await s.until(lambda: not s.bot.engine.instances, "the bot to end it")
        assert [(r.conversation, r.by) for r in s.of(t.Ended)] == [(href, "bot")]
        failed = [r for r in caplog.records if "could not read which" in r.getMessage()]
        assert len(failed) == 1, caplog.text
        assert "after the resync" in failed[0].getMessage()
        assert "ending all 1 of them" in failed[0].getMessage()
        assert KEPT not in caplog.text


async def test_one_conversation_whose_read_fails_ends_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "ucwa_flow")
    async with stage(_flow()) as s:
        lene, href = await _in_wait(s)
        marco = await s.person("sip:marco@contoso.com")
        await marco.say("I am Marco")
        assert await marco.hear(2) == ["What is your name?", "Hello Marco."]
        await s.idle()
        (other,) = [h for h in s.bot.engine.instances if h != href]
        # Lene's conversation is listed but its read fails, as when she hangs up between
        # the bot's listing and its read
        path = re.escape(urlsplit(href).path) + "$"
        s.sim.faults.inject(method="GET", path=path, status=404, times=None)
        await _resynced(s, lene)
        assert await lene.hear_end()
        await s.until(lambda: list(s.bot.engine.instances) == [other], "the bot to end hers")
        await marco.say("still here")
        assert await marco.hear() == ["Marco, you said: still here"]
        assert [(r.conversation, r.by) for r in s.of(t.Ended)] == [(href, "bot")]
        unread = [r for r in caplog.records if "could not re-read it" in r.getMessage()]
        assert [r.getMessage().startswith(f"{href}:") for r in unread] == [True], caplog.text
        assert "could not read which" not in caplog.text


async def test_a_durable_bot_keeps_the_conversation_in_its_store(sqlite_store: Store) -> None:
    async with stage(_flow(), store=sqlite_store) as s:
        lene, href = await _in_wait(s)
        await _resynced(s, lene)
        await lene.say("two")
        assert await lene.hear() == ["Ann, you said: two"]
        await lene.silence()
        await s.committed()
        (record,) = await sqlite_store.conversations(ConversationQuery())
        assert (record.conversation, record.status, record.state) == (href, "active", "wait")
        assert s.of(t.Ended) == []

        await s.crash()  # and a restart carries it on from the store
        await lene.say("three")
        await s.restart()
        assert await lene.hear() == ["Ann, you said: three"]


async def test_a_crash_during_the_rebuild_redoes_it_at_the_restart(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ucwa_flow")
    async with stage(_flow(), store=sqlite_store) as s:
        lene, href = await _in_wait(s)
        listing = s.sim.faults.inject(method="GET", path=r"/communication/conversations$", delay=5)
        # the stored position is before the resync: the server answers it with a resync
        # again after the restart, as a real server answers an ack it no longer has
        await _resynced(s, lene, times=2)
        await s.until(lambda: s.sim.app.delayed == 1, "the rebuild's read", idle=False)
        await s.crash()  # before the decision was committed
        assert KEPT not in caplog.text
        await s.restart()
        channel = s.bot.channel
        assert channel is not None
        await s.until(lambda: channel.stats.resyncs == 1, "the resync after the restart")
        assert KEPT in caplog.text
        await lene.say("two")
        assert await lene.hear() == ["Ann, you said: two"]
        await s.clock.advance(5)  # the crashed bot's read is answered (to nobody)
        await lene.silence()
        assert listing.hits == 1
        assert s.of(t.Ended) == []
        (record,) = await sqlite_store.conversations(ConversationQuery())
        assert (record.conversation, record.status, record.state) == (href, "active", "wait")

"""A bot that restarts: re-attaching to its application and resuming its event channel.

Everything goes over real HTTP to the simulator on loopback; protocol time is a
ManualClock. The bot is ``sip:toshm``; Lene is a virtual user the simulator plays. A
"crash" closes a client's connections without deleting its application, at a moment when
(without prefetch) no P-GET is outstanding: the server then still holds the last batch
read as unacknowledged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.guards import WAIT
from ucwa_flow.clock import ManualClock
from ucwa_flow.lifecycle import (
    Change,
    LifecycleTracker,
    MessageDelivery,
    MessageReceived,
    dump_conversation,
    load_conversation,
)
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve
from ucwa_flow.simulator.state import Application as SimApplication
from ucwa_flow.ucwa import ChannelItem, ConversationsLost, EventChannel, UcwaClient
from ucwa_flow.ucwa.events import EventBatch, MessageEvent, MessagingInvitationEvent

TOSH = "sip:toshm@contoso.com"
LENE = "sip:lenea@contoso.com"
PASSWORD = "pass@word1"


class Rig:
    """The simulator on loopback and the bot's clients (one per "process")."""

    def __init__(self, sim: Simulator, clock: ManualClock, base_url: str) -> None:
        self.sim = sim
        self.clock = clock
        self.base_url = base_url
        self.clients: list[UcwaClient] = []
        self.channels: list[EventChannel] = []

    async def bot(self, expect: str | None = None) -> UcwaClient:
        """A new bot process: a fresh client, signed in (re-attaching when it can)."""
        client = UcwaClient(TOSH, PASSWORD, server_url=self.base_url, clock=self.clock)
        self.clients.append(client)
        await client.sign_in(expect)
        await client.make_me_available()
        return client

    def channel(self, client: UcwaClient, start_at: str | None = None) -> EventChannel:
        channel = EventChannel(client, prefetch=False, start_at=start_at, clock=self.clock)
        self.channels.append(channel)
        return channel

    def server_app(self, client: UcwaClient) -> SimApplication:
        """The simulator's side of a client's application."""
        app_id = urlsplit(client.application.self_href).path.rsplit("/", 1)[1]
        found = self.sim.application_by_id(app_id)
        assert found is not None
        return found

    async def crash(self, client: UcwaClient, channel: EventChannel) -> None:
        """The process dies: connections drop, the application is not deleted."""
        await channel.aclose()
        await client.aclose()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = ManualClock()
    sim = Simulator(SimulatorConfig(seed=7), clock=clock)
    async with serve(sim, host="127.0.0.1", port=0) as url:
        rig = Rig(sim, clock, url)
        yield rig
        for channel in rig.channels:
            await channel.aclose()
        for client in rig.clients:
            await client.aclose()


async def take(channel: EventChannel) -> ChannelItem:
    return await asyncio.wait_for(anext(channel), WAIT)


async def until(condition: Callable[[], bool]) -> None:
    """Wait (in real time, bounded by WAIT) until the server side shows ``condition``."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 (the simulator's state has no notification)
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), WAIT)


async def take_until(channel: EventChannel, what: Callable[[ChannelItem], bool]) -> ChannelItem:
    """Items up to the first that satisfies ``what`` (the consumer asks for each)."""
    while True:
        item = await take(channel)
        if what(item):
            return item


def ack(url: str | None) -> str:
    assert url is not None
    return parse_qs(urlsplit(url).query)["ack"][0]


def has(kind: type, **fields: object) -> Callable[[ChannelItem], bool]:
    def match(item: ChannelItem) -> bool:
        return isinstance(item, EventBatch) and any(
            isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items())
            for e in item.events
        )

    return match


def texts(items: list[ChannelItem]) -> list[str]:
    return [
        e.text or ""
        for item in items
        if isinstance(item, EventBatch)
        for e in item.events
        if isinstance(e, MessageEvent) and e.direction == "Incoming" and e.type == "completed"
    ]


async def _invite(rig: Rig, channel: EventChannel) -> EventBatch:
    """Lene invites the bot; returns the batch that brings the bot the invitation."""
    await rig.sim.virtual_user(LENE).start_conversation(TOSH, message="one")
    item = await take_until(channel, has(MessagingInvitationEvent, type="started"))
    assert isinstance(item, EventBatch)
    return item


async def _invited(rig: Rig, channel: EventChannel) -> MessagingInvitationEvent:
    """Lene invites the bot; returns the invitation as the bot's channel reports it."""
    batch = await _invite(rig, channel)
    return next(e for e in batch.events if isinstance(e, MessagingInvitationEvent))


# -- prefetch=False ------------------------------------------------------------------------


async def test_without_prefetch_the_next_poll_waits_for_the_consumer(rig: Rig) -> None:
    bot = await rig.bot()
    channel = rig.channel(bot)
    server = rig.server_app(bot).channel
    # makeMeAvailable's (medium) events are released after the medium hold
    pending = asyncio.ensure_future(take(channel))
    await until(lambda: server.held)
    await rig.clock.advance(rig.sim.config.medium_hold)
    assert isinstance(await pending, EventBatch)
    first = channel.position
    assert first is not None
    assert parse_qs(urlsplit(first.read_at).query) == {"ack": ["1"], "timeout": ["180"]}
    assert (ack(first.next_url), first.application) == ("2", bot.application.self_href)

    # An HTTP round trip later, no P-GET is outstanding and batch 1 is not acknowledged.
    await bot.refresh_application()
    assert (channel.polls, server.held, server.first_unacked) == (1, False, 1)

    # The consumer asks: ack=2 goes out (acknowledging batch 1) and is held by the server.
    pending = asyncio.ensure_future(take(channel))
    await until(lambda: server.held)
    assert server.first_unacked == 2
    # A quiet channel: the long-poll timeout gives an empty answer, and it is handed on.
    await rig.clock.advance(180)
    empty = await pending
    assert isinstance(empty, EventBatch)
    assert empty.is_empty
    assert (ack(channel.read_at), ack(channel.next_url)) == ("2", "3")


@pytest.mark.parametrize("committed", [False, True], ids=["crash-before-commit", "after-commit"])
async def test_a_restarted_bot_resumes_where_it_stopped(rig: Rig, committed: bool) -> None:
    a = await rig.bot()
    assert not a.application.reattached  # a new application (201)
    channel_a = rig.channel(a)
    invitation = await _invited(rig, channel_a)
    assert channel_a.position is not None
    stored = channel_a.position  # committed with the invitation's effects
    assert invitation.accept_href is not None
    await a.accept(invitation.accept_href)
    read = await take(channel_a)  # what accepting did: read, not yet committed
    assert isinstance(read, EventBatch)
    assert texts([read]) == ["one"]  # the invitation's message, as the server repeats it
    if committed:
        assert channel_a.position is not None
        stored = channel_a.position
    server = rig.server_app(a).channel
    assert (server.held, server.first_unacked) == (False, 2)  # `read` is unacknowledged
    await rig.crash(a, channel_a)

    rig.sim.virtual_user(LENE).send("two")  # while no bot runs

    b = await rig.bot(expect=stored.application)
    assert b.application.reattached
    assert b.application.self_href == stored.application
    assert b.application.is_available  # makeMeAvailable again did not fail
    channel_b = rig.channel(b, start_at=stored.next_url)
    items = [await take(channel_b)]
    if committed:
        assert texts(items) == ["two"]
    else:
        assert items[0] == read  # the batch read but not committed, delivered again
        assert channel_b.position is not None
        assert channel_b.read_at is not None
        assert ack(channel_b.read_at) == ack(channel_a.read_at)
        items.append(await take_until(channel_b, has(MessageEvent, direction="Incoming")))
    rig.sim.virtual_user(LENE).send("three")
    items.append(await take_until(channel_b, has(MessageEvent, direction="Incoming")))
    # nothing lost: what was not committed, then what came while no bot ran, then later
    assert texts(items) == ([] if committed else ["one"]) + ["two", "three"]
    hrefs = [e.link.href for i in items if isinstance(i, EventBatch) for e in i.events]
    assert len(hrefs) == len(set(hrefs))  # nothing handed twice
    assert not any(isinstance(i, ConversationsLost) for i in items)


async def test_a_stale_stored_link_gets_resync_and_a_position_past_it(rig: Rig) -> None:
    a = await rig.bot()
    channel_a = rig.channel(a)
    await _invited(rig, channel_a)
    assert channel_a.position is not None
    stale = channel_a.position.read_at  # acknowledged once the next P-GET went out
    pending = asyncio.ensure_future(take(channel_a))
    server = rig.server_app(a).channel
    await until(lambda: server.first_unacked == 2)
    await rig.crash(a, channel_a)
    with pytest.raises(StopAsyncIteration):
        await pending

    b = await rig.bot(expect=a.application.self_href)
    channel_b = rig.channel(b, start_at=stale)
    lost = await take(channel_b)
    assert isinstance(lost, ConversationsLost)
    assert lost.reason == "resync"
    assert channel_b.position is not None
    assert (ack(channel_b.read_at), ack(channel_b.next_url)) == ("1", "2")


async def test_coming_back_late_resumes_and_the_resume_record_has_a_position(rig: Rig) -> None:
    a = await rig.bot()
    channel_a = rig.channel(a)
    await _invited(rig, channel_a)
    assert channel_a.position is not None
    stored = channel_a.position
    await rig.crash(a, channel_a)
    await rig.clock.advance(rig.sim.config.resume_after + 1)  # away, but not expired

    b = await rig.bot(expect=stored.application)
    assert b.application.reattached
    channel_b = rig.channel(b, start_at=stored.next_url)
    lost = await take(channel_b)
    assert isinstance(lost, ConversationsLost)
    assert lost.reason == "resume"
    at = channel_b.position
    assert at is not None
    # Its batch follows in the same answer: resuming after the record reads it again.
    assert (ack(at.read_at), at.next_url) == ("2", at.read_at)
    batch = await take(channel_b)
    assert isinstance(batch, EventBatch)
    assert batch.resume_href is not None
    after = channel_b.position
    assert after is not None
    assert after.read_at == at.read_at
    assert parse_qs(urlsplit(after.next_url).query) == {"ack": ["3"], "timeout": ["180"]}


# -- an application that expired ----------------------------------------------------------


@pytest.mark.parametrize("forgotten", [False, True], ids=["410", "404"])
async def test_the_stored_application_expired_so_sign_in_says_it_is_new(
    rig: Rig, forgotten: bool
) -> None:
    a = await rig.bot()
    channel_a = rig.channel(a)
    await _invited(rig, channel_a)
    assert channel_a.position is not None
    stored = channel_a.position
    await rig.crash(a, channel_a)
    assert rig.sim.expire_application(TOSH) == 1
    if forgotten:  # the server no longer knows it at all
        await rig.clock.advance(rig.sim.config.expired_retention + 1)

    b = await rig.bot(expect=stored.application)
    assert not b.application.reattached
    assert b.application.self_href != stored.application
    # A caller that follows the dead link anyway is told, not misled.
    channel_b = rig.channel(b, start_at=stored.next_url)
    lost = await take(channel_b)
    assert isinstance(lost, ConversationsLost)
    assert lost.reason == "application re-created"
    assert channel_b.position is not None
    assert channel_b.position.application == b.application.self_href
    assert channel_b.next_url is not None
    assert urlsplit(channel_b.next_url).path == urlsplit(b.application.events_href).path


async def test_re_created_while_running_then_resumed_on_the_new_application(rig: Rig) -> None:
    a = await rig.bot()
    old = a.application.self_href
    channel_a = rig.channel(a)
    await _invited(rig, channel_a)
    stored = channel_a.position
    assert stored is not None
    rig.sim.expire_application(TOSH)
    lost = await take(channel_a)  # the next P-GET finds the application gone
    assert isinstance(lost, ConversationsLost)
    assert lost.reason == "application re-created"
    at = channel_a.position
    assert at is not None
    assert at.application == a.application.self_href != old
    assert ack(at.read_at) == "2"
    await rig.crash(a, channel_a)

    # A process that died before committing the record has the old application stored:
    # the server gives back the new one (200), which is not the one expected.
    late = await rig.bot(expect=stored.application)
    assert not late.application.reattached
    assert late.application.self_href == at.application
    await late.aclose()

    b = await rig.bot(expect=at.application)
    assert b.application.reattached
    channel_b = rig.channel(b, start_at=at.next_url)
    await _invited(rig, channel_b)  # the new application's first batch, nothing before it
    assert channel_b.read_at is not None
    assert ack(channel_b.read_at) == "1"


# -- what the bot sent, seen on the event channel ------------------------------------------


async def test_a_sent_message_is_reported_with_its_operation_context(rig: Rig) -> None:
    bot = await rig.bot()
    channel = rig.channel(bot)
    tracker = LifecycleTracker()
    first = await _invite(rig, channel)
    for event in first.events:
        tracker.apply(event)
    invitation = next(e for e in first.events if isinstance(e, MessagingInvitationEvent))
    assert invitation.accept_href is not None
    await bot.accept(invitation.accept_href)
    send_href = None
    while send_href is None:
        item = await take(channel)
        assert isinstance(item, EventBatch)
        for event in item.events:
            tracker.apply(event)
        conv = tracker.get(invitation.conversation_href or "")
        assert conv is not None
        send_href = conv.messaging.send_message_href
    href = await bot.send_message(send_href, "hello", operation_context="op-42")

    deliveries: list[MessageDelivery] = []
    while not deliveries:
        item = await take(channel)
        assert isinstance(item, EventBatch)
        for event in item.events:
            deliveries.extend(c for c in tracker.apply(event) if isinstance(c, MessageDelivery))
    (delivery,) = deliveries
    assert delivery.delivered
    assert delivery.operation_id == "op-42"
    assert delivery.conversation == invitation.conversation_href
    assert bot.absolute(delivery.message) == href


async def test_after_a_restart_a_restored_tracker_sees_what_was_sent_before_the_crash(
    rig: Rig,
) -> None:
    a = await rig.bot()
    channel_a = rig.channel(a)
    tracker_a = LifecycleTracker()
    first = await _invite(rig, channel_a)
    for event in first.events:
        tracker_a.apply(event)
    invitation = next(e for e in first.events if isinstance(e, MessagingInvitationEvent))
    assert invitation.accept_href is not None
    assert invitation.conversation_href is not None
    await a.accept(invitation.accept_href)
    conv = tracker_a.get(invitation.conversation_href)
    assert conv is not None
    while conv.messaging.send_message_href is None:
        item = await take(channel_a)
        assert isinstance(item, EventBatch)
        for event in item.events:
            tracker_a.apply(event)
    # committed: the channel position and what the tracker knows, as JSON
    stored = channel_a.position
    assert stored is not None
    saved = json.dumps(dump_conversation(conv))
    # the step's message goes out; the process dies before reading its delivery
    await a.send_message(conv.messaging.send_message_href, "hello", operation_context="op-1")
    await rig.crash(a, channel_a)
    rig.sim.virtual_user(LENE).send("two")

    b = await rig.bot(expect=stored.application)
    assert b.application.reattached
    tracker_b = LifecycleTracker()
    tracker_b.restore(load_conversation(json.loads(saved)))
    fresh = LifecycleTracker()  # what a bot that restored nothing would make of it
    channel_b = rig.channel(b, start_at=stored.next_url)
    changes: list[Change] = []
    while not any(isinstance(c, MessageReceived) for c in changes):
        item = await take(channel_b)
        assert isinstance(item, EventBatch)
        for event in item.events:
            changes.extend(tracker_b.apply(event))
            assert fresh.apply(event) == []
    href = invitation.conversation_href
    deliveries = [c for c in changes if isinstance(c, MessageDelivery)]
    assert [(d.conversation, d.operation_id, d.delivered) for d in deliveries] == [
        (href, "op-1", True)
    ]
    received = [c for c in changes if isinstance(c, MessageReceived)]
    assert [(r.conversation, r.text) for r in received] == [(href, "two")]

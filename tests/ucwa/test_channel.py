"""EventChannel: the P-GET loop against a scripted in-process pool, time on a ManualClock."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.guards import WAIT
from tests.ucwa.fake_pool import (
    APP,
    HOST,
    PASSWORD,
    FakePool,
    FaultyTransport,
    batch,
    participant_added,
    transport_for,
)
from ucwa_flow.clock import ManualClock
from ucwa_flow.ucwa import ChannelStats, ConversationsLost, EventChannel, ReadPosition, UcwaClient
from ucwa_flow.ucwa.errors import EventChannelReplaced, MalformedEventBody
from ucwa_flow.ucwa.events import EventBatch, ParticipantEvent

REPLACED = (409, {"code": "Conflict", "subcode": "PGetReplaced", "message": "replaced"})


class Rig:
    def __init__(
        self, pool: FakePool, transport: FaultyTransport, client: UcwaClient, clock: ManualClock
    ) -> None:
        self.pool = pool
        self.transport = transport
        self.client = client
        self.clock = clock
        self.channel = EventChannel(client, max_replaced=2)

    async def next(self) -> EventBatch | ConversationsLost:
        return await asyncio.wait_for(anext(self.channel), 5)

    async def until(self, condition: Callable[[], bool]) -> None:
        """Let the loop (and the backoff timers on the manual clock) run until ``condition``."""
        for _ in range(200):
            if condition():
                return
            await self.clock.advance(1)
        raise AssertionError("condition never became true")

    def acks(self) -> list[str]:
        return [parse_qs(urlsplit(u).query)["ack"][0] for u in self.pool.event_urls]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    pool = FakePool()
    transport = transport_for(pool)
    clock = ManualClock()
    client = UcwaClient(
        "sip:toshm@contoso.com", PASSWORD, server_url=HOST, transport=transport, clock=clock
    )
    await client.sign_in()
    await client.make_me_available()
    rig = Rig(pool, transport, client, clock)
    yield rig
    await rig.channel.aclose()
    await client.aclose()


def _names(item: EventBatch | ConversationsLost) -> list[str]:
    assert isinstance(item, EventBatch)
    return [e.link.href.rsplit("/", 1)[1] for e in item.events]


async def test_batches_in_order_once_each_with_one_poll_outstanding(rig: Rig) -> None:
    await rig.pool.push(
        batch(1, participant_added("a")),
        batch(2),  # an empty (timeout) answer is not handed on
        batch(3, participant_added("b"), participant_added("c")),
    )
    first = await rig.next()
    assert isinstance(first.events[0], ParticipantEvent)  # type: ignore[union-attr]
    assert _names(first) == ["a@contoso.com"]
    assert _names(await rig.next()) == ["b@contoso.com", "c@contoso.com"]
    # The next P-GET went out without waiting for the consumer, with the server's hrefs.
    await rig.until(lambda: rig.pool.outstanding == 1)
    assert rig.acks() == ["1", "2", "3", "4"]
    assert rig.pool.max_outstanding == 1
    first_query = parse_qs(urlsplit(rig.pool.event_urls[0]).query)
    assert first_query == {"ack": ["1"], "timeout": ["180"]}
    assert urlsplit(rig.pool.event_urls[1]).query == "ack=2"  # never edited afterwards


async def test_the_next_poll_is_sent_before_the_consumer_asks(rig: Rig) -> None:
    await rig.pool.push(batch(1, participant_added("a")), batch(2, participant_added("b")))
    rig.channel.start()
    await rig.until(lambda: len(rig.pool.event_urls) == 3)  # both answered, ack=3 pending
    assert (rig.channel.unread, rig.channel.with_consumer) == (2, False)
    assert _names(await rig.next()) == ["a@contoso.com"]
    assert rig.channel.unread == 1
    assert _names(await rig.next()) == ["b@contoso.com"]
    assert rig.channel.unread == 0


def test_read_timeout_exceeds_the_hold() -> None:
    client = UcwaClient("sip:t@contoso.com", "x", server_url=HOST)
    assert EventChannel(client).read_timeout == 210
    assert EventChannel(client, hold=600, margin=60).read_timeout == 660
    with pytest.raises(ValueError, match="180-1800"):
        EventChannel(client, hold=30)


@pytest.mark.parametrize(
    "fault",
    [
        ("before", httpx.ConnectError("refused")),
        ("before", httpx.ReadTimeout("timed out")),
        ("after", httpx.ReadError("reset")),  # the answer was lost on the way
        ("after", httpx.RemoteProtocolError("peer closed connection")),
    ],
)
async def test_network_faults_retry_the_same_url(rig: Rig, fault: tuple[str, Exception]) -> None:
    where, error = fault
    getattr(rig.transport, where).append(("events", error))
    if where == "after":  # the server answered batch 1 once; it re-delivers it on the repeat
        await rig.pool.push(batch(1, participant_added("lost")))
    await rig.pool.push(batch(1, participant_added("a")), batch(2, participant_added("b")))
    rig.channel.start()
    first = await asyncio.wait_for(_drive(rig), 5)
    assert _names(first) == ["a@contoso.com"]
    # "before": the failed attempt never reached the server, the repeat did (ack=1 again).
    assert rig.acks()[:2] == (["1", "1"] if where == "after" else ["1", "2"])
    assert _names(await rig.next()) == ["b@contoso.com"]
    assert rig.channel.stats == ChannelStats(reconnects=1, batches=2)


async def _drive(rig: Rig) -> EventBatch | ConversationsLost:
    """Await the next item while moving the manual clock past the retry backoff."""
    pending = asyncio.ensure_future(anext(rig.channel))
    while not pending.done():
        await rig.clock.advance(1)
    return pending.result()


async def test_server_errors_retry_the_same_url_with_backoff(rig: Rig) -> None:
    await rig.pool.push(
        (503, {"code": "ServiceUnavailable"}),
        (500, "<html>proxy error</html>"),
        (429, {"code": "TooManyRequests"}),
        batch(1, participant_added("a")),
    )
    rig.channel.start()
    await rig.until(lambda: len(rig.pool.event_urls) >= 2)
    # Backoff is on the clock: without time passing, no third attempt.
    assert len(rig.pool.event_urls) < 4
    assert _names(await _drive(rig)) == ["a@contoso.com"]
    assert rig.acks() == ["1", "1", "1", "1", "2"]
    assert rig.channel.stats == ChannelStats(reconnects=3, batches=1)


async def test_a_duplicated_batch_is_handed_on_once(rig: Rig) -> None:
    await rig.pool.push(
        batch(1, participant_added("a")),
        batch(1, participant_added("a")),  # the same batch delivered again
        batch(2, participant_added("b")),
    )
    assert _names(await rig.next()) == ["a@contoso.com"]
    assert _names(await rig.next()) == ["b@contoso.com"]
    assert rig.acks() == ["1", "2", "2", "3"]


async def test_resync_reports_lost_conversations_and_follows_the_link(rig: Rig) -> None:
    await rig.pool.push(
        {"_links": {"resync": {"href": f"{APP}/events?ack=7"}}},
        batch(7, participant_added("a")),
    )
    lost = await rig.next()
    assert lost == ConversationsLost("resync", lost.detail)  # type: ignore[union-attr]
    assert _names(await rig.next()) == ["a@contoso.com"]
    assert urlsplit(rig.pool.event_urls[1]).query == "ack=7"
    assert rig.channel.stats == ChannelStats(resyncs=1, batches=1)


async def test_resume_reports_lost_conversations_and_resends_the_timeout(rig: Rig) -> None:
    await rig.pool.push(batch(1, participant_added("a"), link="resume", to=9), batch(9))
    lost = await rig.next()
    assert isinstance(lost, ConversationsLost)
    assert lost.reason == "resume"
    assert _names(await rig.next()) == ["a@contoso.com"]
    await rig.until(lambda: len(rig.pool.event_urls) == 3)
    assert parse_qs(urlsplit(rig.pool.event_urls[1]).query) == {"ack": ["9"], "timeout": ["180"]}
    assert urlsplit(rig.pool.event_urls[2]).query == "ack=10"


async def test_pget_replaced_retries_then_gives_up(rig: Rig) -> None:
    await rig.pool.push(REPLACED, REPLACED, batch(1, participant_added("a")))
    assert _names(await _drive(rig)) == ["a@contoso.com"]
    assert rig.acks() == ["1", "1", "1", "2"]
    assert rig.channel.stats.reconnects == 2
    await rig.pool.push(REPLACED, REPLACED, REPLACED)
    with pytest.raises(EventChannelReplaced, match="one bot process per account"):
        await _drive(rig)


async def test_expired_application_is_recreated_and_reported(rig: Rig) -> None:
    await rig.pool.push(batch(1, participant_added("a")))
    assert _names(await rig.next()) == ["a@contoso.com"]
    await rig.until(lambda: rig.pool.outstanding == 1)
    rig.pool.gone = True
    await rig.pool.push(batch(2))  # the held poll returns; the next one finds the app gone
    lost = await _drive(rig)
    assert isinstance(lost, ConversationsLost)
    assert lost.reason == "application re-created"
    assert "ApplicationNotFound" in lost.detail
    assert rig.pool.created == 2
    assert rig.pool.available  # makeMeAvailable was redone
    assert rig.client.application.generation == 2
    await rig.pool.push(batch(1, participant_added("b")))  # numbering restarts
    assert _names(await rig.next()) == ["b@contoso.com"]
    assert rig.acks()[-2:] == ["1", "2"]
    assert rig.channel.stats == ChannelStats(recreations=1, batches=2)


async def test_expired_token_mid_channel_is_renewed(rig: Rig) -> None:
    grants = len(rig.pool.grants)
    await rig.pool.push(batch(1, participant_added("a")))
    assert _names(await rig.next()) == ["a@contoso.com"]
    rig.pool.expire_tokens()
    await rig.pool.push(batch(2), batch(3, participant_added("b")))
    assert _names(await rig.next()) == ["b@contoso.com"]
    assert len(rig.pool.grants) == grants + 1


async def test_a_token_refused_right_after_its_grant_is_fetched_again_with_capped_backoff(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.channel = EventChannel(rig.client, max_backoff=1.0, rng=random.Random(3))
    await rig.pool.push(batch(1, participant_added("a")))
    assert _names(await rig.next()) == ["a@contoso.com"]
    grants = len(rig.pool.grants)
    rig.pool.reject_all_tokens = True  # the pool refuses every token, new ones too
    await rig.pool.push(batch(2), batch(3, participant_added("b")))

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if "signing in again" in r.getMessage()]

    with caplog.at_level(logging.WARNING, logger="ucwa_flow.ucwa"):
        await rig.until(lambda: len(lines()) >= 4)
        rig.pool.reject_all_tokens = False
        assert _names(await _drive(rig)) == ["b@contoso.com"]  # the channel went on
    assert len(rig.pool.grants) == grants + len(lines())  # one new token for each try
    assert rig.channel.stats.reconnects == len(lines())
    assert lines()[0] == (
        "sip:toshm@contoso.com: event channel: https://lyncdiscover.contoso.com refused a "
        "freshly issued token for toshm@contoso.com; if it goes on, the account may not be "
        f"enabled for Skype for Business web access; signing in again in {_delay(lines()[0])} s"
    )
    # doubling from 0.5 s (less a random part of up to a half), never over max_backoff
    for attempt, line in enumerate(lines()[:4], 1):
        ceiling = min(1.0, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 - 0.05 <= float(_delay(line)) <= ceiling + 0.05, line


def _delay(line: str) -> str:
    found = re.search(r"signing in again in ([0-9.]+) s$", line)
    assert found is not None, line
    return found.group(1)


async def test_a_body_spoilt_once_is_asked_for_again_and_nothing_is_lost(rig: Rig) -> None:
    spoilt = batch(2)
    spoilt["sender"] = "not a list"
    await rig.pool.push(
        batch(1, participant_added("a")),
        spoilt,
        (200, "<html>gateway</html>"),
        batch(2, participant_added("b")),  # the server re-delivers the unacknowledged batch
    )
    assert _names(await _drive(rig)) == ["a@contoso.com"]
    assert _names(await _drive(rig)) == ["b@contoso.com"]
    assert rig.acks()[:4] == ["1", "2", "2", "2"]  # the same URL each time
    assert rig.channel.stats == ChannelStats(reconnects=2, batches=2)


async def test_malformed_body_raises_and_iteration_can_go_on(rig: Rig) -> None:
    bad = batch(2)
    bad["sender"] = "not a list"
    await rig.pool.push(batch(1, participant_added("a")), bad, bad, bad)
    await rig.pool.push(batch(3, participant_added("c")))
    assert _names(await _drive(rig)) == ["a@contoso.com"]
    with pytest.raises(MalformedEventBody, match=r"\$\.sender"):
        await _drive(rig)
    # The consumer saw the error; iterating again continues after the refused body.
    assert _names(await _drive(rig)) == ["c@contoso.com"]


async def test_a_body_that_is_not_json_is_retried_like_a_transport_failure(rig: Rig) -> None:
    await rig.pool.push(*[(200, "<html>gateway</html>")] * 5)
    await rig.pool.push(batch(1, participant_added("a")))
    assert _names(await _drive(rig)) == ["a@contoso.com"]  # no error reached the consumer
    assert rig.acks()[:6] == ["1"] * 6  # the same URL each time


async def test_a_body_nested_too_deeply_is_retried_like_one_that_is_not_json(rig: Rig) -> None:
    """json.loads' RecursionError ended the channel's reader; now a protocol error."""
    deep = "[" * 5000 + "]" * 5000
    await rig.pool.push(*[(200, deep)] * 3)
    await rig.pool.push(batch(1, participant_added("a")))
    assert _names(await _drive(rig)) == ["a@contoso.com"]  # no error reached the consumer
    assert rig.acks()[:4] == ["1"] * 4  # the same URL each time


async def test_aclose_cancels_the_outstanding_poll(rig: Rig) -> None:
    received: list[object] = []

    async def consume() -> None:
        async for item in rig.channel:
            received.append(item)

    consumer = asyncio.ensure_future(consume())
    await rig.until(lambda: rig.pool.outstanding == 1)
    assert not rig.channel.closed
    await rig.channel.aclose()
    assert rig.channel.closed
    await asyncio.wait_for(consumer, WAIT)  # the iteration ended
    assert rig.pool.outstanding == 0
    assert received == []


# -- prefetch=False: positions through the recovery paths ---------------------------------


def _acks_of(position: object) -> tuple[str, str]:
    assert isinstance(position, ReadPosition)
    return (
        parse_qs(urlsplit(position.read_at).query)["ack"][0],
        parse_qs(urlsplit(position.next_url).query)["ack"][0],
    )


async def test_without_prefetch_a_duplicate_is_skipped_and_a_resync_has_its_position(
    rig: Rig,
) -> None:
    channel = EventChannel(rig.client, prefetch=False, start_at=f"{APP}/events?ack=5")
    rig.channel = channel
    await rig.pool.push(
        batch(5, participant_added("a")),
        batch(5, participant_added("a")),  # delivered again: not handed on, and no stall
        {"_links": {"resync": {"href": f"{APP}/events?ack=6"}}},
        batch(6),
    )
    assert _names(await rig.next()) == ["a@contoso.com"]
    assert _acks_of(channel.position) == ("5", "6")
    assert parse_qs(urlsplit(rig.pool.event_urls[0]).query) == {"ack": ["5"], "timeout": ["180"]}
    assert len(rig.pool.event_urls) == 1  # nothing more until the consumer asks
    assert (channel.with_consumer, channel.unread) == (True, 0)
    lost = await rig.next()
    assert isinstance(lost, ConversationsLost)
    assert _acks_of(channel.position) == ("6", "6")  # the resync link, taken from ack=6
    empty = await rig.next()  # an empty answer is handed on too
    assert isinstance(empty, EventBatch)
    assert empty.is_empty
    assert _acks_of(channel.position) == ("6", "7")
    assert rig.acks() == ["5", "6", "6", "6"]


async def test_without_prefetch_a_refused_body_says_where_iterating_goes_on(rig: Rig) -> None:
    channel = EventChannel(rig.client, prefetch=False)
    rig.channel = channel
    bad = batch(2)
    bad["sender"] = "not a list"
    await rig.pool.push(batch(1, participant_added("a")), bad, bad, bad)
    await rig.pool.push(batch(3, participant_added("c")))
    assert _names(await _drive(rig)) == ["a@contoso.com"]
    with pytest.raises(MalformedEventBody):
        await _drive(rig)
    assert _acks_of(channel.position) == ("2", "3")  # past the refused batch
    assert _names(await _drive(rig)) == ["c@contoso.com"]
    assert _acks_of(channel.position) == ("3", "4")

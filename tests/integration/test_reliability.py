"""End-to-end failure paths over a real socket: refusals, timeouts, lost answers, expiry."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit

import httpx
import pytest

from tests.guards import WAIT
from tests.integration.harness import LENE, TOSH, Party
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve
from ucwa_flow.ucwa.errors import AuthenticationFailed
from ucwa_flow.ucwa.events import MessagingInvitationEvent


async def _chat(tosh: Party, lene: Party) -> tuple[str, str]:
    """Lene invites Tosh, Tosh accepts; returns both sendMessage hrefs (tosh, lene)."""
    await lene.client.start_messaging(TOSH, message="Hi Tosh")
    invitation = await tosh.invitation("started", "Incoming")
    assert invitation.accept_href is not None
    await tosh.client.accept(invitation.accept_href)
    tosh_send = (await tosh.connected()).send_message_href
    lene_send = (await lene.connected()).send_message_href
    assert tosh_send is not None
    assert lene_send is not None
    return tosh_send, lene_send


def _events_path(party: Party) -> str:
    return re.escape(urlsplit(party.client.application.events_href).path)


async def _held(sim: Simulator, party: Party) -> None:
    """Wait until the simulator holds ``party``'s P-GET (nothing to answer it with yet)."""
    app_id = urlsplit(party.client.application.self_href).path.rsplit("/", 1)[1]
    app = sim.application_by_id(app_id)
    assert app is not None

    async def poll() -> None:
        while not app.channel.held:  # noqa: ASYNC110 (the simulator's state has no notification)
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), WAIT)


async def test_decline(tosh: Party, lene: Party) -> None:
    href = await tosh.client.start_messaging(LENE, subject="Lunch?")
    incoming = await lene.invitation("started", "Incoming")
    assert incoming.decline_href is not None
    await lene.client.decline(incoming.decline_href)
    failed = await tosh.expect(
        "the invitation failing",
        lambda e: (
            isinstance(e, MessagingInvitationEvent)
            and e.type == "completed"
            and tosh.client.absolute(e.link.href) == href
        ),
    )
    assert failed.status == "Failure"
    assert failed.reason is not None
    assert failed.reason.subcode == "Declined"


async def test_no_answer(tosh: Party, lene: Party, sim_clock: ManualClock) -> None:
    href = await tosh.client.start_messaging(LENE, subject="Anyone?")
    await lene.invitation("started", "Incoming")  # ringing, never answered
    await sim_clock.advance(31)  # the server's ~30 s answer time, without waiting for it
    failed = await tosh.expect(
        "the invitation failing",
        lambda e: (
            isinstance(e, MessagingInvitationEvent)
            and e.type == "completed"
            and tosh.client.absolute(e.link.href) == href
        ),
    )
    assert failed.status == "Failure"


async def test_redelivery_after_a_lost_answer(tosh: Party, lene: Party, sim: Simulator) -> None:
    tosh_send, lene_send = await _chat(tosh, lene)
    await lene.client.send_message(lene_send, "one")
    await tosh.message("one")
    rule = sim.faults.inject(method="GET", path=_events_path(tosh), drop=True)
    await lene.client.send_message(lene_send, "two")
    await lene.client.send_message(lene_send, "three")
    await tosh.message("three")
    assert rule.hits == 1  # an answer really was lost on the way
    assert [t for t in tosh.texts() if t in ("one", "two", "three")] == ["one", "two", "three"]
    await tosh.client.send_message(tosh_send, "got them all")
    await lene.message("got them all")


async def test_server_errors_on_the_channel_are_retried(
    tosh: Party, lene: Party, sim: Simulator
) -> None:
    _, lene_send = await _chat(tosh, lene)
    sim.faults.inject(method="GET", path=_events_path(tosh), status=503, times=3)
    await lene.client.send_message(lene_send, "still there?")
    await tosh.message("still there?")


async def test_pget_replaced_by_another_reader(tosh: Party, lene: Party) -> None:
    _, lene_send = await _chat(tosh, lene)
    assert tosh.channel is not None
    url = tosh.channel.url
    assert url is not None
    # Another reader of the same application (same token, same ack) replaces our P-GET.
    async with httpx.AsyncClient(auth=tosh.client.auth, timeout=WAIT) as intruder:
        answer = await intruder.get(url, headers={"Accept": "application/json"})
    # Our channel took the channel back: the intruder's request was the one replaced.
    assert answer.status_code == 409
    assert answer.json()["subcode"] == "PGetReplaced"
    await lene.client.send_message(lene_send, "after the scuffle")
    await tosh.message("after the scuffle")


async def test_resync_when_another_reader_took_a_batch(
    base_url: str, lene: Party, sim: Simulator
) -> None:
    channel_clock = ManualClock()  # our retries wait until the test lets them go
    tosh = await Party(TOSH, base_url, channel_clock=channel_clock).start()
    try:
        _, lene_send = await _chat(tosh, lene)
        assert tosh.channel is not None
        url = tosh.channel.url
        assert url is not None
        async with httpx.AsyncClient(auth=tosh.client.auth, timeout=WAIT) as other:
            taken = asyncio.create_task(other.get(url, headers={"Accept": "application/json"}))
            await asyncio.sleep(0.2)  # our P-GET is answered 409 and waits on the channel clock
            await lene.client.send_message(lene_send, "stolen")
            body = (await taken).json()
            assert "stolen" in str(body)
            # The other reader acknowledges the batch it took.
            ack_next = asyncio.create_task(
                other.get(
                    httpx.URL(url).join(body["_links"]["next"]["href"]),
                    headers={"Accept": "application/json"},
                )
            )
            await asyncio.sleep(0.2)
            await channel_clock.advance(5)  # our retry of the old ack is now out of range
            lost = await tosh.expect_record("resync")
            assert "resync" in lost.detail
            assert (await ack_next).status_code == 409
        await lene.client.send_message(lene_send, "after resync")
        await tosh.message("after resync")
        assert "stolen" not in tosh.texts()
    finally:
        await tosh.stop()


async def test_application_expiry_and_recovery(tosh: Party, lene: Party, sim: Simulator) -> None:
    first = tosh.client.application
    await _chat(tosh, lene)
    assert sim.expire_application(TOSH) == 1
    lost = await tosh.expect_record("application re-created")
    assert tosh.client.application.generation == first.generation + 1
    assert tosh.client.application.is_available
    assert lost.detail
    # The new application receives IMs again.
    await lene.client.start_messaging(TOSH, message="Welcome back")
    again = await tosh.invitation("started", "Incoming")
    assert again.message is not None
    assert again.message.text.strip() == "Welcome back"


async def test_token_expiry_and_recovery(tosh: Party, lene: Party, sim: Simulator) -> None:
    grants = tosh.client.auth.grants
    assert sim.expire_token(TOSH) >= 1
    # The next request gets 401, a new grant, and succeeds.
    resource = await tosh.client.get(tosh.client.application.self_href)
    assert resource["_links"]["self"]["href"]
    assert tosh.client.auth.grants == grants + 1
    # The channel carries on with the new token as well.
    await lene.client.start_messaging(TOSH, message="still signed in?")
    await tosh.invitation("started", "Incoming")


async def test_sign_in_through_a_redirect_to_another_applications_host(
    sim_clock: ManualClock,
) -> None:
    config = SimulatorConfig(
        applications_host="localhost", discovery_redirect=True, tokens_per_host=True
    )
    sim = Simulator(config, clock=sim_clock)
    async with serve(sim, host="127.0.0.1", port=0) as url:
        # "localhost" is neither the server URL's host nor in contoso.com: trusted by name
        refused = Party(TOSH, url)
        try:
            with pytest.raises(AuthenticationFailed, match=r"^localhost is not a trusted"):
                await refused.start()
        finally:
            await refused.stop()
        assert refused.client.auth.grants == 1  # 127.0.0.1's only
        tosh = await Party(TOSH, url, trusted_hosts=("localhost",)).start()
        try:
            assert tosh.client.discovery is not None
            assert urlsplit(tosh.client.discovery.applications_url).hostname == "localhost"
            assert urlsplit(tosh.client.application.self_href).hostname == "localhost"
            assert tosh.client.auth.grants == 2  # one token per host
            assert tosh.client.application.is_available
        finally:
            await tosh.stop()


async def test_a_spoilt_event_body_is_asked_for_again_and_no_message_is_lost(
    tosh: Party, lene: Party, sim: Simulator
) -> None:
    tosh_send, lene_send = await _chat(tosh, lene)
    # A fault rule is taken when a request arrives, so one that is already held at the
    # server is not spoilt: inject only once tosh's P-GET is held (it carries "one"). The
    # next two answers to tosh's P-GET then come back as garbage (a proxy error page, then
    # a body that is JSON but not UCWA), and the channel asks for the same batch again
    # each time; "two" is sent after "one" arrived, so it comes after both.
    await _held(sim, tosh)
    rule = sim.faults.inject(method="GET", path=_events_path(tosh), body=b"<html>bad gateway")
    sim.faults.inject(method="GET", path=_events_path(tosh), body=b'{"sender": 3}')
    await lene.client.send_message(lene_send, "one")
    await tosh.message("one")
    await lene.client.send_message(lene_send, "two")
    await tosh.message("two")
    assert rule.hits == 1
    assert sim.faults.rules == []  # both spoilt answers were used up
    assert tosh.error is None  # nothing reached the consumer as an error
    assert [t for t in tosh.texts() if t in ("one", "two")] == ["one", "two"]
    await tosh.client.send_message(tosh_send, "still here")
    await lene.message("still here")

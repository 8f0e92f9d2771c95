"""Event channel: re-delivery, resync, PGetReplaced, timeout, expiry; error bodies."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator
from ucwa_flow.simulator.config import SimulatorConfig
from ucwa_flow.simulator.errors import UcwaErrorResponse
from ucwa_flow.simulator.eventqueue import EventChannel, Priority

from .conftest import sign_in


async def test_unacknowledged_batch_is_redelivered_and_bad_ack_resyncs(
    clock: ManualClock, client: httpx.AsyncClient
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    await s.make_me_available()
    first_href = s.next_events
    poll = asyncio.create_task(s.get(first_href))
    await clock.advance(5)
    first = (await poll).json()
    again = (await s.get(first_href)).json()
    assert again == first
    resync = await s.get(first_href.replace("ack=1", "ack=7"))
    assert resync.status_code == 200
    assert resync.json() == {"_links": {"resync": {"href": first_href}}}
    # Acknowledge batch 1 by asking for 2; then 1 is out of range.
    poll = asyncio.create_task(s.get(first["_links"]["next"]["href"]))
    await clock.advance(180)
    assert (await poll).json()["sender"] == []
    stale = (await s.get(first_href)).json()
    assert list(stale["_links"]) == ["resync"]
    assert stale["_links"]["resync"]["href"].endswith("ack=2")


async def test_timeout_releases_an_empty_batch(
    clock: ManualClock, client: httpx.AsyncClient
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    poll = asyncio.create_task(s.get(s.next_events + "&timeout=180"))
    await clock.advance(179)
    assert not poll.done()
    await clock.advance(1)
    body = (await poll).json()
    assert body["sender"] == []
    assert body["_links"]["next"]["href"].endswith("ack=2")


async def test_older_of_two_pgets_gets_409_pget_replaced(
    clock: ManualClock, client: httpx.AsyncClient
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    older = asyncio.create_task(s.get(s.next_events))
    await clock.advance(1)
    newer = asyncio.create_task(s.get(s.next_events))
    await clock.advance(1)
    replaced = await older
    assert replaced.status_code == 409
    assert replaced.json()["subcode"] == "PGetReplaced"
    await clock.advance(180)
    assert (await newer).status_code == 200


async def test_lower_priority_pget_does_not_replace(
    clock: ManualClock, client: httpx.AsyncClient
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    high = asyncio.create_task(s.get(s.next_events + "&priority=5"))
    await clock.advance(1)
    low = await s.get(s.next_events + "&priority=1")
    assert low.status_code == 409
    assert not high.done()
    await clock.advance(180)
    assert (await high).status_code == 200


async def test_application_expires_410_then_404(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    await clock.advance(899)
    assert (await s.get(s.link("self"))).status_code == 200
    await clock.advance(1)
    gone = await s.get(s.link("self"))
    assert gone.status_code == 410
    assert gone.json()["subcode"] == "InactiveApplicationExpired"
    await clock.advance(300)
    missing = await s.get(s.next_events)
    assert missing.status_code == 404
    assert missing.json()["subcode"] == "ApplicationNotFound"


async def test_activity_expiry_after_make_me_available(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    await s.make_me_available()
    for _ in range(3):  # keep polling, but never report activity
        poll = asyncio.create_task(s.events())
        await clock.advance(600)
        await poll
    assert (await s.get(s.link("self"))).status_code == 410


async def test_error_bodies(client: httpx.AsyncClient) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    bad_json = await s.post(
        s.link("communication", "startMessaging"),
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["subcode"] == "DeserializationFailure"
    deep = await s.post(  # json.loads' RecursionError was a 500
        s.link("communication", "startMessaging"),
        content=b'{"to": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert deep.status_code == 400
    assert deep.json()["subcode"] == "DeserializationFailure"
    missing = await s.post(s.link("communication", "startMessaging"), json={"subject": "x"})
    assert missing.status_code == 400
    assert missing.json()["subcode"] == "ParameterValidationFailure"
    assert missing.json()["parameters"][0]["name"] == "to"
    unknown = await s.get(s.link("self") + "/nothing/here")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "code": "NotFound",
        "subcode": "ResourceNotFound",
        "message": "The requested resource could not be found.",
    }
    assert unknown.headers["content-type"] == "application/json; charset=utf-8"
    wrong = await s.client.put(s.link("me", "makeMeAvailable"), headers=s.headers)
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "MethodNotAllowed"
    assert wrong.headers["allow"] == "POST"
    media = await s.post(
        s.link("me", "makeMeAvailable"), content=b"a=b", headers={"Content-Type": "text/plain"}
    )
    assert media.status_code == 415
    no_app = await s.get("/ucwa/oauth/v1/applications/12345/me")
    assert no_app.json()["subcode"] == "ApplicationNotFound"


async def test_injected_503_and_duplicate_batch(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    sim.faults.inject(method="GET", path=r"/me$", status=503)
    failed = await s.get(s.link("me", "self"))
    assert failed.status_code == 503
    assert failed.json()["code"] == "ServiceUnavailable"
    assert (await s.get(s.link("me", "self"))).status_code == 200
    sim.duplicate_next_batch("toshm@contoso.com")
    await s.make_me_available()
    poll = asyncio.create_task(s.events())
    await clock.advance(5)
    first = await poll
    poll = asyncio.create_task(s.events())
    await clock.advance(5)
    second = await poll
    assert first["sender"] == second["sender"]
    assert first["_links"]["self"] != second["_links"]["self"]


def _me_event() -> dict[str, object]:
    return {"link": {"rel": "me", "href": "/me"}, "type": "updated"}


async def test_a_long_held_poll_is_not_an_absence() -> None:
    clock = ManualClock()
    absences: list[float] = []
    channel = EventChannel(
        "/ucwa/oauth/v1/applications/1/events",
        clock,
        SimulatorConfig(),
        on_absence=lambda: absences.append(clock.monotonic()),
    )
    channel.push("me", "/me", _me_event())
    await channel.poll(1, {})
    held = asyncio.create_task(channel.poll(2, {"timeout": "900"}))
    await clock.advance(700)  # longer than resume_after, but the client never went away
    again = asyncio.create_task(channel.poll(2, {}))  # re-sent after a dropped connection
    await clock.advance(1)
    channel.push("me", "/me", _me_event())
    await clock.advance(1)
    body = await again
    with pytest.raises(UcwaErrorResponse):
        await held
    assert absences == []
    assert "next" in body["_links"]
    assert "resume" not in body["_links"]


async def test_a_refused_lower_priority_poll_changes_no_remembered_setting() -> None:
    clock = ManualClock()
    channel = EventChannel("/ucwa/oauth/v1/applications/1/events", clock, SimulatorConfig())
    winner = asyncio.create_task(channel.poll(1, {"priority": "5", "timeout": "300"}))
    await clock.advance(1)
    with pytest.raises(UcwaErrorResponse):
        await channel.poll(1, {"priority": "1", "timeout": "1800"})
    assert (channel.priority, channel.timeout) == (5, 300)
    channel.close()
    await winner


async def test_parked_names_the_ack_of_a_held_poll_until_something_wakes_it() -> None:
    clock = ManualClock()
    channel = EventChannel("/ucwa/oauth/v1/applications/1/events", clock, SimulatorConfig())
    assert channel.parked is None  # no P-GET
    held = asyncio.create_task(channel.poll(1, {"timeout": "180"}))
    await clock.advance(0)
    assert channel.parked == 1
    channel.push("me", "/me", _me_event(), Priority.MEDIUM)  # wakes it, but not due yet
    assert channel.parked is None
    await clock.advance(0)
    assert channel.parked == 1  # waiting again, for the medium hold
    channel.push("me", "/me", _me_event())  # a high event: due at once
    assert channel.parked is None
    body = await held
    assert len(body["sender"][0]["events"]) == 2
    assert channel.parked is None

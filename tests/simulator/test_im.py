"""IM between two signed-in users: the event sequences on both sides."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote_plus

import httpx

from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator

from .conftest import Session, flat, sign_in


async def _pair(client: httpx.AsyncClient, clock: ManualClock) -> tuple[Session, Session]:
    tosh = await sign_in(client, "toshm@contoso.com")
    lene = await sign_in(client, "lenea@contoso.com")
    for s in (tosh, lene):
        await s.make_me_available()
        poll = asyncio.create_task(s.events())
        await clock.advance(5)
        await poll
    return tosh, lene


async def _invite(lene: Session, text: str = "Hi Tosh\r\n") -> str:
    r = await lene.post(
        lene.link("communication", "startMessaging"),
        json={
            "to": "sip:toshm@contoso.com",
            "subject": "",
            "operationId": "op-1",
            "_links": {"message": {"href": "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a"}},
        },
    )
    assert r.status_code == 201
    assert r.content == b""
    return r.headers["location"]


async def test_im_round_trip_between_two_signed_in_users(
    clock: ManualClock, client: httpx.AsyncClient
) -> None:
    tosh, lene = await _pair(client, clock)
    location = await _invite(lene)
    assert location.startswith(lene.link("self") + "/communication/messagingInvitations/")
    assert len(location.rsplit("/", 1)[1]) == 32

    caller = await lene.events()
    assert flat(caller) == [
        ("communication", "messagingInvitation", "started"),
        ("communication", "conversation", "added"),
        ("conversation", "localParticipant", "added"),
        ("conversation", "messaging", "updated"),
    ]
    outgoing = caller["sender"][0]["events"][0]["_embedded"]["messagingInvitation"]
    assert outgoing["direction"] == "Outgoing"
    assert outgoing["operationId"] == "op-1"
    assert "cancel" in outgoing["_links"]

    callee = await tosh.events()
    assert flat(callee) == [
        ("communication", "messagingInvitation", "started"),
        ("communication", "conversation", "added"),
        ("conversation", "localParticipant", "added"),
        ("conversation", "participant", "added"),
    ]
    invitation = callee["sender"][0]["events"][0]["_embedded"]["messagingInvitation"]
    assert invitation["direction"] == "Incoming"
    assert invitation["state"] == "Connecting"
    assert invitation["_links"]["message"]["href"] == "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a"
    assert invitation["_embedded"]["from"]["uri"] == "sip:lenea@contoso.com"
    conv = callee["sender"][0]["events"][1]["_embedded"]["conversation"]
    assert conv["state"] == "Incoming"
    assert conv["activeModalities"] == ["Messaging"]

    accepted = await tosh.post(invitation["_links"]["accept"]["href"])
    assert accepted.status_code == 204

    connected = await tosh.events()
    assert flat(connected) == [
        ("conversation", "messaging", "updated"),
        ("communication", "conversation", "updated"),
        ("conversation", "participantMessaging", "added"),
        ("conversation", "participantMessaging", "added"),
        ("conversation", "participant", "updated"),
        ("communication", "messagingInvitation", "completed"),
        ("conversation", "message", "completed"),
    ]
    events = [e for b in connected["sender"] for e in b["events"]]
    messaging = events[0]["_embedded"]["messaging"]
    assert messaging["state"] == "Connected"
    assert {"sendMessage", "stopMessaging", "setIsTyping"} <= set(messaging["_links"])
    assert events[2]["in"]["rel"] == "localParticipant"
    assert events[3]["in"]["rel"] == "participant"
    assert events[5]["status"] == "Success"
    first = events[6]["_embedded"]["message"]
    assert first["direction"] == "Incoming"
    assert first["_links"]["plainMessage"]["href"].endswith(",Hi+Tosh%0d%0a")

    caller = await lene.events()
    assert flat(caller) == [
        ("communication", "conversation", "updated"),
        ("conversation", "participant", "added"),
        ("conversation", "participantMessaging", "added"),
        ("conversation", "participantMessaging", "added"),
        ("conversation", "messaging", "updated"),
        ("communication", "messagingInvitation", "completed"),
    ]
    done = caller["sender"][-1]["events"][-1]
    assert done["status"] == "Success"
    assert done["_embedded"]["messagingInvitation"]["_embedded"]["acceptedByParticipant"]
    lene_messaging = caller["sender"][1]["events"][-1]["_embedded"]["messaging"]["_links"]

    # Tosh replies in plain text; Lene types, then sends.
    send_href = messaging["_links"]["sendMessage"]["href"]
    sent = await tosh.post(
        send_href + "?OperationContext=abc",
        content=b"What's up? 100% +1",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert sent.status_code == 201
    assert sent.headers["location"].startswith(send_href + "/")
    mine = await tosh.events()
    assert flat(mine) == [("conversation", "message", "completed")]
    out = mine["sender"][0]["events"][0]
    assert out["status"] == "Success"
    assert out["_embedded"]["message"]["direction"] == "Outgoing"
    theirs = await lene.events()
    got = theirs["sender"][0]["events"][0]["_embedded"]["message"]
    assert got["direction"] == "Incoming"
    href = got["_links"]["plainMessage"]["href"]
    assert href == "data:text/plain;charset=utf-8,What%27s+up%3f+100%25+%2b1"
    assert unquote_plus(href.split(",", 1)[1]) == "What's up? 100% +1"

    assert (await lene.post(lene_messaging["setIsTyping"]["href"])).status_code == 204
    typing = await tosh.events()
    event = typing["sender"][0]["events"][0]
    assert (event["link"]["rel"], event["in"]["rel"], event["type"]) == (
        "participant",
        "typingParticipants",
        "added",
    )
    await clock.advance(10)
    stopped = await tosh.events()
    assert stopped["sender"][0]["events"][0]["type"] == "deleted"

    stop = await lene.post(lene_messaging["stopMessaging"]["href"])
    assert stop.status_code == 204
    assert flat(await lene.events()) == [
        ("conversation", "messaging", "updated"),
        ("communication", "conversation", "updated"),
        ("communication", "conversation", "deleted"),
    ]
    assert flat(await tosh.events()) == [
        ("conversation", "participant", "deleted"),
        ("conversation", "messaging", "updated"),
        ("communication", "conversation", "updated"),
        ("communication", "conversation", "deleted"),
    ]
    gone = await tosh.post(send_href, content=b"x", headers={"Content-Type": "text/plain"})
    assert gone.status_code == 404
    assert gone.json()["code"] == "NotFound"


async def test_decline_fails_the_invitation_with_a_reason(
    clock: ManualClock, client: httpx.AsyncClient
) -> None:
    tosh, lene = await _pair(client, clock)
    await _invite(lene)
    await lene.events()
    callee = await tosh.events()
    invitation = callee["sender"][0]["events"][0]["_embedded"]["messagingInvitation"]
    r = await tosh.post(invitation["_links"]["decline"]["href"], json={"reason": "Local"})
    assert r.status_code == 204
    caller = await lene.events()
    assert flat(caller) == [
        ("communication", "messagingInvitation", "completed"),
        ("conversation", "messaging", "updated"),
        ("communication", "conversation", "deleted"),
    ]
    done = caller["sender"][0]["events"][0]
    assert done["status"] == "Failure"
    assert done["reason"] == {
        "code": "RemoteFailure",
        "subcode": "Declined",
        "message": "Your invitation was declined.",
    }
    assert done["_embedded"]["messagingInvitation"]["state"] == "Failed"
    again = await tosh.post(invitation["_links"]["accept"]["href"])
    assert again.status_code == 404


async def test_no_answer_fails_after_thirty_seconds(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    tosh, lene = await _pair(client, clock)
    await _invite(lene)
    await lene.events()
    await tosh.events()
    await clock.advance(29.9)
    assert sim.router.live_chats
    await clock.advance(0.1)
    caller = await lene.events()
    done = caller["sender"][0]["events"][0]
    assert (done["status"], done["reason"]["subcode"]) == ("Failure", "Timeout")
    callee = await tosh.events()
    assert callee["sender"][0]["events"][0]["status"] == "Failure"
    assert not sim.router.live_chats


async def test_invitation_to_unavailable_user_fails(
    clock: ManualClock, client: httpx.AsyncClient
) -> None:
    lene = await sign_in(client, "lenea@contoso.com")
    r = await lene.post(
        lene.link("communication", "startMessaging"), json={"to": "sip:adrianag@contoso.com"}
    )
    assert r.status_code == 201
    events = (await lene.drain())[-3:]
    assert events[0]["reason"]["subcode"] == "TemporarilyUnavailable"

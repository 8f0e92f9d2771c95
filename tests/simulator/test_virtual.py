"""Virtual users talking to a signed-in user, from Python and over the control API."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote_plus

import httpx

from tests.guards import WAIT
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator

from .conftest import Session, flat, sign_in


async def _bot(client: httpx.AsyncClient, clock: ManualClock) -> Session:
    bot = await sign_in(client, "toshm@contoso.com")
    await bot.make_me_available()
    poll = asyncio.create_task(bot.events())
    await clock.advance(5)
    await poll
    return bot


def _text(event: dict[str, object]) -> str:
    message = event["_embedded"]["message"]  # type: ignore[index]
    return unquote_plus(message["_links"]["plainMessage"]["href"].split(",", 1)[1])  # type: ignore[index]


async def test_virtual_caller_and_signed_in_bot_from_python(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    bot = await _bot(client, clock)
    vu = sim.virtual_user("sip:adrianag@contoso.com")
    conv_id = await vu.start_conversation("sip:toshm@contoso.com", "Hello bot")
    assert vu.state(conv_id) == "connecting"
    offer = await bot.events()
    invitation = offer["sender"][0]["events"][0]["_embedded"]["messagingInvitation"]
    assert invitation["_embedded"]["from"]["name"] == "Adriana Giorgi"
    assert invitation["_links"]["message"]["href"].endswith(",Hello+bot%0d%0a")
    await bot.post(invitation["_links"]["accept"]["href"])
    await vu.wait_for_state("connected", timeout=WAIT)
    connected = await bot.events()
    events = [e for b in connected["sender"] for e in b["events"]]
    assert _text(events[-1]) == "Hello bot\r\n"
    send = events[0]["_embedded"]["messaging"]["_links"]["sendMessage"]["href"]
    r = await bot.post(send, content=b"Hi Adriana", headers={"Content-Type": "text/plain"})
    assert r.status_code == 201
    got = await vu.wait_for_message(timeout=WAIT)
    assert (got.text, got.sender) == ("Hi Adriana", "sip:toshm@contoso.com")
    vu.typing()
    vu.send("thanks")
    batch = await bot.events()
    assert flat(batch) == [
        ("conversation", "message", "completed"),  # the bot's own message, delivered
        ("conversation", "participant", "added"),
        ("conversation", "participant", "deleted"),
        ("conversation", "message", "completed"),
    ]
    assert _text(batch["sender"][0]["events"][-1]) == "thanks\r\n"
    vu.hang_up()
    ended = await bot.events()
    assert ("communication", "conversation", "deleted") in flat(ended)


async def test_signed_in_caller_to_auto_accepting_virtual_user(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    lene = await sign_in(client, "lenea@contoso.com")
    vu = sim.virtual_user("adrianag@contoso.com", auto_accept=True)
    r = await lene.post(
        lene.link("communication", "startMessaging"),
        json={"to": "sip:adrianag@contoso.com", "operationId": "x"},
    )
    assert r.status_code == 201
    events = await lene.drain()
    assert events[-1]["link"]["rel"] == "messagingInvitation"
    assert events[-1]["status"] == "Success"
    messaging = next(e for e in events if e["link"]["rel"] == "messaging" and e is not events[3])
    send = messaging["_embedded"]["messaging"]["_links"]["sendMessage"]["href"]
    await lene.post(send, content=b"<b>hi</b>", headers={"Content-Type": "text/html"})
    got = await vu.wait_for_message(timeout=WAIT)
    assert got.text == "hi"
    assert got.html is None  # Lene negotiated Plain only


async def test_control_api_drives_a_virtual_user(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    bot = await _bot(client, clock)
    users = (await client.get("/_sim/users")).json()["users"]
    assert {u["uri"] for u in users} == {
        "sip:toshm@contoso.com",
        "sip:lenea@contoso.com",
        "sip:adrianag@contoso.com",
    }
    r = await client.post(
        "/_sim/users/lenea@contoso.com/conversations",
        json={"to": "sip:toshm@contoso.com", "message": "ping"},
    )
    assert r.status_code == 201
    conv_id = r.json()["id"]
    offer = await bot.events()
    invitation = offer["sender"][0]["events"][0]["_embedded"]["messagingInvitation"]
    await bot.post(invitation["_links"]["accept"]["href"])
    listed = (await client.get("/_sim/users/lenea@contoso.com/conversations")).json()
    assert listed["conversations"][0]["state"] == "connected"
    connected = await bot.events()
    events = [e for b in connected["sender"] for e in b["events"]]
    send = events[0]["_embedded"]["messaging"]["_links"]["sendMessage"]["href"]
    await bot.post(send, content=b"pong", headers={"Content-Type": "text/plain"})
    messages = (await client.get("/_sim/users/lenea@contoso.com/messages")).json()
    assert [m["text"] for m in messages["messages"]] == ["pong"]
    base = f"/_sim/users/lenea@contoso.com/conversations/{conv_id}"
    assert (await client.post(base + "/messages", json={"text": "again"})).status_code == 204
    assert (await client.post(base + "/accept")).status_code == 409
    assert (await client.post(base + "/hangup")).status_code == 204
    ended = flat(await bot.events())
    assert ended[1] == ("conversation", "message", "completed")
    assert ended[-1] == ("communication", "conversation", "deleted")
    unknown = await client.post("/_sim/users/nobody@contoso.com/conversations", json={"to": "x"})
    assert unknown.status_code == 404


async def test_virtual_user_declines(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    lene = await sign_in(client, "lenea@contoso.com")
    vu = sim.virtual_user("adrianag@contoso.com")
    await lene.post(
        lene.link("communication", "startMessaging"), json={"to": "sip:adrianag@contoso.com"}
    )
    await vu.wait_for_state("ringing", timeout=WAIT)
    vu.decline()
    events = await lene.drain()
    assert events[-3]["reason"]["subcode"] == "Declined"

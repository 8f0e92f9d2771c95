"""ucwa-flow's client against both forms of the places where real servers differ.

* The sender's own ``message`` event: without the text (Microsoft's SendAnIM sample, and
  the simulator) or with ``plainMessage``/``htmlMessage`` (some servers): either way it is
  a delivery report, never something the other person said.
* An incoming invitation's inviter: ``_links.from`` and ``_embedded.from`` (the
  messagingInvitation reference sample, and the simulator), only ``_embedded.from`` (the
  ReceiveAnIM sample), or only ``_links.from``.
* Answers gzip-compressed (every one, as the simulator and IIS do when asked) or not.

The decoder and the lifecycle tracker are checked on each form; then a real bot and a real
caller chat through the simulator as it is, and through :class:`OtherForms`, an ASGI layer
in front of it that turns its answers into the other forms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.guards import WAIT
from tests.runtime.conftest import BOT, PASSWORD, load
from ucwa_flow.clock import ManualClock
from ucwa_flow.lifecycle.tracker import (
    InvitationReceived,
    LifecycleTracker,
    MessageDelivery,
    MessageReceived,
)
from ucwa_flow.runtime import Caller
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.simulator import Simulator, SimulatorConfig
from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa.dataurl import encode_data_url
from ucwa_flow.ucwa.events import MessageEvent, MessagingInvitationEvent, decode_batch

APP = "/ucwa/oauth/v1/applications/102"
CONV = f"{APP}/communication/conversations/21a1"
LENE = "sip:lenea@contoso.com"

# -- the decoder and the tracker, on each form --------------------------------------------


def _batch(sender: str, href: str, *events: dict[str, Any]) -> dict[str, Any]:
    return {
        "_links": {
            "self": {"href": f"{APP}/events?ack=6"},
            "next": {"href": f"{APP}/events?ack=7"},
        },
        "sender": [{"rel": sender, "href": href, "events": list(events)}],
    }


def _connected(tracker: LifecycleTracker) -> None:
    body = _batch(
        "communication",
        f"{APP}/communication",
        {
            "link": {"rel": "conversation", "href": CONV},
            "_embedded": {
                "conversation": {"state": "Connected", "_links": {"self": {"href": CONV}}}
            },
            "type": "updated",
        },
    )
    for record in decode_batch(body).events:
        tracker.apply(record)


def _own_message(links: dict[str, Any]) -> dict[str, Any]:
    href = f"{CONV}/messaging/messages/2"
    return _batch(
        "conversation",
        CONV,
        {
            "link": {"rel": "message", "href": href},
            "status": "Success",
            "_embedded": {
                "message": {
                    "direction": "Outgoing",
                    "timeStamp": "/Date(1364327898968)/",
                    "_links": {
                        "self": {"href": href},
                        "messaging": {"href": f"{CONV}/messaging"},
                        **links,
                    },
                    "rel": "message",
                }
            },
            "type": "completed",
        },
    )


@pytest.mark.parametrize(
    ("links", "text"),
    [
        ({}, None),  # as in the SendAnIM sample
        ({"plainMessage": {"href": encode_data_url("You said: hi\r\n")}}, "You said: hi"),
        (
            {
                "htmlMessage": {"href": encode_data_url("<b>You said:</b> hi", "text/html")},
                "participant": {"href": f"{CONV}/participants/toshm@contoso.com"},
            },
            "You said: hi",
        ),
    ],
    ids=["no-body", "plain-body", "html-body-and-participant"],
)
def test_the_senders_own_message_is_a_delivery_with_or_without_its_text(
    links: dict[str, Any], text: str | None
) -> None:
    (record,) = decode_batch(_own_message(links)).events
    assert isinstance(record, MessageEvent)
    assert (record.direction, record.status, record.text) == ("Outgoing", "Success", text)
    tracker = LifecycleTracker()
    _connected(tracker)
    changes = tracker.apply(record)
    assert changes == [MessageDelivery(CONV, f"{CONV}/messaging/messages/2", True, None)]
    assert not any(isinstance(c, MessageReceived) for c in changes)


def _invitation(from_link: bool, from_embedded: bool) -> dict[str, Any]:
    inv = f"{APP}/communication/messagingInvitations/6408"
    participant = f"{CONV}/participants/lenea@contoso.com"
    links: dict[str, Any] = {
        "self": {"href": inv},
        "to": {"href": f"{APP}/people/toshm@contoso.com"},
        "conversation": {"href": CONV},
        "accept": {"href": f"{inv}/accept"},
        "decline": {"href": f"{inv}/decline"},
        "messaging": {"href": f"{CONV}/messaging"},
        "message": {"href": "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a"},
    }
    if from_link:
        links["from"] = {"href": participant, "title": "Lene Aaling"}
    resource: dict[str, Any] = {
        "direction": "Incoming",
        "importance": "Normal",
        "threadId": "Ac7bUftwUcVMzgTzRl+OQchCsUn35Q==",
        "state": "Connecting",
        "subject": "",
        "_links": links,
        "rel": "messagingInvitation",
    }
    if from_embedded:
        resource["_embedded"] = {
            "from": {
                "name": "Lene Aaling",
                "uri": LENE,
                "_links": {"self": {"href": participant}, "conversation": {"href": CONV}},
                "rel": "participant",
            }
        }
    return _batch(
        "communication",
        f"{APP}/communication",
        {
            "link": {"rel": "messagingInvitation", "href": inv},
            "_embedded": {"messagingInvitation": resource},
            "type": "started",
        },
    )


@pytest.mark.parametrize(
    ("from_link", "from_embedded"),
    [(True, True), (False, True), (True, False)],
    ids=["link-and-embedded", "embedded-only", "link-only"],
)
def test_an_invitation_names_its_inviter_with_or_without_the_from_link(
    from_link: bool, from_embedded: bool
) -> None:
    (record,) = decode_batch(_invitation(from_link, from_embedded)).events
    assert isinstance(record, MessagingInvitationEvent)
    assert record.from_href == f"{CONV}/participants/lenea@contoso.com"
    assert record.from_name == "Lene Aaling"
    assert record.from_uri == (LENE if from_embedded else None)
    (received,) = LifecycleTracker().apply(record)
    assert isinstance(received, InvitationReceived)
    assert (received.from_uri, received.from_name) == (record.from_uri, "Lene Aaling")
    assert received.text == "Hi Tosh"
    assert received.accept_href == f"{APP}/communication/messagingInvitations/6408/accept"


# -- a bot and a caller through the simulator, as it is and in the other forms ------------


@dataclass
class OtherForms:
    """An ASGI layer in front of the simulator that can answer as other servers do.

    With ``other`` it asks the simulator for plain answers (no ``Accept-Encoding``), puts
    the text (as posted) into each sender's own ``message`` event, and leaves out the
    ``_links.from`` of incoming invitations. Either way it counts what passed.
    """

    app: ASGIApp
    other: bool
    answers: int = 0  # answers with a body to a request that allowed gzip
    gzipped: int = 0
    bodies_added: int = 0
    from_links_removed: int = 0
    _posted: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.other:
            headers = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
            scope = dict(scope, headers=headers)
        receive = self._reading(scope, receive)
        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        body = b"".join(chunks)
        headers = list(start["headers"])
        if body and b"gzip" in dict(scope["headers"]).get(b"accept-encoding", b""):
            self.answers += 1
            self.gzipped += (b"content-encoding", b"gzip") in headers
        if self.other and body and b"application/json" in dict(headers).get(b"content-type", b""):
            body = self._reshape(body)
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
        await send(dict(start, headers=headers))
        await send({"type": "http.response.body", "body": body})

    def _reading(self, scope: Scope, receive: Receive) -> Receive:
        """``receive`` that remembers each message posted, before the simulator routes it."""
        path: str = scope["path"]
        if not (self.other and scope["method"] == "POST" and path.endswith("/messaging/messages")):
            return receive
        mime = dict(scope["headers"]).get(b"content-type", b"").decode().split(";")[0]
        conversation = path.removesuffix("/messaging/messages").lower()

        parts: list[bytes] = []

        async def reading() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    text = b"".join(parts).decode()
                    self._posted.setdefault(conversation, []).append((mime, text))
            return message

        return reading

    def _reshape(self, raw: bytes) -> bytes:
        body = json.loads(raw)
        for block in body.get("sender", []) if isinstance(body, dict) else []:
            for event in block.get("events", []):
                resource = event.get("_embedded", {}).get(event["link"]["rel"])
                if not isinstance(resource, dict):
                    continue
                if event["link"]["rel"] == "message" and resource["direction"] == "Outgoing":
                    self._add_text(event["link"]["href"], resource["_links"])
                invitation = event["link"]["rel"] == "messagingInvitation"
                if invitation and resource["_links"].pop("from", None) is not None:
                    self.from_links_removed += 1
        return json.dumps(body).encode()

    def _add_text(self, href: str, links: dict[str, Any]) -> None:
        found = re.match(r"(?:https?://[^/]+)?(.*)/messaging/messages/\d+$", href)
        assert found is not None, href
        mime, text = self._posted[found.group(1).lower()].pop(0)
        rel = "htmlMessage" if mime == "text/html" else "plainMessage"
        links[rel] = {"href": encode_data_url(text, mime)}
        self.bodies_added += 1


@contextlib.asynccontextmanager
async def _chat_through(forms_other: bool) -> AsyncIterator[tuple[OtherForms, Caller, list[str]]]:
    """The echo bot (tosh) and Lene as a caller, both through :class:`OtherForms`."""
    clock = ManualClock()
    sim = Simulator(SimulatorConfig(seed=5), clock=clock)
    forms = OtherForms(sim.app, forms_other)
    transport = httpx.ASGITransport(app=forms)

    def client(uri: str) -> UcwaClient:
        return UcwaClient(
            uri, PASSWORD, server_url="http://sim.test", transport=transport, clock=clock
        )

    said: list[str] = []
    bot_client = client(BOT)
    bot = Bot(
        load("echo"),
        bot_client,
        clock=clock,
        sink=lambda r: said.append(r.text) if isinstance(r, t.MessageOut) else None,
    )
    lene = Caller(client(LENE), BOT, clock=clock)
    await lene.start()
    await bot.start()
    task = asyncio.create_task(bot.run())
    try:
        yield forms, lene, said
    finally:
        await bot.aclose()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await lene.aclose()
        await lene.client.aclose()
        await bot_client.aclose()
        sim.close()


@pytest.mark.parametrize("other", [False, True], ids=["as-documented", "other-forms"])
async def test_a_bot_and_a_caller_chat_through_either_form(other: bool) -> None:
    async with _chat_through(other) as (forms, lene, said):
        await lene.chat("hello there")
        await asyncio.wait_for(lene.wait_heard(2), WAIT)
        await lene.say("second line")
        await asyncio.wait_for(lene.wait_heard(3), WAIT)
        await lene.say("bye")
        await asyncio.wait_for(lene.wait_heard(4), WAIT)
        # Had either side taken its own message for the other's, an extra answer
        # would have come before "Bye!" (the events of a conversation come in order).
        assert lene.texts[1:] == ["You said: hello there", "You said: second line", "Bye!"]
        assert lene.texts[0].startswith("Hi Lene Aaling!")
        assert said == lene.texts
    if other:
        assert forms.answers == forms.gzipped == 0
        assert forms.bodies_added >= 6  # the bot's four answers and Lene's two lines
        assert forms.from_links_removed >= 1
    else:
        assert forms.answers > 10
        assert forms.gzipped == forms.answers  # every one of them was compressed
        assert (forms.bodies_added, forms.from_links_removed) == (0, 0)

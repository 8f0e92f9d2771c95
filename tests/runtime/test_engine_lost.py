"""When the event channel loses track of the conversations, the engine lets go of them.

The engine is driven here through its seams only: decoded sample batches in, and a port that
records what the engine asks of UCWA (the port is the interpreter's whole view of UCWA).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.runtime.conftest import load
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime import trace as t
from ucwa_flow.ucwa import ConversationsLost
from ucwa_flow.ucwa.active import messaging_record
from ucwa_flow.ucwa.events import MessagingEvent, decode_batch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
CONV = "/ucwa/oauth/v1/applications/104/communication/conversations/eee0"
INVITATION = "/ucwa/oauth/v1/applications/104/communication/messagingInvitations/6408"


class RecordingPort:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.listed: list[str] = []  # what the server lists as active after a loss: none
        self.messaging: dict[str, MessagingEvent] = {}  # their messaging, as re-read
        self.listing = asyncio.Event()  # the listing is answered once set
        self.listing.set()
        self.asked = asyncio.Event()  # set once the listing was asked for

    async def accept(self, accept_href: str) -> None:
        self.calls.append(("accept", accept_href))

    async def decline(self, decline_href: str) -> None:
        self.calls.append(("decline", decline_href))

    async def send_message(
        self,
        send_message_href: str,
        text: str,
        html: str | None,
        *,
        operation_context: str | None = None,
    ) -> str:
        self.calls.append(("send", text))
        return f"{send_message_href}/1"

    async def set_typing(self, set_is_typing_href: str) -> None:
        self.calls.append(("typing", set_is_typing_href))

    async def stop_messaging(self, stop_messaging_href: str) -> None:
        self.calls.append(("stop", stop_messaging_href))

    async def leave(self, conversation_href: str) -> None:
        self.calls.append(("leave", conversation_href))

    async def start_messaging(
        self,
        to: str,
        *,
        subject: str | None,
        importance: str,
        message: str | None,
        operation_id: str,
    ) -> str:
        self.calls.append(("invite", to))
        return "/invitation"

    async def still_open(self, conversations: Sequence[str]) -> list[str]:
        self.calls.append(("list", ""))
        self.asked.set()
        await self.listing.wait()
        return [href for href in conversations if href in self.listed]

    async def messaging_now(self, conversation: str) -> MessagingEvent | None:
        assert conversation in self.listed, "only a listed conversation's messaging is read"
        self.calls.append(("read", conversation))
        return self.messaging.get(conversation)


async def _connected_echo() -> tuple[Engine, RecordingPort, list[t.Trace]]:
    port, traces = RecordingPort(), []
    engine = Engine(load("echo"), port, ManualClock(), traces.append)
    for name in ("msdocs_ReceiveAnIM_08", "msdocs_ReceiveAnIM_15"):
        body = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        engine.handle(decode_batch(body))
        await engine.idle()
    assert ("send", "You said: Hi Tosh") in port.calls
    assert list(engine.instances) == [CONV]
    return engine, port, traces


@pytest.mark.parametrize("reason", ["resync", "resume"])
async def test_after_a_resync_or_resume_the_bot_ends_what_the_server_no_longer_lists(
    reason: str,
) -> None:
    engine, port, traces = await _connected_echo()
    engine.handle(ConversationsLost(reason))
    await engine.idle()
    assert port.calls[-2:] == [("list", ""), ("stop", f"{CONV}/messaging/terminate")]
    assert engine.instances == {}
    assert engine.tracker.get(CONV) is None
    assert [r.by for r in traces if isinstance(r, t.Ended)] == ["bot"]


def _messaging(state: str) -> MessagingEvent:
    """Conversation ``CONV``'s messaging as a re-read finds it, in ``state``."""
    body = json.loads((FIXTURES / "msdocs_ReceiveAnIM_15.json").read_text(encoding="utf-8"))
    resource = body["sender"][0]["events"][0]["_embedded"]["messaging"]
    return messaging_record(CONV, f"{CONV}/messaging", {**resource, "state": state})


async def test_a_conversation_still_open_and_connected_carries_on() -> None:
    engine, port, traces = await _connected_echo()
    port.listed, port.messaging = [CONV], {CONV: _messaging("Connected")}
    engine.handle(ConversationsLost("resync"))
    await engine.idle()
    assert port.calls[-2:] == [("list", ""), ("read", CONV)]
    assert list(engine.instances) == [CONV]
    assert not any(isinstance(r, t.Ended) for r in traces)


async def test_one_whose_messaging_is_no_longer_connected_ends() -> None:
    engine, port, traces = await _connected_echo()
    port.listed, port.messaging = [CONV], {CONV: _messaging("Disconnected")}
    engine.handle(ConversationsLost("resume"))
    await engine.idle()
    assert port.calls[-1] == ("stop", f"{CONV}/messaging/terminate")
    assert engine.instances == {}
    assert [r.by for r in traces if isinstance(r, t.Ended)] == ["bot"]


async def test_the_reread_connection_the_gap_hid_starts_the_conversation() -> None:
    port, traces = RecordingPort(), []
    engine = Engine(load("echo"), port, ManualClock(), traces.append)
    body = json.loads((FIXTURES / "msdocs_ReceiveAnIM_08.json").read_text(encoding="utf-8"))
    engine.handle(decode_batch(body))  # the invitation, accepted; its connection is lost
    await engine.idle()
    assert ("accept", f"{INVITATION}/accept") in port.calls
    assert engine.instances[CONV].state == "(new)"
    port.listed, port.messaging = [CONV], {CONV: _messaging("Connected")}
    engine.handle(ConversationsLost("resync"))
    await engine.idle()
    assert ("send", "You said: Hi Tosh") in port.calls  # started by what was re-read
    conv = engine.tracker.get(CONV)
    assert conv is not None
    assert conv.messaging.state == "Connected"
    assert conv.messaging.send_message_href == f"{CONV}/messaging/messages"


async def test_a_recreated_application_took_its_conversations_with_it() -> None:
    engine, port, traces = await _connected_echo()
    calls = len(port.calls)
    engine.handle(ConversationsLost("application re-created"))
    await engine.idle()
    assert len(port.calls) == calls  # nothing to stop: the server already ended them
    assert engine.instances == {}
    assert [r.by for r in traces if isinstance(r, t.Ended)] == ["server"]


async def test_a_webhook_in_an_ended_handler_runs_its_branch_and_what_follows() -> None:
    import httpx

    from ucwa_flow.flow import load_flow_text

    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(201, json={"id": "T-9"})

    flow = load_flow_text(
        """
version: 1
name: farewell
start: chat
variables: {ticket: null}
states:
  chat:
    messages:
      - any: true
        say: ok
    timeouts:
      - after: 1m
        do: [stop]
    ended:
      - log: caller left
      - webhook:
          url: http://hooks.example/left
          result: ticket
          success: [{log: "filed {{ ticket.id }}"}]
          failure: [{log: failed}]
      - log: after the webhook
""",
        "farewell.flow.yaml",
    ).raise_for_errors()
    port, traces = RecordingPort(), []
    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    engine = Engine(flow, port, ManualClock(), traces.append, http=http)
    for name in ("msdocs_ReceiveAnIM_08", "msdocs_ReceiveAnIM_15"):
        body = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        engine.handle(decode_batch(body))
        await engine.idle()
    app = "/ucwa/oauth/v1/applications/104"
    hang_up = {
        "_links": {
            "self": {"href": f"{app}/events?ack=7"},
            "next": {"href": f"{app}/events?ack=8"},
        },
        "sender": [
            {
                "rel": "communication",
                "href": f"{app}/communication",
                "events": [{"link": {"rel": "conversation", "href": CONV}, "type": "deleted"}],
            }
        ],
    }
    engine.handle(decode_batch(hang_up))  # the caller hung up
    await engine.idle()
    await http.aclose()
    logged = [r.detail for r in traces if isinstance(r, t.ActionDone) and r.action == "log"]
    assert logged == ["caller left", "filed T-9", "after the webhook"]
    assert calls == ["http://hooks.example/left"]
    assert [r.by for r in traces if isinstance(r, t.Ended)] == ["caller"]


async def test_a_rebuild_cancelled_while_its_read_is_out_decides_nothing() -> None:
    engine, port, traces = await _connected_echo()
    port.listed, port.messaging = [CONV], {CONV: _messaging("Connected")}
    port.listing.clear()
    calls = len(port.calls)
    engine.handle(ConversationsLost("resync"))
    await port.asked.wait()  # the listing is out, and stays out
    (asking,) = engine._tasks
    asking.cancel()  # as the engine's closing does
    await engine.drained()  # the conversation's job returns: it waited forever before
    assert port.calls[calls:] == [("list", "")]  # neither read nor stopped
    assert list(engine.instances) == [CONV]
    assert not any(isinstance(r, t.Ended) for r in traces)

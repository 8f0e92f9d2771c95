"""The two seed scenarios, end to end over a real socket: "Receive an IM" and "Send an IM"."""

from __future__ import annotations

import uuid

from tests.integration.harness import LENE, TOSH, Party
from ucwa_flow.ucwa.events import GenericEvent, MessagingInvitationEvent


async def test_receive_an_im(tosh: Party, lene: Party) -> None:
    """Tosh (the bot) gets an IM from Lene, accepts, reads it, replies; Lene gets the reply."""
    operation = str(uuid.uuid4())
    invitation_href = await lene.client.start_messaging(
        TOSH, subject="", operation_id=operation, message="Hi Tosh"
    )
    assert invitation_href.startswith("http")

    incoming = await tosh.invitation("started", "Incoming")
    assert incoming.from_uri == LENE
    assert incoming.message is not None
    assert incoming.message.text.strip() == "Hi Tosh"
    assert incoming.accept_href is not None
    await tosh.client.accept(incoming.accept_href)

    messaging = await tosh.connected()
    outgoing = await lene.invitation("completed", "Outgoing")
    assert outgoing.status == "Success"
    assert outgoing.operation_id == operation
    lene_messaging = await lene.connected()

    assert lene_messaging.send_message_href is not None
    await lene.client.send_message(lene_messaging.send_message_href, "Are you there?")
    await tosh.message("Are you there?")

    assert messaging.send_message_href is not None
    reply_href = await tosh.client.send_message(
        messaging.send_message_href, "Hello Lene, how can I help?"
    )
    assert "/messages/" in reply_href
    await lene.message("Hello Lene, how can I help?")
    delivered = await tosh.delivery(reply_href)
    assert delivered.status == "Success"
    assert delivered.text is None  # the sender's own event has no text, as in SendAnIM
    # Unknown (to the decoder) resources pass through as GenericEvent, e.g. presence.
    assert any(isinstance(e, GenericEvent) for e in tosh.events)


async def test_send_an_im(tosh: Party, lene: Party) -> None:
    """Tosh invites Lene, she accepts, they chat both ways, Tosh ends; both see the end."""
    operation = "send-an-im-" + uuid.uuid4().hex[:8]
    href = await tosh.client.start_messaging(
        LENE, subject="Task Sample", importance="Normal", operation_id=operation
    )

    started = await tosh.invitation("started", "Outgoing")
    assert started.operation_id == operation
    assert tosh.client.absolute(started.link.href) == href

    incoming = await lene.invitation("started", "Incoming")
    assert incoming.subject == "Task Sample"
    assert incoming.accept_href is not None
    await lene.client.accept(incoming.accept_href)

    completed = await tosh.expect(
        "the invitation completed",
        lambda e: (
            isinstance(e, MessagingInvitationEvent)
            and e.type == "completed"
            and tosh.client.absolute(e.link.href) == href
        ),
    )
    assert completed.status == "Success"
    tosh_messaging = await tosh.connected()
    lene_messaging = await lene.connected()

    assert tosh_messaging.send_message_href is not None
    assert lene_messaging.send_message_href is not None
    await tosh.client.send_message(tosh_messaging.send_message_href, "What's up?")
    await lene.message("What's up?")
    await lene.client.send_message(lene_messaging.send_message_href, "<b>All good</b>", html=True)
    await tosh.message("All good")

    assert tosh_messaging.stop_messaging_href is not None
    await tosh.client.stop_messaging(tosh_messaging.stop_messaging_href)
    await tosh.ended()
    await lene.ended()
    assert tosh.records == []
    assert lene.records == []

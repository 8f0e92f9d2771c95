"""A tracked conversation as JSON data and back: a restarted tracker goes on with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ucwa_flow.lifecycle import (
    ConversationEnded,
    ConversationState,
    InvitationEnded,
    LifecycleTracker,
    MessageReceived,
    MessagingState,
    Outcome,
    dump_conversation,
    load_conversation,
)
from ucwa_flow.ucwa.dataurl import DataContent
from ucwa_flow.ucwa.events import (
    ConversationEvent,
    Link,
    MessageEvent,
    MessagingEvent,
    MessagingInvitationEvent,
    Reason,
    decode_batch,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "events"
APP = "/ucwa/oauth/v1/applications/104"
CONV = f"{APP}/communication/conversations/eee0"
INVITATION = f"{APP}/communication/messagingInvitations/6408"


def _feed(tracker: LifecycleTracker, *names: str) -> list[object]:
    changes: list[object] = []
    for name in names:
        body = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        for record in decode_batch(body).events:
            changes.extend(tracker.apply(record))
    return changes


def _restarted(tracker: LifecycleTracker) -> LifecycleTracker:
    conv = tracker.get(CONV)
    assert conv is not None
    data = json.loads(json.dumps(dump_conversation(conv)))  # through a store, as JSON
    again = LifecycleTracker()
    again.restore(load_conversation(data))
    return again


def _incoming(number: int, text: str) -> MessageEvent:
    return MessageEvent(
        sender=Link("conversation", CONV),
        link=Link("message", f"{CONV}/messaging/messages/{number}"),
        type="completed",
        status="Success",
        direction="Incoming",
        conversation_href=CONV,
        plain=DataContent("text/plain", "utf-8", text),
    )


def test_a_connected_conversation_goes_on_in_a_new_tracker() -> None:
    tracker = LifecycleTracker()
    _feed(tracker, *(f"msdocs_ReceiveAnIM_{n:02}" for n in (7, 8, 9, 10, 15)))
    again = _restarted(tracker)

    conv = again.get(CONV)
    assert conv is not None
    assert (conv.lifecycle.state, conv.messaging.state) == ("Connected", "Connected")
    assert conv.messaging.send_message_href == f"{CONV}/messaging/messages"
    assert conv.remote_uri == "sip:lenea@contoso.com"
    assert conv.invitations[INVITATION].outcome is Outcome.ACCEPTED
    assert len(again.conversation_machine.models) == 1
    assert len(again.invitation_machine.models) == 1

    # "Hi Tosh" delivered again after accept is still recognised as the first message
    assert _feed(again, "msdocs_ReceiveAnIM_16") == []
    assert again.apply(_incoming(3, "next\r\n")) == [
        MessageReceived(CONV, f"{CONV}/messaging/messages/3", "next", None, None)
    ]
    assert LifecycleTracker().apply(_incoming(3, "next\r\n")) == []  # without restore: deaf

    gone = MessagingEvent(
        sender=Link("conversation", CONV),
        link=Link("messaging", f"{CONV}/messaging"),
        type="updated",
        state="Disconnected",
        conversation_href=CONV,
    )
    assert again.apply(gone) == [MessagingState(CONV, "Connected", "Disconnected")]
    deleted = ConversationEvent(
        sender=Link("communication", f"{APP}/communication"),
        link=Link("conversation", CONV),
        type="deleted",
        conversation_href=CONV,
    )
    assert again.apply(deleted) == [
        ConversationState(CONV, "Connected", "Disconnected"),
        ConversationEnded(CONV),
    ]


def test_a_ringing_outgoing_invitation_ends_after_the_restart_with_its_reason() -> None:
    tracker = LifecycleTracker()
    href = f"{APP}/communication/messagingInvitations/9"

    def invitation(kind: str, reason: Reason | None = None) -> MessagingInvitationEvent:
        return MessagingInvitationEvent(
            sender=Link("communication", f"{APP}/communication"),
            link=Link("messagingInvitation", href),
            type=kind,
            status="Failure" if reason else None,
            reason=reason,
            conversation_href=CONV,
            direction="Outgoing",
            operation_id="op-9",
        )

    tracker.apply(invitation("started"))
    again = _restarted(tracker)
    declined = Reason("RemoteFailure", "Declined", "Your invitation was declined.")
    assert again.apply(invitation("completed", declined)) == [
        InvitationEnded(CONV, href, "Outgoing", "op-9", Outcome.DECLINED, declined)
    ]
    data = dump_conversation(again.get(CONV))  # type: ignore[arg-type]
    assert data["invitations"][0]["reason"]["subcode"] == "Declined"
    assert load_conversation(data).invitations[href].reason == declined


def test_restore_replaces_a_conversation_tracked_under_the_same_href() -> None:
    tracker = LifecycleTracker()
    _feed(tracker, "msdocs_ReceiveAnIM_07", "msdocs_ReceiveAnIM_08")
    conv = tracker.get(CONV)
    assert conv is not None
    tracker.restore(load_conversation(dump_conversation(conv)))
    assert len(tracker) == 1
    assert len(tracker.conversation_machine.models) == 1
    assert len(tracker.invitation_machine.models) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 2}, "version 2 is not 1"),
        ({"state": "Ringing"}, "state 'Ringing' is not one of"),
        ({"messaging": None}, "messaging is not an object"),
        ({"remote_uri": 7}, "remote_uri is not a string"),
    ],
)
def test_data_this_version_cannot_read_is_one_clear_error(
    change: dict[str, object], message: str
) -> None:
    tracker = LifecycleTracker()
    _feed(tracker, "msdocs_ReceiveAnIM_07", "msdocs_ReceiveAnIM_08")
    conv = tracker.get(CONV)
    assert conv is not None
    data = dump_conversation(conv) | change
    with pytest.raises(ValueError, match=message):
        load_conversation(data)

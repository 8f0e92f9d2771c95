"""Lifecycle machines driven by decoded records from the Microsoft samples."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ucwa_flow.lifecycle.invitation import Outcome, outcome_of
from ucwa_flow.lifecycle.tracker import (
    Change,
    ConversationEnded,
    ConversationState,
    InvitationEnded,
    InvitationReceived,
    LifecycleTracker,
    MessageDelivery,
    MessageReceived,
    MessagingState,
    TypingChanged,
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
COMM = Link("communication", f"{APP}/communication")


def _feed(tracker: LifecycleTracker, *names: str) -> list[Change]:
    changes: list[Change] = []
    for name in names:
        body = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        for record in decode_batch(body).events:
            changes.extend(tracker.apply(record))
    return changes


def test_receive_an_im_sample_drives_all_three_lifecycles() -> None:
    tracker = LifecycleTracker()

    invited = _feed(tracker, "msdocs_ReceiveAnIM_07", "msdocs_ReceiveAnIM_08")
    assert invited == [
        InvitationReceived(
            conversation=CONV,
            invitation=f"{APP}/communication/messagingInvitations/6408",
            from_uri="sip:lenea@contoso.com",
            from_name="Lene Aaling",
            subject="",
            text="Hi Tosh",
            accept_href=f"{APP}/communication/messagingInvitations/6408/accept",
            decline_href=f"{APP}/communication/messagingInvitations/6408/decline",
        ),
        ConversationState(CONV, "New", "Incoming"),
    ]
    conv = tracker.get(CONV)
    assert conv is not None
    assert conv.remote_uri == "sip:lenea@contoso.com"

    # participant added, then the invitation "updated" without accept links: nothing changes
    assert _feed(tracker, "msdocs_ReceiveAnIM_09", "msdocs_ReceiveAnIM_10") == []

    accepted = _feed(tracker, "msdocs_ReceiveAnIM_15")
    assert accepted == [
        MessagingState(CONV, "Disconnected", "Connected"),
        ConversationState(CONV, "Incoming", "Connected"),
        InvitationEnded(
            CONV,
            f"{APP}/communication/messagingInvitations/6408",
            "Incoming",
            None,
            Outcome.ACCEPTED,
            None,
        ),
    ]
    assert conv.messaging.send_message_href == f"{CONV}/messaging/messages"
    assert conv.messaging.stop_messaging_href == f"{CONV}/messaging/terminate"

    # "Hi Tosh" arrives again as messages/2: the same message, reported once
    assert _feed(tracker, "msdocs_ReceiveAnIM_16") == []


def test_send_an_im_sample_outgoing_invitation_and_delivery() -> None:
    tracker = LifecycleTracker()
    app = "/ucwa/oauth/v1/applications/102"
    conv = f"{app}/communication/conversations/21a1"

    started = _feed(tracker, "msdocs_SendAnIM_04")
    assert ConversationState(conv, "New", "Connecting") in started
    assert MessagingState(conv, "Disconnected", "Connecting") in started
    assert not any(isinstance(c, InvitationReceived) for c in started)

    connected = _feed(tracker, "msdocs_SendAnIM_06")
    assert connected == [
        ConversationState(conv, "Connecting", "Connected"),
        MessagingState(conv, "Connecting", "Connected"),
        InvitationEnded(
            conv,
            f"{app}/communication/messagingInvitations/60c",
            "Outgoing",
            "5028e824-2268-4b14-9e59-1abad65ff393",
            Outcome.ACCEPTED,
            None,
        ),
    ]
    assert _feed(tracker, "msdocs_SendAnIM_12") == [
        MessageDelivery(conv, f"{conv}/messaging/messages/2", True, None)
    ]


def _invitation(
    kind: str,
    *,
    status: str | None = None,
    reason: Reason | None = None,
    href: str = f"{APP}/communication/messagingInvitations/1",
) -> MessagingInvitationEvent:
    return MessagingInvitationEvent(
        sender=COMM,
        link=Link("messagingInvitation", href),
        type=kind,
        status=status,
        reason=reason,
        conversation_href=CONV,
        direction="Outgoing",
        operation_id="op-1",
    )


@pytest.mark.parametrize(
    ("subcode", "outcome"),
    [
        ("Declined", Outcome.DECLINED),
        ("Timeout", Outcome.NO_ANSWER),
        ("Canceled", Outcome.CANCELLED),
        ("Expired", Outcome.EXPIRED),
        ("SomethingNew", Outcome.FAILED),
        (None, Outcome.FAILED),
    ],
)
def test_failed_invitation_reports_its_outcome(subcode: str | None, outcome: Outcome) -> None:
    tracker = LifecycleTracker()
    reason = Reason("RemoteFailure", subcode, "nope")
    tracker.apply(_invitation("started"))
    changes = tracker.apply(_invitation("completed", status="Failure", reason=reason))
    assert changes == [
        InvitationEnded(
            CONV,
            f"{APP}/communication/messagingInvitations/1",
            "Outgoing",
            "op-1",
            outcome,
            reason,
        )
    ]
    assert outcome_of(reason) is outcome


def test_completed_without_started_is_allowed_but_a_second_completion_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = LifecycleTracker()
    first = tracker.apply(_invitation("completed", status="Success"))
    assert [type(c) for c in first] == [InvitationEnded]
    with caplog.at_level(logging.WARNING, logger="ucwa_flow.lifecycle"):
        again = tracker.apply(_invitation("completed", status="Failure"))
    assert again == []
    assert "invitation" in caplog.text
    assert "does not fit state Connected" in caplog.text


def test_out_of_order_conversation_record_is_logged_with_its_conversation_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = LifecycleTracker()
    sender = Link("conversation", CONV)
    connected = ConversationEvent(
        sender=COMM,
        link=Link("conversation", CONV),
        type="updated",
        state="Connected",
        conversation_href=CONV,
    )
    incoming = ConversationEvent(
        sender=COMM,
        link=Link("conversation", CONV),
        type="updated",
        state="Incoming",
        conversation_href=CONV,
    )
    assert tracker.apply(connected) == [ConversationState(CONV, "New", "Connected")]
    assert tracker.apply(connected) == []  # same state again: internal, silent
    with caplog.at_level(logging.WARNING, logger="ucwa_flow.lifecycle"):
        assert tracker.apply(incoming) == []
    assert CONV in caplog.text
    gone = MessagingEvent(
        sender=sender,
        link=Link("messaging", f"{CONV}/messaging"),
        type="updated",
        state="Disconnected",
        conversation_href=CONV,
    )
    assert tracker.apply(gone) == []  # already Disconnected: nothing to say
    deleted = ConversationEvent(
        sender=COMM, link=Link("conversation", CONV), type="deleted", conversation_href=CONV
    )
    assert tracker.apply(deleted) == [
        ConversationState(CONV, "Connected", "Disconnected"),
        ConversationEnded(CONV),
    ]
    assert tracker.apply(deleted) == []  # ended once


def _begin(tracker: LifecycleTracker, href: str) -> None:
    tracker.apply(
        ConversationEvent(
            sender=COMM,
            link=Link("conversation", href),
            type="added",
            state="Connected",
            conversation_href=href,
        )
    )


def test_messages_typing_and_a_message_reported_started_then_completed() -> None:
    tracker = LifecycleTracker()
    _begin(tracker, CONV)
    sender = Link("conversation", CONV)
    msg = Link("message", f"{CONV}/messaging/messages/3")

    def message(kind: str, text: str | None) -> MessageEvent:
        plain = DataContent("text/plain", "utf-8", text) if text is not None else None
        return MessageEvent(
            sender=sender,
            link=msg,
            type=kind,
            status="Success",
            direction="Incoming",
            conversation_href=CONV,
            participant_name="Lene Aaling",
            plain=plain,
        )

    # "started" may come without the text; the "completed" that carries it counts, once
    assert tracker.apply(message("started", None)) == []
    assert tracker.apply(message("completed", "second\r\n")) == [
        MessageReceived(CONV, msg.href, "second", None, "Lene Aaling")
    ]
    assert tracker.apply(message("completed", "second\r\n")) == []
    body = json.loads((FIXTURES / "capture_example_step_10_irl_eventsResource.json").read_text())
    records = decode_batch(body).events
    conv = records[0].conversation_href
    assert conv is not None
    assert [c for r in records for c in tracker.apply(r)] == []  # never seen: ignored
    _begin(tracker, conv)
    changes = [c for r in records for c in tracker.apply(r)]
    assert changes[0] == MessageReceived(conv, records[0].link.href, "TUAN", None, None)
    assert isinstance(changes[1], TypingChanged)
    assert changes[1].typing


@pytest.mark.parametrize(
    ("status", "reason"),
    [("Success", None), ("Failure", Reason("ServiceFailure", "Undeliverable", "not delivered"))],
)
def test_an_own_message_is_a_delivery_carrying_its_operation_id(
    status: str, reason: Reason | None
) -> None:
    tracker = LifecycleTracker()
    _begin(tracker, CONV)
    href = f"{CONV}/messaging/messages/4"

    def own(kind: str, operation_id: str | None) -> MessageEvent:
        return MessageEvent(
            sender=Link("conversation", CONV),
            link=Link("message", href),
            type=kind,
            status=status if kind == "completed" else None,
            reason=reason if kind == "completed" else None,
            direction="Outgoing",
            conversation_href=CONV,
            operation_id=operation_id,
        )

    assert tracker.apply(own("started", "op-7")) == []  # only the outcome is news
    delivered = status == "Success"
    assert tracker.apply(own("completed", "op-7")) == [
        MessageDelivery(CONV, href, delivered, reason, "op-7")
    ]
    # a server that does not echo the OperationContext: the delivery has no operation id
    assert tracker.apply(own("completed", None)) == [
        MessageDelivery(CONV, href, delivered, reason, None)
    ]


def test_unrelated_records_change_nothing_and_forget_releases_models() -> None:
    tracker = LifecycleTracker()
    assert _feed(tracker, "msdocs_ReceiveAnIM_07") == []  # me/presence/communication
    _feed(tracker, "msdocs_ReceiveAnIM_08")
    assert len(tracker) == 1
    assert len(tracker.conversation_machine.models) == 1
    assert tracker.forget_all() == [CONV]
    assert len(tracker) == 0
    assert len(tracker.conversation_machine.models) == 0
    assert len(tracker.invitation_machine.models) == 0
    assert len(tracker.messaging_machine.models) == 0


def test_many_conversations_share_three_machines() -> None:
    tracker = LifecycleTracker()
    for i in range(2000):
        href = f"{APP}/communication/conversations/c{i}"
        tracker.apply(
            ConversationEvent(
                sender=COMM,
                link=Link("conversation", href),
                type="added",
                state="Incoming",
                conversation_href=href,
            )
        )
    assert len(tracker.conversation_machine.models) == 2000
    conv = tracker.get(f"{APP}/communication/conversations/c1999")
    assert conv is not None
    assert conv.lifecycle.state == "Incoming"
    # nothing bound onto the models: they stay small slotted objects
    assert not hasattr(conv.lifecycle, "__dict__")

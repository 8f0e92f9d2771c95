"""The event-channel decoder on every published sample body and on hand-made edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ucwa_flow.ucwa.dataurl import DataContent
from ucwa_flow.ucwa.events import (
    ConversationEvent,
    Event,
    EventBatch,
    GenericEvent,
    Link,
    MessageEvent,
    MessagingEvent,
    MessagingInvitationEvent,
    ParticipantEvent,
    TypingEvent,
    decode_batch,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "events"

A104 = "/ucwa/oauth/v1/applications/104"
EEE0 = f"{A104}/communication/conversations/eee0"
A102 = "/ucwa/oauth/v1/applications/102"
C21A1 = f"{A102}/communication/conversations/21a1"
ORANGE = "/ucwa/oauth/v1/applications/101017548935/communication/conversations/"
ORANGE_CONV = ORANGE + "45c7e378-32fe-4709-b5ba-e5f913325f3e"
SEND_CONV = (
    "/ucwa/oauth/v1/applications/10165861200/communication/conversations/"
    "936eed4d-52da-4987-8c1d-ed02a11f0a55"
)
REF_CONV = "https://fe1.contoso.com:443/ucwa/v1/applications/192/communication/conversations/137"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def decode(name: str) -> EventBatch:
    return decode_batch(load(name))


Gen, Inv, Conv, Msg = GenericEvent, MessagingInvitationEvent, ConversationEvent, MessagingEvent
Part, Mess, Typ = ParticipantEvent, MessageEvent, TypingEvent
ME, COMM, CONV = "me", "communication", "conversation"
PM = "participantMessaging"
RECEIVE_08 = [
    (Inv, COMM, "messagingInvitation", "started"),
    (Conv, COMM, "conversation", "added"),
    (Part, CONV, "localParticipant", "added"),
]
SEND_FLOW = [(Part, CONV, "participant", "added"), (Gen, CONV, PM, "added")]
SEND_FLOW += [(Gen, CONV, PM, "added"), (Msg, CONV, "messaging", "updated")]
ME_BLOCK = [
    (Gen, ME, "me", "updated"),
    (Gen, ME, "presence", "added"),
    (Gen, ME, "note", "added"),
    (Gen, ME, "location", "added"),
]

# Every fixture: (record class, sender rel, link rel, type) for each event, in order.
SHAPES: dict[str, list[tuple[type[Event], str, str, str]]] = {
    "msdocs_EventChannelDetails_01.json": [(Gen, COMM, "communication", "updated"), *ME_BLOCK],
    "msdocs_EventsInUCWA_01.json": [
        (Part, CONV, "localParticipant", "added"),
        (Msg, CONV, "messaging", "updated"),
    ],
    "msdocs_ReceiveAnIM_07.json": [*ME_BLOCK, (Gen, COMM, "communication", "updated")],
    "msdocs_ReceiveAnIM_08.json": RECEIVE_08,
    "msdocs_ReceiveAnIM_09.json": [(Part, CONV, "participant", "added")],
    "msdocs_ReceiveAnIM_10.json": [(Inv, COMM, "messagingInvitation", "updated")],
    "msdocs_ReceiveAnIM_15.json": [
        (Msg, CONV, "messaging", "updated"),
        (Conv, COMM, "conversation", "updated"),
        (Gen, CONV, PM, "added"),
        (Gen, CONV, PM, "added"),
        (Part, CONV, "participant", "updated"),
        (Inv, COMM, "messagingInvitation", "completed"),
    ],
    "msdocs_ReceiveAnIM_16.json": [
        (Mess, CONV, "message", "completed"),
        (Conv, COMM, "conversation", "updated"),
    ],
    "msdocs_SendAnIM_04.json": [
        (Inv, COMM, "messagingInvitation", "started"),
        (Conv, COMM, "conversation", "added"),
        (Part, CONV, "localParticipant", "added"),
        (Msg, CONV, "messaging", "updated"),
    ],
    "msdocs_SendAnIM_06.json": [
        (Conv, COMM, "conversation", "updated"),
        (Part, CONV, "participant", "added"),
        (Gen, CONV, PM, "added"),
        (Gen, CONV, PM, "added"),
        (Msg, CONV, "messaging", "updated"),
        (Inv, COMM, "messagingInvitation", "completed"),
    ],
    "msdocs_SendAnIM_12.json": [(Mess, CONV, "message", "completed")],
    "msdocs_communication_ref_01.json": [(Gen, COMM, "communication", "updated")],
    "msdocs_message_ref_01.json": [(Mess, CONV, "message", "started")],
    "msdocs_messagingInvitation_ref_01.json": [(Inv, COMM, "messagingInvitation", "started")],
    "msdocs_messagingInvitation_ref_02.json": [(Inv, COMM, "messagingInvitation", "updated")],
    "msdocs_messaging_ref_01.json": [(Msg, CONV, "messaging", "updated")],
    "msdocs_participant_ref_01.json": [(Part, CONV, "participant", "added")],
    "msdocs_participant_ref_02.json": [(Part, CONV, "participant", "updated")],
    "msdocs_participant_ref_03.json": [(Part, CONV, "participant", "deleted")],
    "capture_example_3_step_10.json": [(Inv, COMM, "messagingInvitation", "updated")],
    "capture_example_events_resource_with_message.json": RECEIVE_08,
    "capture_example_step_10_irl_eventsResource.json": [
        (Mess, CONV, "message", "completed"),
        (Typ, CONV, "participant", "added"),
    ],
    "capture_sendIM_events_thing-1521733099125.json": SEND_FLOW,
    "capture_sendIM_events_thing-1521733099132.json": SEND_FLOW,
    "capture_sendIM_events_thing-1521733100246.json": [(Mess, CONV, "message", "completed")],
}


def test_every_fixture_has_an_expected_shape() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(SHAPES)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_fixture_decodes_to_expected_records(name: str) -> None:
    body = load(name)
    batch = decode_batch(body)
    shape = [(type(e), e.sender.rel, e.link.rel, e.type) for e in batch.events]
    assert shape == SHAPES[name]
    assert batch.self_href == body["_links"]["self"]["href"]
    assert batch.next_href == body["_links"]["next"]["href"]
    assert (batch.resync_href, batch.resume_href) == (None, None)
    assert not batch.is_empty
    # Every event keeps its sender block's href and its own link exactly as sent.
    raw = [(s["href"], e["link"]) for s in body["sender"] for e in s["events"]]
    assert [(e.sender.href, e.link) for e in batch.events] == [
        (href, Link(link["rel"], link["href"], link.get("title"))) for href, link in raw
    ]


def test_receive_an_im_step_8_incoming_invitation() -> None:
    invitation, conversation, local = decode("msdocs_ReceiveAnIM_08.json").events

    assert isinstance(invitation, MessagingInvitationEvent)
    assert invitation.sender == Link("communication", f"{A104}/communication")
    assert invitation.link == Link(
        "messagingInvitation", f"{A104}/communication/messagingInvitations/6408"
    )
    assert (invitation.type, invitation.status, invitation.reason) == ("started", None, None)
    assert invitation.direction == "Incoming"
    assert invitation.state == "Connecting"
    assert invitation.importance == "Normal"
    assert invitation.subject == ""
    assert invitation.thread_id == "Ac7bUftwUcVMzgTzRl+OQchCsUn35Q=="
    assert invitation.operation_id is None
    assert invitation.from_uri == "sip:lenea@contoso.com"
    assert invitation.from_name == "Lene Aaling"
    assert invitation.from_href == f"{EEE0}/participants/lenea@contoso.com"
    assert invitation.to_href == f"{A104}/people/toshm@contoso.com"
    assert invitation.accept_href == f"{A104}/communication/messagingInvitations/6408/accept"
    assert invitation.decline_href == f"{A104}/communication/messagingInvitations/6408/decline"
    assert invitation.cancel_href is None
    assert invitation.messaging_href == f"{EEE0}/messaging"
    assert invitation.message == DataContent("text/plain", "utf-8", "Hi Tosh\r\n")
    assert invitation.accepted_by_uri is None
    assert invitation.conversation_href == EEE0
    assert invitation.resource is not None
    assert invitation.resource["rel"] == "messagingInvitation"

    assert isinstance(conversation, ConversationEvent)
    assert conversation.state == "Incoming"
    assert conversation.active_modalities == ("Messaging",)
    assert conversation.thread_id == "Ac7bUftwUcVMzgTzRl+OQchCsUn35Q=="
    assert (conversation.subject, conversation.importance) == ("", "Normal")
    assert conversation.messaging_href == f"{EEE0}/messaging"
    assert conversation.conversation_href == EEE0

    assert isinstance(local, ParticipantEvent)
    assert local.sender == Link("conversation", EEE0)
    assert local.local is True
    assert local.name == "Tosh Meston"
    assert local.uri == "sip:toshm@contoso.com"
    assert local.conversation_href == EEE0


def test_receive_an_im_step_15_after_accept_with_repeated_senders() -> None:
    batch = decode("msdocs_ReceiveAnIM_15.json")
    messaging, conversation, pm_local, pm_remote, remote, invitation = batch.events
    # Sender blocks conversation, communication, conversation, communication: order kept.
    assert [e.sender.rel for e in batch.events] == [CONV, COMM, CONV, CONV, CONV, COMM]

    assert isinstance(messaging, MessagingEvent)
    assert messaging.state == "Connected"
    assert messaging.negotiated_formats == ("Plain",)
    assert messaging.send_message_href == f"{EEE0}/messaging/messages"
    assert messaging.stop_messaging_href == f"{EEE0}/messaging/terminate"
    assert messaging.set_is_typing_href == f"{EEE0}/messaging/typing"
    assert messaging.typing_participants_href == f"{EEE0}/messaging/typingParticipants"
    assert messaging.add_messaging_href is None

    assert isinstance(conversation, ConversationEvent)
    assert conversation.state == "Connected"

    assert pm_local.in_ == Link(
        "localParticipant", f"{EEE0}/participants/toshm@contoso.com", "Tosh Meston"
    )
    assert pm_remote.in_ == Link(
        "participant", f"{EEE0}/participants/lenea@contoso.com", "Lene Aaling"
    )
    assert pm_remote.resource is None

    assert isinstance(remote, ParticipantEvent)
    assert (remote.name, remote.uri, remote.local) == ("Lene Aaling", None, False)

    assert isinstance(invitation, MessagingInvitationEvent)
    assert (invitation.type, invitation.status, invitation.state) == (
        "completed",
        "Success",
        "Connected",
    )
    assert invitation.accept_href is None
    assert invitation.decline_href is None
    assert invitation.conversation_href == EEE0
    assert all(e.conversation_href == EEE0 for e in batch.events)


def test_receive_an_im_step_16_incoming_message() -> None:
    message, conversation = decode("msdocs_ReceiveAnIM_16.json").events
    assert isinstance(message, MessageEvent)
    assert message.link.href == f"{EEE0}/messaging/messages/2"
    assert (message.type, message.status, message.direction) == ("completed", "Success", "Incoming")
    assert message.timestamp == datetime(2013, 11, 7, 0, 41, 10, 271000, tzinfo=UTC)
    assert message.participant_href == f"{EEE0}/participants/lenea@contoso.com"
    assert message.participant_name == "Lene Aaling"
    assert message.plain == DataContent("text/plain", "utf-8", "Hi Tosh\r\n")
    assert message.html is None
    assert message.text == "Hi Tosh"
    assert message.conversation_href == EEE0
    assert isinstance(conversation, ConversationEvent)
    assert conversation.state == "Connected"


def test_receive_an_im_step_10_invitation_update_has_no_accept_link() -> None:
    (invitation,) = decode("msdocs_ReceiveAnIM_10.json").events
    assert isinstance(invitation, MessagingInvitationEvent)
    assert (invitation.type, invitation.state) == ("updated", "Connecting")
    assert invitation.accept_href is None
    assert invitation.message is not None
    assert invitation.message.text == "Hi Tosh\r\n"


def test_send_an_im_step_4_outgoing_invitation() -> None:
    invitation, conversation, local, messaging = decode("msdocs_SendAnIM_04.json").events
    assert isinstance(invitation, MessagingInvitationEvent)
    assert invitation.direction == "Outgoing"
    assert invitation.operation_id == "5028e824-2268-4b14-9e59-1abad65ff393"
    assert invitation.subject == "Task Sample"
    assert invitation.from_uri is None
    assert invitation.from_name == "Tosh Meston"
    assert invitation.from_href == f"{C21A1}/participants/toshm@contoso.com"
    assert invitation.to_href == f"{A102}/people/lenea@contoso.com"
    assert invitation.cancel_href == f"{C21A1}/messaging/terminate"
    assert invitation.accept_href is None
    assert invitation.message is None
    assert invitation.conversation_href == C21A1
    assert isinstance(conversation, ConversationEvent)
    assert (conversation.state, conversation.active_modalities) == ("Connecting", ())
    assert isinstance(local, ParticipantEvent)
    assert local.local is True
    assert isinstance(messaging, MessagingEvent)
    assert messaging.state == "Connecting"
    assert messaging.stop_messaging_href == f"{C21A1}/messaging/terminate"
    assert messaging.send_message_href is None
    assert messaging.negotiated_formats == ()


def test_send_an_im_step_6_accepted() -> None:
    events = decode("msdocs_SendAnIM_06.json").events
    conversation, remote, invitation = events[0], events[1], events[-1]
    assert isinstance(conversation, ConversationEvent)
    assert (conversation.state, conversation.active_modalities) == ("Connected", ("Messaging",))
    assert isinstance(remote, ParticipantEvent)
    assert remote.link.title == ""
    assert (remote.name, remote.local) == (None, False)
    assert isinstance(invitation, MessagingInvitationEvent)
    assert (invitation.status, invitation.state) == ("Success", "Connected")
    assert invitation.accepted_by_uri == "sip:lenea@contoso.com"


def test_send_an_im_step_12_outgoing_message_delivered() -> None:
    (message,) = decode("msdocs_SendAnIM_12.json").events
    assert isinstance(message, MessageEvent)
    assert (message.direction, message.status) == ("Outgoing", "Success")
    assert message.timestamp == datetime(2013, 3, 26, 19, 58, 18, 968000, tzinfo=UTC)
    assert (message.plain, message.html, message.text) == (None, None, None)
    assert message.participant_href is None


def test_real_capture_message_then_typing() -> None:
    message, typing = decode("capture_example_step_10_irl_eventsResource.json").events
    assert isinstance(message, MessageEvent)
    assert message.text == "TUAN"
    assert message.participant_name is None  # the capture's title is ""
    assert message.participant_href == f"{ORANGE_CONV}/participants/foobar@orange.com"
    assert message.timestamp == datetime(2018, 3, 21, 13, 28, 17, 41000, tzinfo=UTC)
    assert isinstance(typing, TypingEvent)
    assert typing.participant_href == f"{ORANGE_CONV}/participants/foobar@orange.com"
    assert typing.participant_name is None
    assert typing.in_ == Link("typingParticipants", f"{ORANGE_CONV}/messaging/typingParticipants")
    assert typing.is_typing is True
    assert typing.conversation_href == ORANGE_CONV


def test_wrapped_send_capture() -> None:
    batch = decode("capture_sendIM_events_thing-1521733099125.json")
    remote, _, pm_local, messaging = batch.events
    assert all(e.conversation_href == SEND_CONV for e in batch.events)
    assert isinstance(remote, ParticipantEvent)
    assert remote.local is False
    assert pm_local.in_ is not None
    assert pm_local.in_.title == "DUNG HOANG Tuan IMT/OLS"
    assert isinstance(messaging, MessagingEvent)
    assert messaging.send_message_href == f"{SEND_CONV}/messaging/messages"
    (sent,) = decode("capture_sendIM_events_thing-1521733100246.json").events
    assert isinstance(sent, MessageEvent)
    assert sent.direction == "Outgoing"
    assert sent.timestamp == datetime(2018, 3, 22, 15, 38, 19, 230000, tzinfo=UTC)


def test_ref_samples_without_embedded_resources_give_empty_fields() -> None:
    (invitation,) = decode("msdocs_messagingInvitation_ref_01.json").events
    assert isinstance(invitation, MessagingInvitationEvent)
    assert invitation.resource is None
    assert invitation.conversation_href is None  # communication sender, nothing embedded
    assert invitation.state is invitation.from_uri is invitation.accept_href is None
    (participant,) = decode("msdocs_participant_ref_03.json").events
    assert isinstance(participant, ParticipantEvent)
    assert (participant.name, participant.uri, participant.local) == (None, None, False)
    assert participant.conversation_href == REF_CONV
    (generic,) = decode("msdocs_communication_ref_01.json").events
    assert generic.conversation_href is None


def test_resource_is_read_only_and_records_are_frozen() -> None:
    (invitation,) = decode("msdocs_ReceiveAnIM_10.json").events
    assert invitation.resource is not None
    with pytest.raises(TypeError):
        invitation.resource["state"] = "Connected"  # type: ignore[index]
    with pytest.raises(AttributeError):
        invitation.type = "completed"  # type: ignore[misc]
    assert hash(invitation) == hash(decode("msdocs_ReceiveAnIM_10.json").events[0])
    assert invitation == decode("msdocs_ReceiveAnIM_10.json").events[0]

"""The decoder on hand-made bodies: empty, resync/resume, unknowns, failures, garbage."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from ucwa_flow.ucwa.dataurl import DataContent, encode_data_url
from ucwa_flow.ucwa.errors import MalformedEventBody, UcwaError
from ucwa_flow.ucwa.events import (
    GenericEvent,
    InvitationEvent,
    Link,
    MessageEvent,
    MessagingInvitationEvent,
    OnlineMeetingInvitationEvent,
    Reason,
    TypingEvent,
    decode_batch,
)

APP = "/ucwa/oauth/v1/applications/7"
COMM = f"{APP}/communication"
CONV = f"{COMM}/conversations/c1"
LINKS = {"self": {"href": f"{APP}/events?ack=3"}, "next": {"href": f"{APP}/events?ack=4"}}


def body(*senders: dict[str, Any], links: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"_links": LINKS if links is None else links, "sender": list(senders)}


def sender(rel: str, href: str, *events: dict[str, Any]) -> dict[str, Any]:
    return {"rel": rel, "href": href, "events": list(events)}


def event(rel: str, href: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"link": {"rel": rel, "href": href}, "type": type_, **extra}


def message(n: int, **links: str) -> dict[str, Any]:
    resource = {
        "rel": "message",
        "direction": "Incoming",
        "timeStamp": "/Date(1521638897041)/",
        "_links": {"self": {"href": f"{CONV}/messaging/messages/{n}"}}
        | {rel: {"href": href} for rel, href in links.items()},
    }
    return event(
        "message",
        f"{CONV}/messaging/messages/{n}",
        "completed",
        status="Success",
        _embedded={"message": resource},
    )


def only_event(raw: dict[str, Any], rel: str = "conversation", href: str = CONV) -> Any:
    (decoded,) = decode_batch(body(sender(rel, href, raw))).events
    return decoded


# --- empty, resync, resume -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"_links": LINKS},
        {"_links": LINKS, "sender": []},
        {"_links": LINKS, "sender": [{"rel": "communication", "href": COMM, "events": []}]},
        {"_links": LINKS, "sender": [{"rel": "communication", "href": COMM}]},
    ],
)
def test_empty_bodies(raw: dict[str, Any]) -> None:
    batch = decode_batch(raw)
    assert batch.is_empty
    assert batch.events == ()
    assert (batch.self_href, batch.next_href) == (f"{APP}/events?ack=3", f"{APP}/events?ack=4")


def test_resync_only_body() -> None:
    batch = decode_batch({"_links": {"resync": {"href": f"{APP}/events?ack=2"}}})
    assert (batch.self_href, batch.next_href, batch.resume_href) == (None, None, None)
    assert batch.resync_href == f"{APP}/events?ack=2"
    assert batch.is_empty


def test_resume_body_with_events() -> None:
    links = {"self": {"href": f"{APP}/events?ack=9"}, "resume": {"href": f"{APP}/events?ack=10"}}
    batch = decode_batch(
        body(sender("me", f"{APP}/me", event("me", f"{APP}/me", "updated")), links=links)
    )
    assert (batch.next_href, batch.resume_href) == (None, f"{APP}/events?ack=10")
    assert not batch.is_empty


# --- ordering ---------------------------------------------------------------------------


def test_repeated_sender_blocks_keep_body_order() -> None:
    other = f"{COMM}/conversations/c2"
    batch = decode_batch(
        body(
            sender("conversation", CONV, message(1), message(2)),
            sender("communication", COMM, event("conversation", other, "added")),
            sender("conversation", CONV, message(3)),
            sender("conversation", other, message(1)),
        )
    )
    assert [(e.sender.href, e.link.href.rsplit("/", 2)[-2:]) for e in batch.events] == [
        (CONV, ["messages", "1"]),
        (CONV, ["messages", "2"]),
        (COMM, ["conversations", "c2"]),
        (CONV, ["messages", "3"]),
        (other, ["messages", "1"]),
    ]
    assert [e.conversation_href for e in batch.events] == [CONV, CONV, other, CONV, other]


# --- generic records --------------------------------------------------------------------


def test_unknown_rel_is_generic_with_all_common_fields() -> None:
    raw = event(
        "holographicPresence",
        f"{APP}/me/holo",
        "updated",
        _embedded={"holographicPresence": {"level": 11}},
        **{"in": {"rel": "me", "href": f"{APP}/me", "title": "Me"}},
    )
    decoded = only_event(raw, "me", f"{APP}/me")
    assert type(decoded) is GenericEvent
    assert decoded.link == Link("holographicPresence", f"{APP}/me/holo")
    assert decoded.in_ == Link("me", f"{APP}/me", "Me")
    assert decoded.resource == {"level": 11}
    assert decoded.conversation_href is None


def test_presence_events_decode_as_generic_records() -> None:
    """``presence`` (me), ``contactPresence`` and ``presenceSubscription`` (people), in the
    shapes of the presence, contactPresence and presenceSubscription reference samples."""
    people = f"{APP}/people"
    contact = f"{people}/lenea@contoso.com"
    raw = body(
        sender("me", f"{APP}/me", event("presence", f"{APP}/me/presence", "updated")),
        sender(
            "people",
            people,
            event("presenceSubscription", f"{people}/presenceSubscriptions/1", "added"),
            event(
                "contactPresence",
                f"{contact}/presence",
                "updated",
                **{"in": {"rel": "contact", "href": contact}},
            ),
            event("presenceSubscription", f"{people}/presenceSubscriptions/1", "deleted"),
        ),
    )
    batch = decode_batch(raw)
    assert [(type(e), e.sender.rel, e.link.rel, e.type) for e in batch.events] == [
        (GenericEvent, "me", "presence", "updated"),
        (GenericEvent, "people", "presenceSubscription", "added"),
        (GenericEvent, "people", "contactPresence", "updated"),
        (GenericEvent, "people", "presenceSubscription", "deleted"),
    ]
    presence = batch.events[2]
    assert presence.in_ == Link("contact", contact)
    assert presence.link.href == f"{contact}/presence"
    assert all(e.conversation_href is None and e.resource is None for e in batch.events)


def test_unknown_type_on_a_known_rel_is_generic() -> None:
    decoded = only_event(message(1) | {"type": "teleported"})
    assert type(decoded) is GenericEvent
    assert decoded.type == "teleported"
    assert decoded.resource is not None
    assert decoded.resource["direction"] == "Incoming"


# --- failures, typing, invitations ------------------------------------------------------


def test_declined_invitation_reason() -> None:
    raw = event(
        "messagingInvitation",
        f"{COMM}/messagingInvitations/abc",
        "completed",
        status="Failure",
        reason={
            "code": "RemoteFailure",
            "subcode": "Declined",
            "message": "Your invitation was declined.",
        },
        _embedded={
            "messagingInvitation": {
                "state": "Failed",
                "direction": "Outgoing",
                "operationId": "op-1",
                "_links": {"conversation": {"href": CONV}},
            }
        },
    )
    decoded = only_event(raw, "communication", COMM)
    assert isinstance(decoded, MessagingInvitationEvent)
    assert decoded.status == "Failure"
    assert decoded.reason == Reason("RemoteFailure", "Declined", "Your invitation was declined.")
    assert (decoded.state, decoded.operation_id) == ("Failed", "op-1")
    assert decoded.conversation_href == CONV


def test_reason_with_code_only() -> None:
    raw = event("messaging", f"{CONV}/messaging", "updated", reason={"code": "Gone"})
    assert only_event(raw).reason == Reason("Gone")


def test_typing_stopped() -> None:
    raw = event(
        "participant",
        f"{CONV}/participants/a@b.c",
        "deleted",
        **{"in": {"rel": "typingParticipants", "href": f"{CONV}/messaging/typingParticipants"}},
    )
    raw["link"]["title"] = "Ann"
    decoded = only_event(raw)
    assert isinstance(decoded, TypingEvent)
    assert (decoded.participant_name, decoded.is_typing) == ("Ann", False)


def test_online_meeting_invitation() -> None:
    raw = event(
        "onlineMeetingInvitation",
        f"{COMM}/onlineMeetingInvitations/9",
        "started",
        _embedded={
            "onlineMeetingInvitation": {
                "direction": "Incoming",
                "state": "Connecting",
                "onlineMeetingUri": "sip:ann@b.c;gruu;opaque=app:conf:focus:id:X",
                "availableModalities": ["Messaging", "Audio"],
                "subject": "Standup",
                "_links": {
                    "accept": {"href": f"{COMM}/onlineMeetingInvitations/9/accept"},
                    "decline": {"href": f"{COMM}/onlineMeetingInvitations/9/decline"},
                    "conversation": {"href": CONV},
                    "message": {"href": encode_data_url("join us")},
                },
                "_embedded": {"from": {"name": "Ann", "uri": "sip:ann@b.c"}},
            }
        },
    )
    decoded = only_event(raw, "communication", COMM)
    assert isinstance(decoded, OnlineMeetingInvitationEvent)
    assert isinstance(decoded, InvitationEvent)
    assert decoded.online_meeting_uri == "sip:ann@b.c;gruu;opaque=app:conf:focus:id:X"
    assert decoded.available_modalities == ("Messaging", "Audio")
    assert (decoded.from_uri, decoded.from_name, decoded.subject) == (
        "sip:ann@b.c",
        "Ann",
        "Standup",
    )
    assert decoded.accept_href == f"{COMM}/onlineMeetingInvitations/9/accept"
    assert decoded.message == DataContent("text/plain", "utf-8", "join us")
    assert decoded.conversation_href == CONV


def test_accepted_by_participant_as_single_object() -> None:
    raw = event(
        "messagingInvitation",
        f"{COMM}/messagingInvitations/1",
        "completed",
        status="Success",
        _embedded={
            "messagingInvitation": {"_embedded": {"acceptedByParticipant": {"uri": "sip:x@y.z"}}}
        },
    )
    assert only_event(raw, "communication", COMM).accepted_by_uri == "sip:x@y.z"


# --- message text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("links", "text"),
    [
        ({"plainMessage": "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a"}, "Hi Tosh"),
        ({"plainMessage": "data:text/plain;charset=utf-8,Hi+Tosh%0D%0A"}, "Hi Tosh"),
        ({"plainMessage": "data:text/plain;charset=utf-8,a+%2b+b"}, "a + b"),
        ({"plainMessage": "data:text/plain;base64,SGkgVG9zaA0K"}, "Hi Tosh"),
        ({"plainMessage": encode_data_url("one\r\ntwo\r\n\r\nthree\r\n")}, "one\ntwo\n\nthree"),
        ({"plainMessage": encode_data_url("Grüße 日本 ✓\r\n")}, "Grüße 日本 ✓"),
        (
            {"htmlMessage": encode_data_url("<p>Gr&uuml;&szlig;e</p><p>日本 ✓</p>", "text/html")},
            "Grüße\n日本 ✓",
        ),
        (
            {
                "plainMessage": encode_data_url("plain wins\r\n"),
                "htmlMessage": encode_data_url("<b>html</b>", "text/html"),
            },
            "plain wins",
        ),
        ({"plainMessage": f"{CONV}/messaging/messages/1/plain"}, None),
        ({}, None),
    ],
)
def test_message_text(links: dict[str, str], text: str | None) -> None:
    decoded = only_event(message(1, **links))
    assert isinstance(decoded, MessageEvent)
    assert decoded.text == text


def test_message_keeps_raw_content() -> None:
    html = '<span style="color:#000">Hi</span>\r\n'
    decoded = only_event(
        message(
            1,
            plainMessage=encode_data_url("Hi\r\n"),
            htmlMessage=encode_data_url(html, "text/html"),
        )
    )
    assert decoded.plain == DataContent("text/plain", "utf-8", "Hi\r\n")
    assert decoded.html == DataContent("text/html", "utf-8", html)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("/Date(1521638897041)/", datetime(2018, 3, 21, 13, 28, 17, 41000, tzinfo=UTC)),
        ("/Date(1521638897041+0100)/", datetime(2018, 3, 21, 13, 28, 17, 41000, tzinfo=UTC)),
        ("/Date(0)/", datetime(1970, 1, 1, tzinfo=UTC)),
        ("/Date(-1000)/", datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2018-03-21T13:28:17Z", None),
        ("/Date(soon)/", None),
        (1521638897041, None),
    ],
)
def test_message_timestamp(stamp: object, expected: datetime | None) -> None:
    raw = message(1)
    raw["_embedded"]["message"]["timeStamp"] = stamp
    assert only_event(raw).timestamp == expected


def test_wrong_types_inside_a_resource_read_as_absent() -> None:
    raw = event(
        "conversation",
        CONV,
        "updated",
        _embedded={
            "conversation": {
                "state": 3,
                "activeModalities": "Messaging",
                "_links": {"messaging": "not-a-link"},
            }
        },
    )
    decoded = only_event(raw, "communication", COMM)
    assert (decoded.state, decoded.active_modalities, decoded.messaging_href) == (None, (), None)


def test_decoder_does_not_modify_the_body() -> None:
    raw = body(sender("conversation", CONV, message(1, plainMessage=encode_data_url("x"))))
    before = copy.deepcopy(raw)
    decode_batch(raw)
    assert raw == before


# --- malformed bodies -------------------------------------------------------------------

GOOD_EVENT = event("participant", f"{CONV}/participants/a@b.c", "added")


def with_event(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(GOOD_EVENT) | changes
    return body(sender("communication", COMM, GOOD_EVENT), sender("conversation", CONV, raw))


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ([], "$"),
        ("events", "$"),
        (None, "$"),
        ({}, "$._links"),
        ({"sender": []}, "$._links"),
        ({"_links": []}, "$._links"),
        ({"_links": {}}, "$._links"),
        ({"_links": {"previous": {"href": "x"}}}, "$._links"),
        ({"_links": {"next": "events?ack=2"}}, "$._links.next"),
        ({"_links": {"next": {"href": ""}}}, "$._links.next"),
        ({"_links": {"self": {"href": 3}}}, "$._links.self"),
        ({"_links": LINKS, "sender": {}}, "$.sender"),
        ({"_links": LINKS, "sender": None}, "$.sender"),
        ({"_links": LINKS, "sender": ["communication"]}, "$.sender[0]"),
        ({"_links": LINKS, "sender": [{"href": COMM, "events": []}]}, "$.sender[0].rel"),
        ({"_links": LINKS, "sender": [{"rel": "me", "events": []}]}, "$.sender[0].href"),
        (
            {"_links": LINKS, "sender": [{"rel": "me", "href": "/me", "events": {}}]},
            "$.sender[0].events",
        ),
        (body(sender("me", "/me", "updated")), "$.sender[0].events[0]"),
        (with_event(link=None), "$.sender[1].events[0].link"),
        (with_event(link={"href": CONV}), "$.sender[1].events[0].link.rel"),
        (with_event(link={"rel": "participant"}), "$.sender[1].events[0].link.href"),
        (
            with_event(link={"rel": "participant", "href": CONV, "title": 7}),
            "$.sender[1].events[0].link.title",
        ),
        (with_event(type=None), "$.sender[1].events[0].type"),
        (with_event(type=["added"]), "$.sender[1].events[0].type"),
        (with_event(status=True), "$.sender[1].events[0].status"),
        (with_event(reason="Declined"), "$.sender[1].events[0].reason"),
        (with_event(reason={"subcode": "Declined"}), "$.sender[1].events[0].reason.code"),
        (with_event(reason={"code": 500}), "$.sender[1].events[0].reason.code"),
        (
            with_event(reason={"code": "X", "message": ["m"]}),
            "$.sender[1].events[0].reason.message",
        ),
        (with_event(**{"in": "typingParticipants"}), "$.sender[1].events[0].in"),
        (with_event(**{"in": {"rel": "typingParticipants"}}), "$.sender[1].events[0].in.href"),
        (with_event(_embedded=[]), "$.sender[1].events[0]._embedded"),
        (
            with_event(_embedded={"participant": ["a"]}),
            "$.sender[1].events[0]._embedded.participant",
        ),
    ],
)
def test_malformed_bodies_raise_with_a_path(raw: object, path: str) -> None:
    with pytest.raises(MalformedEventBody) as caught:
        decode_batch(raw)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"malformed event body at {path}: ")


@pytest.mark.parametrize(
    ("links", "text"),
    [
        ({"plainMessage": "data:text/plain,caf%e9+ok"}, "caf\ufffd ok"),  # not UTF-8
        ({"plainMessage": "data:text/plain,100%+sure"}, "100% sure"),  # a broken escape
        ({"plainMessage": "data:text/plain;charset=x-nope,hi"}, "hi"),  # unknown charset
        ({"plainMessage": "data:text/plain;base64,aGk"}, "hi"),  # base64 without padding
        ({"htmlMessage": "data:text/html;base64,***"}, "***"),
    ],
)
def test_a_damaged_message_url_costs_only_its_own_text(links: dict[str, str], text: str) -> None:
    damaged = message(4, **links)
    fine = message(5, plainMessage=encode_data_url("next one\r\n"))
    batch = decode_batch(body(sender("conversation", CONV, damaged, fine)))
    first, second = batch.events
    assert isinstance(first, MessageEvent)
    content = first.plain or first.html
    assert content is not None
    assert content.lossy
    assert first.text == text
    assert isinstance(second, MessageEvent)
    assert second.text == "next one"  # the rest of the batch is untouched
    assert second.plain is not None
    assert not second.plain.lossy


def test_a_damaged_invitation_message_is_salvaged() -> None:
    raw = event(
        "messagingInvitation",
        f"{COMM}/messagingInvitations/1",
        "started",
        _embedded={
            "messagingInvitation": {"_links": {"message": {"href": "data:text/plain,100%"}}}
        },
    )
    (invitation,) = decode_batch(body(sender("communication", COMM, raw))).events
    assert isinstance(invitation, MessagingInvitationEvent)
    assert invitation.message is not None
    assert invitation.message.text == "100%"
    assert invitation.message.lossy


def test_malformed_event_body_is_a_ucwa_error() -> None:
    with pytest.raises(UcwaError):
        decode_batch({"sender": []})

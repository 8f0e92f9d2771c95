"""The sans-IO event-channel decoder: a parsed P-GET body in, frozen records out.

The UCWA event channel answers each pending GET with a body like::

    {"_links": {"self": {...}, "next": {...}},
     "sender": [{"rel": "conversation", "href": ".../conversations/eee0",
                 "events": [{"link": {"rel": "message", "href": "..."}, "type": "completed",
                             "status": "Success", "_embedded": {"message": {...}}}]}]}

:func:`decode_batch` turns that parsed JSON into an :class:`EventBatch`: the ``self``,
``next``, ``resync`` and ``resume`` hrefs plus a tuple of :class:`Event` records in body
order (sender blocks in order, events in order within each block; a sender that appears
twice yields its events where each block stands). It does no I/O and keeps no state, so
the channel loop, the simulator's tests and the lifecycle machines can all share it.

Records are typed by ``link.rel`` for what an IM bot needs (:class:`MessagingInvitationEvent`,
:class:`OnlineMeetingInvitationEvent`, :class:`ConversationEvent`, :class:`MessagingEvent`,
:class:`MessageEvent`, :class:`ParticipantEvent`, :class:`TypingEvent`); every other rel, and
any event type outside added/updated/deleted/started/completed, becomes a
:class:`GenericEvent`. Typed fields are read from the embedded resource when the server sent
one and are ``None`` when it did not (UCWA often leaves it out; GET ``link.href`` then).

Ownership: ``Event.resource`` is a read-only *view* of the embedded resource in the body you
passed, not a copy (copying would dominate the hot path). Treat the body as handed over to
the decoder and do not mutate it afterwards.

Errors: anything that is not a UCWA event body raises
:class:`~ucwa_flow.ucwa.errors.MalformedEventBody` whose ``path`` says where, e.g.
``$.sender[1].events[0].link.href``. Message text is not structure: a damaged ``data:`` URL
(a bad escape, an unknown charset, bytes that are not text) is salvaged as well as it can be
and marked ``lossy`` on its :class:`~ucwa_flow.ucwa.dataurl.DataContent`, so that one
person's broken client never costs the other events of the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from ucwa_flow.ucwa._event_records import (
    EVENT_TYPES,
    ConversationEvent,
    Event,
    EventBatch,
    GenericEvent,
    InvitationEvent,
    Link,
    MessageEvent,
    MessagingEvent,
    MessagingInvitationEvent,
    OnlineMeetingInvitationEvent,
    ParticipantEvent,
    Reason,
    TypingEvent,
)
from ucwa_flow.ucwa.dataurl import DataContent, salvage_data_url
from ucwa_flow.ucwa.errors import MalformedEventBody

__all__ = [
    "EVENT_TYPES",
    "ConversationEvent",
    "Event",
    "EventBatch",
    "GenericEvent",
    "InvitationEvent",
    "Link",
    "MessageEvent",
    "MessagingEvent",
    "MessagingInvitationEvent",
    "OnlineMeetingInvitationEvent",
    "ParticipantEvent",
    "Reason",
    "TypingEvent",
    "decode_batch",
]

_Json = dict[str, Any]


def decode_batch(body: object) -> EventBatch:
    """Decode one parsed event-channel body into an :class:`EventBatch`.

    Raises :class:`~ucwa_flow.ucwa.errors.MalformedEventBody`, with a JSON-path-like
    ``path``, when ``body`` is not a UCWA event body (see the module docstring). A body
    without ``sender`` and one with ``"sender": []`` both decode to an empty batch.
    """
    if not isinstance(body, dict):
        raise MalformedEventBody(f"expected a JSON object, got {_kind(body)}")
    links = body.get("_links")
    if not isinstance(links, dict):
        raise MalformedEventBody(f"expected an object of links, got {_kind(links)}", "$._links")
    hrefs = [_batch_href(links, rel) for rel in ("self", "next", "resync", "resume")]
    if not any(hrefs):
        raise MalformedEventBody("no self, next, resync or resume link", "$._links")
    senders = body.get("sender", ())
    if not isinstance(senders, list | tuple):
        raise MalformedEventBody(f"expected a list, got {_kind(senders)}", "$.sender")
    events: list[Event] = []
    for i, block in enumerate(senders):
        if not isinstance(block, dict):
            raise MalformedEventBody(f"expected an object, got {_kind(block)}", f"$.sender[{i}]")
        sender = _link(block, f"$.sender[{i}]")
        raw_events = block.get("events", ())
        if not isinstance(raw_events, list | tuple):
            where = f"$.sender[{i}].events"
            raise MalformedEventBody(f"expected a list, got {_kind(raw_events)}", where)
        conversation = sender.href if sender.rel == "conversation" else None
        for j, raw in enumerate(raw_events):
            events.append(_decode_event(raw, sender, conversation, f"$.sender[{i}].events[{j}]"))
    self_href, next_href, resync_href, resume_href = hrefs
    return EventBatch(self_href, next_href, resync_href, resume_href, tuple(events))


def _decode_event(raw: object, sender: Link, conversation: str | None, where: str) -> Event:
    if not isinstance(raw, dict):
        raise MalformedEventBody(f"expected an object, got {_kind(raw)}", where)
    raw_link = raw.get("link")
    if not isinstance(raw_link, dict):
        raise MalformedEventBody(f"expected a link object, got {_kind(raw_link)}", where + ".link")
    link = _link(raw_link, where + ".link")
    type_ = raw.get("type")
    if not isinstance(type_, str):
        raise MalformedEventBody(f"expected a string, got {_kind(type_)}", where + ".type")
    raw_in = raw.get("in")
    in_ = None if raw_in is None else _link(raw_in, where + ".in")
    status = raw.get("status")
    if status is not None and not isinstance(status, str):
        raise MalformedEventBody(f"expected a string, got {_kind(status)}", where + ".status")
    raw_reason = raw.get("reason")
    reason = None if raw_reason is None else _reason(raw_reason, where + ".reason")
    resource = _embedded(raw, link.rel, where)
    if conversation is None:
        if link.rel == "conversation":
            conversation = link.href
        elif resource is not None:
            conversation = _href(resource.get("_links"), "conversation")
    common: dict[str, Any] = {
        "sender": sender,
        "link": link,
        "type": type_,
        "in_": in_,
        "status": status,
        "reason": reason,
        "resource": None if resource is None else MappingProxyType(resource),
        "conversation_href": conversation,
    }
    if type_ not in EVENT_TYPES:
        return GenericEvent(**common)
    if link.rel == "participant" and in_ is not None and in_.rel == "typingParticipants":
        return TypingEvent(
            **common, participant_href=link.href, participant_name=link.title or None
        )
    build = _BUILDERS.get(link.rel)
    if build is None:
        return GenericEvent(**common)
    res: _Json = resource if resource is not None else {}
    res_links = res.get("_links")
    links: _Json = res_links if isinstance(res_links, dict) else {}
    return build(common, res, links)


def _invitation_fields(res: _Json, links: _Json) -> dict[str, Any]:
    embedded_from = _embedded_of(res, "from")
    inviter = embedded_from if isinstance(embedded_from, dict) else {}
    from_link = _first(links.get("from"))
    return {
        "direction": _str(res, "direction"),
        "state": _str(res, "state"),
        "operation_id": _str(res, "operationId"),
        "subject": _str(res, "subject"),
        "importance": _str(res, "importance"),
        "thread_id": _str(res, "threadId"),
        "from_uri": _str(inviter, "uri"),
        "from_name": _str(inviter, "name") or _str(from_link, "title"),
        "from_href": _href(inviter.get("_links"), "self") or _str(from_link, "href"),
        "to_href": _href(links, "to"),
        "accept_href": _href(links, "accept"),
        "decline_href": _href(links, "decline"),
        "cancel_href": _href(links, "cancel"),
        "messaging_href": _href(links, "messaging"),
        "message": _content(links, "message"),
    }


def _messaging_invitation(common: _Json, res: _Json, links: _Json) -> Event:
    accepted = _first(_embedded_of(res, "acceptedByParticipant"))
    return MessagingInvitationEvent(
        **common, **_invitation_fields(res, links), accepted_by_uri=_str(accepted, "uri")
    )


def _online_meeting_invitation(common: _Json, res: _Json, links: _Json) -> Event:
    return OnlineMeetingInvitationEvent(
        **common,
        **_invitation_fields(res, links),
        online_meeting_uri=_str(res, "onlineMeetingUri"),
        available_modalities=_strings(res, "availableModalities"),
    )


def _conversation(common: _Json, res: _Json, links: _Json) -> Event:
    return ConversationEvent(
        **common,
        state=_str(res, "state"),
        subject=_str(res, "subject"),
        thread_id=_str(res, "threadId"),
        importance=_str(res, "importance"),
        active_modalities=_strings(res, "activeModalities"),
        messaging_href=_href(links, "messaging"),
    )


def _messaging(common: _Json, res: _Json, links: _Json) -> Event:
    return MessagingEvent(
        **common,
        state=_str(res, "state"),
        negotiated_formats=_strings(res, "negotiatedMessageFormats"),
        send_message_href=_href(links, "sendMessage"),
        stop_messaging_href=_href(links, "stopMessaging"),
        set_is_typing_href=_href(links, "setIsTyping"),
        add_messaging_href=_href(links, "addMessaging"),
        typing_participants_href=_href(links, "typingParticipants"),
    )


def _message(common: _Json, res: _Json, links: _Json) -> Event:
    participant = _first(links.get("participant"))
    return MessageEvent(
        **common,
        direction=_str(res, "direction"),
        timestamp=_timestamp(res.get("timeStamp")),
        operation_id=_str(res, "operationId"),
        participant_href=_str(participant, "href"),
        participant_name=_str(participant, "title") or None,
        plain=_content(links, "plainMessage"),
        html=_content(links, "htmlMessage"),
    )


def _participant(common: _Json, res: _Json, links: _Json) -> Event:
    link: Link = common["link"]
    local = link.rel == "localParticipant" or res.get("local") is True or "me" in links
    return ParticipantEvent(
        **common,
        name=link.title or _str(res, "name") or None,
        uri=_str(res, "uri"),
        local=local,
    )


_BUILDERS: dict[str, Callable[[_Json, _Json, _Json], Event]] = {
    "messagingInvitation": _messaging_invitation,
    "onlineMeetingInvitation": _online_meeting_invitation,
    "conversation": _conversation,
    "messaging": _messaging,
    "message": _message,
    "participant": _participant,
    "localParticipant": _participant,
}


def _content(links: _Json, rel: str) -> DataContent | None:
    href = _str(_first(links.get(rel)), "href")
    # A plain href (not data:) is a resource to GET, not content; resource still has it.
    if href is None or href[:5].lower() != "data:":
        return None
    # Message text comes from another person's client: a damaged data URL costs that one
    # text some characters (marked lossy), never the rest of the batch.
    return salvage_data_url(href)


def _link(obj: object, where: str) -> Link:
    if not isinstance(obj, dict):
        raise MalformedEventBody(f"expected a link object, got {_kind(obj)}", where)
    rel = obj.get("rel")
    if not isinstance(rel, str) or not rel:
        raise MalformedEventBody(f"expected a non-empty string, got {_kind(rel)}", where + ".rel")
    href = obj.get("href")
    if not isinstance(href, str) or not href:
        raise MalformedEventBody(f"expected a non-empty string, got {_kind(href)}", where + ".href")
    title = obj.get("title")
    if title is not None and not isinstance(title, str):
        raise MalformedEventBody(f"expected a string, got {_kind(title)}", where + ".title")
    return Link(rel, href, title)


def _reason(obj: object, where: str) -> Reason:
    if not isinstance(obj, dict):
        raise MalformedEventBody(f"expected an object, got {_kind(obj)}", where)
    code = obj.get("code")
    if not isinstance(code, str):
        raise MalformedEventBody(f"expected a string, got {_kind(code)}", where + ".code")
    for key in ("subcode", "message"):
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise MalformedEventBody(f"expected a string, got {_kind(value)}", f"{where}.{key}")
    return Reason(code, obj.get("subcode"), obj.get("message"))


def _embedded(raw: _Json, rel: str, where: str) -> _Json | None:
    embedded = raw.get("_embedded")
    if embedded is None:
        return None
    if not isinstance(embedded, dict):
        raise MalformedEventBody(f"expected an object, got {_kind(embedded)}", where + "._embedded")
    resource = embedded.get(rel)
    if resource is None or isinstance(resource, dict):
        return resource
    where = f"{where}._embedded.{rel}"
    raise MalformedEventBody(f"expected an object, got {_kind(resource)}", where)


def _batch_href(links: _Json, rel: str) -> str | None:
    link = links.get(rel)
    if link is None:
        return None
    href = link.get("href") if isinstance(link, dict) else None
    if not isinstance(href, str) or not href:
        raise MalformedEventBody("expected a link with a non-empty href", f"$._links.{rel}")
    return href


def _embedded_of(res: _Json, rel: str) -> object:
    embedded = res.get("_embedded")
    return embedded.get(rel) if isinstance(embedded, dict) else None


def _first(value: object) -> object:
    # A rel that can repeat is always a list in UCWA, even with one element.
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _str(obj: object, key: str) -> str | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _href(links: object, rel: str) -> str | None:
    return _str(_first(links.get(rel)), "href") if isinstance(links, dict) else None


def _strings(obj: _Json, key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _timestamp(value: object) -> datetime | None:
    """Parse the ASP.NET AJAX date ``/Date(1383784870271)/`` (ms since the epoch, UTC)."""
    if not isinstance(value, str) or not value.startswith("/Date(") or not value.endswith(")/"):
        return None
    millis = value[6:-2]
    # An optional "+hhmm" offset describes the writer's zone; the milliseconds are UTC.
    sign = max(millis.rfind("+"), millis.rfind("-"))
    if sign > 0:
        millis = millis[:sign]
    try:
        return _EPOCH + timedelta(milliseconds=int(millis))
    except (ValueError, OverflowError):
        return None


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")

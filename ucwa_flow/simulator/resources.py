"""The JSON of every resource the simulator serves, shaped like the Microsoft samples.

Pure functions from state to dicts: hrefs are relative to the UCWA host
(``/ucwa/oauth/v1/applications/<id>/...``); participants are named by their SIP
address; message text travels as form-style data URLs (``+`` for spaces, lower-case
percent escapes).
"""

from __future__ import annotations

from typing import Any

from ucwa_flow.simulator.config import SimulatorUser
from ucwa_flow.simulator.state import Application, Conversation, Message
from ucwa_flow.ucwa.dataurl import encode_data_url, html_to_text

__all__ = [
    "application",
    "communication",
    "contact",
    "contacts",
    "conversation",
    "conversations",
    "data_url",
    "html_to_text",
    "local_participant",
    "me",
    "message",
    "messaging",
    "messaging_invitation",
    "participant",
    "participant_messaging",
]


def link(href: str, title: str | None = None) -> dict[str, str]:
    out = {"href": href}
    if title is not None:
        out["title"] = title
    return out


def data_url(text: str, content_type: str = "text/plain") -> str:
    """``data:text/plain;charset=utf-8,Hi+Tosh%0d%0a`` for ``"Hi Tosh\\r\\n"``.

    The form-encoding of .NET's ``HttpUtility.UrlEncode``, as real front ends write it.
    """
    return encode_data_url(text, content_type)


# -- application and its embedded resources -------------------------------------------


def me(app: Application) -> dict[str, Any]:
    b = f"{app.base}/me"
    links: dict[str, Any] = {"self": link(b)}
    if app.available:
        links["note"] = link(f"{b}/note")
        links["presence"] = link(f"{b}/presence")
        links["location"] = link(f"{b}/location")
        links["reportMyActivity"] = link(f"{b}/reportMyActivity")
    else:
        links["makeMeAvailable"] = link(f"{b}/makeMeAvailable")
    links["callForwardingSettings"] = link(f"{b}/callForwardingSettings")
    links["phones"] = link(f"{b}/phones")
    links["photo"] = link(f"{app.base}/photos/{app.user.address}")
    return {
        "name": app.user.name,
        "uri": app.user.uri,
        "emailAddresses": [app.user.address],
        "_links": links,
        "rel": "me",
    }


def people(app: Application) -> dict[str, Any]:
    b = f"{app.base}/people"
    names = {
        "presenceSubscriptions": "presenceSubscriptions",
        "subscribedContacts": "subscribedContacts",
        "presenceSubscriptionMemberships": "presenceSubscriptionMemberships",
        "myGroups": "groups",
        "myGroupMemberships": "groupMemberships",
        "myContacts": "contacts",
        "myPrivacyRelationships": "privacyRelationships",
        "myContactsAndGroupsSubscription": "contactsAndGroupsSubscription",
        "search": "search",
    }
    links = {"self": link(b)} | {rel: link(f"{b}/{seg}") for rel, seg in names.items()}
    return {"_links": links, "rel": "people"}


def online_meetings(app: Application) -> dict[str, Any]:
    b = f"{app.base}/onlineMeetings"
    return {
        "_links": {
            "self": link(b),
            "myOnlineMeetings": link(f"{b}/myOnlineMeetings"),
            "onlineMeetingDefaultValues": link(f"{b}/defaultValues"),
            "onlineMeetingEligibleValues": link(f"{b}/eligibleValues"),
            "onlineMeetingPolicies": link(f"{b}/policies"),
        },
        "rel": "onlineMeetings",
    }


def communication(app: Application) -> dict[str, Any]:
    b = f"{app.base}/communication"
    return {
        app.put_marker: "please pass this in a PUT request",
        "supportedModalities": list(app.modalities),
        "supportedMessageFormats": list(app.formats),
        "_links": {
            "self": link(b),
            "conversations": link(f"{b}/conversations?filter=active"),
            "startMessaging": link(f"{b}/messagingInvitations"),
            "startOnlineMeeting": link(f"{b}/onlineMeetingInvitations?onlineMeetingUri=adhoc"),
            "joinOnlineMeeting": link(f"{b}/onlineMeetingInvitations"),
        },
        "rel": "communication",
        "etag": app.etag,
    }


def application(app: Application) -> dict[str, Any]:
    return {
        "culture": app.culture,
        "userAgent": app.user_agent,
        "_links": {
            "self": link(app.base),
            "policies": link(f"{app.base}/policies"),
            "batch": link(f"{app.base}/batch"),
            "events": link(app.channel.href(1)),
        },
        "_embedded": {
            "me": me(app),
            "people": people(app),
            "onlineMeetings": online_meetings(app),
            "communication": communication(app),
        },
        "rel": "application",
    }


def contact(app: Application, user: SimulatorUser) -> dict[str, Any]:
    b = f"{app.base}/people/{user.address}"
    return {
        "uri": user.uri,
        "sourceNetwork": "SameEnterprise",
        "emailAddresses": [user.address],
        "type": "User",
        "name": user.name,
        "_links": {
            "self": link(b),
            "contactPhoto": link(f"{app.base}/photos/{user.address}"),
            "contactPresence": link(f"{b}/presence"),
            "contactLocation": link(f"{b}/location"),
            "contactNote": link(f"{b}/note"),
            "contactSupportedModalities": link(f"{b}/supportedMedia"),
        },
        "rel": "contact",
    }


def contacts(app: Application, users: list[SimulatorUser]) -> dict[str, Any]:
    return {
        "_links": {"self": link(f"{app.base}/people/contacts")},
        "_embedded": {"contact": [contact(app, u) for u in users]},
        "rel": "myContacts",
    }


# -- conversations --------------------------------------------------------------------


def conversations(app: Application) -> dict[str, Any]:
    b = f"{app.base}/communication/conversations"
    live = [link(c.base) for c in app.conversations.values()]
    out: dict[str, Any] = {"_links": {"self": link(f"{b}?filter=active")}, "rel": "conversations"}
    if live:
        out["_links"]["conversation"] = live
    return out


def _participant_href(conv: Conversation, user: SimulatorUser) -> str:
    return f"{conv.base}/participants/{user.address}"


def conversation(conv: Conversation) -> dict[str, Any]:
    chat = conv.chat
    b = conv.base
    links: dict[str, Any] = {
        "self": link(b),
        "applicationSharing": link(f"{b}/applicationSharing"),
        "audioVideo": link(f"{b}/audioVideo"),
        "dataCollaboration": link(f"{b}/dataCollaboration"),
        "messaging": link(f"{b}/messaging"),
        "phoneAudio": link(f"{b}/phoneAudio"),
    }
    if conv.state == "Connected":
        links["localParticipant"] = link(_participant_href(conv, conv.owner), conv.owner.name)
        prefix = conv.app.base if conv.app is not None else "/_sim"
        links["addParticipant"] = link(
            f"{prefix}/communication/participantInvitations?conversation={conv.id}"
        )
    ringing_in = conv.direction == "Incoming" and conv.state == "Incoming"
    active = ["Messaging"] if ringing_in or conv.connected else []
    return {
        "state": conv.state,
        "threadId": chat.thread_id,
        "subject": chat.subject,
        "activeModalities": active,
        "importance": chat.importance,
        "recording": False,
        "_links": links,
        "rel": "conversation",
    }


def messaging(conv: Conversation) -> dict[str, Any]:
    b = f"{conv.base}/messaging"
    links: dict[str, Any] = {"self": link(b), "conversation": link(conv.base)}
    out: dict[str, Any] = {"state": conv.messaging_state}
    if conv.messaging_state == "Connected":
        out["negotiatedMessageFormats"] = list(conv.chat.formats)
        links["stopMessaging"] = link(f"{b}/terminate")
        links["sendMessage"] = link(f"{b}/messages")
        links["setIsTyping"] = link(f"{b}/typing")
        links["typingParticipants"] = link(f"{b}/typingParticipants")
    elif conv.messaging_state == "Connecting":
        links["stopMessaging"] = link(f"{b}/terminate")
    out["_links"] = links
    out["rel"] = "messaging"
    return out


def participant(conv: Conversation, user: SimulatorUser) -> dict[str, Any]:
    """A remote participant of ``conv``."""
    app_base = conv.app.base if conv.app is not None else "/_sim"
    return {
        "sourceNetwork": "SameEnterprise",
        "anonymous": False,
        "name": user.name,
        "uri": user.uri,
        "_links": {
            "self": link(_participant_href(conv, user)),
            "conversation": link(conv.base),
            "contact": link(f"{app_base}/people/{user.address}"),
            "contactPresence": link(f"{app_base}/people/{user.address}/presence"),
            "contactPhoto": link(f"{app_base}/photos/{user.address}"),
        },
        "rel": "participant",
    }


def local_participant(conv: Conversation) -> dict[str, Any]:
    app_base = conv.app.base if conv.app is not None else "/_sim"
    return {
        "sourceNetwork": "SameEnterprise",
        "anonymous": False,
        "name": conv.owner.name,
        "uri": conv.owner.uri,
        "_links": {
            "self": link(_participant_href(conv, conv.owner)),
            "conversation": link(conv.base),
            "me": link(f"{app_base}/me"),
        },
        "rel": "participant",
    }


def participant_link(conv: Conversation, user: SimulatorUser, title: str | None) -> dict[str, str]:
    """An event ``link``/``in`` block naming a participant of ``conv``."""
    return {"rel": "participant"} | link(_participant_href(conv, user), title)


def participant_messaging(conv: Conversation, user: SimulatorUser) -> dict[str, Any]:
    href = _participant_href(conv, user)
    return {
        "_links": {"self": link(f"{href}/messaging"), "participant": link(href, user.name)},
        "rel": "participantMessaging",
    }


def messaging_invitation(conv: Conversation) -> dict[str, Any]:
    """The messagingInvitation resource of ``conv`` (incoming or outgoing)."""
    chat = conv.chat
    app_base = conv.app.base if conv.app is not None else "/_sim"
    self_href = f"{app_base}/communication/messagingInvitations/{conv.invitation_id}"
    out: dict[str, Any] = {
        "direction": conv.direction,
        "importance": chat.importance,
        "threadId": chat.thread_id,
        "state": conv.invitation_state,
    }
    if conv.operation_id is not None:
        out["operationId"] = conv.operation_id
    out["subject"] = chat.subject
    links: dict[str, Any] = {"self": link(self_href)}
    if conv.direction == "Outgoing":
        links["from"] = link(_participant_href(conv, conv.owner), conv.owner.name)
        links["to"] = link(f"{app_base}/people/{conv.remote.address}")
        if conv.invitation_state == "Connecting":
            links["cancel"] = link(f"{conv.base}/messaging/terminate")
        links["conversation"] = link(conv.base)
        links["messaging"] = link(f"{conv.base}/messaging")
    else:
        links["from"] = link(_participant_href(conv, conv.remote), conv.remote.name)
        links["to"] = link(f"{app_base}/people/{conv.owner.address}")
        links["conversation"] = link(conv.base)
        if conv.invitation_state == "Connecting":
            links["accept"] = link(f"{self_href}/accept")
            links["decline"] = link(f"{self_href}/decline")
        links["messaging"] = link(f"{conv.base}/messaging")
        if chat.first_html is not None:
            links["message"] = link(data_url(chat.first_html, "text/html"))
        elif chat.first_text is not None:
            links["message"] = link(data_url(chat.first_text))
    out["_links"] = links
    if conv.direction == "Incoming":
        out["_embedded"] = {"from": participant(conv, conv.remote)}
    elif conv.invitation_state == "Connected":
        accepted = participant(conv, conv.remote)
        accepted["name"] = ""
        out["_embedded"] = {"acceptedByParticipant": [accepted]}
    out["rel"] = "messagingInvitation"
    return out


def message(conv: Conversation, msg: Message, *, body: bool = True) -> dict[str, Any]:
    """The message resource; ``body=False`` leaves out the text links.

    The sender's own ``message`` event embeds the message without its text (only ``self``
    and ``messaging``, as in the SendAnIM sample); a GET of the resource has the text.
    """
    b = f"{conv.base}/messaging/messages/{msg.number}"
    app_base = conv.app.base if conv.app is not None else "/_sim"
    links: dict[str, Any] = {"self": link(b)}
    if msg.direction == "Incoming":
        links["contact"] = link(f"{app_base}/people/{conv.remote.address}")
        links["participant"] = link(_participant_href(conv, conv.remote), conv.remote.name)
    links["messaging"] = link(f"{conv.base}/messaging")
    if body:
        links["plainMessage"] = link(data_url(msg.text))
        if msg.html is not None:
            links["htmlMessage"] = link(data_url(msg.html, "text/html"))
    out: dict[str, Any] = {
        "direction": msg.direction,
        "timeStamp": f"/Date({msg.timestamp_ms})/",
    }
    if msg.operation_id is not None:
        out["operationId"] = msg.operation_id
    out["_links"] = links
    out["rel"] = "message"
    return out

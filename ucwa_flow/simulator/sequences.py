"""The event sequences a UCWA application sees when a chat starts and connects.

Each function pushes, onto one side's event channel, the events ``docs/simulator.md``
documents for that step (taken from the Microsoft "Send an IM" / "Receive an IM" samples and
``ucwa-protocol.md`` sections 6 and 7); the builders shape the individual events. A side
played by a virtual user has no application, and nothing is pushed for it.
"""

from __future__ import annotations

from typing import Any

from ucwa_flow.simulator import resources as res
from ucwa_flow.simulator.eventqueue import Priority
from ucwa_flow.simulator.state import Conversation

__all__ = [
    "callee_connected",
    "caller_connected",
    "conv_link",
    "conversation_event",
    "incoming_offer",
    "invitation_event",
    "invitation_link",
    "local_participant_event",
    "local_pm_event",
    "messaging_event",
    "outgoing_offer",
    "push",
    "remote_pm_event",
]


def outgoing_offer(conv: Conversation) -> None:
    """The caller's side after startMessaging: invitation started, conversation Connecting."""
    if conv.app is None:
        return
    push(conv, "communication", invitation_event(conv, "started"))
    push(conv, "communication", conversation_event(conv, "added"))
    push(conv, "conversation", local_participant_event(conv))
    push(conv, "conversation", messaging_event(conv))


def incoming_offer(conv: Conversation) -> None:
    """The callee's side: invitation started (accept/decline links), conversation Incoming."""
    if conv.app is None:
        return
    push(conv, "communication", invitation_event(conv, "started"))
    push(conv, "communication", conversation_event(conv, "added"))
    push(conv, "conversation", local_participant_event(conv))
    push(
        conv,
        "conversation",
        {"link": res.participant_link(conv, conv.remote, conv.remote.name), "type": "added"},
    )


def callee_connected(conv: Conversation) -> None:
    """The callee's side after accept: messaging Connected, then invitation Success."""
    if conv.app is None:
        return
    remote = res.participant_link(conv, conv.remote, conv.remote.name)
    push(conv, "conversation", messaging_event(conv))
    push(conv, "communication", conversation_event(conv, "updated"))
    push(conv, "conversation", local_pm_event(conv))
    push(conv, "conversation", remote_pm_event(conv, remote))
    push(conv, "conversation", {"link": remote, "type": "updated"})
    event = invitation_event(conv, "completed")
    event["status"] = "Success"
    push(conv, "communication", event)


def caller_connected(conv: Conversation) -> None:
    """The caller's side after the callee accepted (SendAnIM step 6)."""
    if conv.app is None:
        return
    remote = res.participant_link(conv, conv.remote, "")
    push(conv, "communication", conversation_event(conv, "updated"))
    push(conv, "conversation", {"link": remote, "type": "added"})
    push(conv, "conversation", remote_pm_event(conv, remote))
    push(conv, "conversation", local_pm_event(conv))
    push(conv, "conversation", messaging_event(conv))
    event = invitation_event(conv, "completed")
    event["status"] = "Success"
    push(conv, "communication", event)


def invitation_link(conv: Conversation) -> dict[str, str]:
    assert conv.app is not None
    href = f"{conv.app.base}/communication/messagingInvitations/{conv.invitation_id}"
    return {"rel": "messagingInvitation", "href": href}


def conv_link(conv: Conversation) -> dict[str, str]:
    return {"rel": "conversation", "href": conv.base}


def invitation_event(conv: Conversation, kind: str) -> dict[str, Any]:
    return {
        "link": invitation_link(conv),
        "_embedded": {"messagingInvitation": res.messaging_invitation(conv)},
        "type": kind,
    }


def conversation_event(conv: Conversation, kind: str) -> dict[str, Any]:
    return {
        "link": conv_link(conv),
        "_embedded": {"conversation": res.conversation(conv)},
        "type": kind,
    }


def messaging_event(conv: Conversation) -> dict[str, Any]:
    return {
        "link": {"rel": "messaging", "href": f"{conv.base}/messaging"},
        "_embedded": {"messaging": res.messaging(conv)},
        "type": "updated",
    }


def local_participant_event(conv: Conversation) -> dict[str, Any]:
    return {
        "link": {
            "rel": "localParticipant",
            "href": res.participant_link(conv, conv.owner, None)["href"],
            "title": conv.owner.name,
        },
        "_embedded": {"localParticipant": res.local_participant(conv)},
        "type": "added",
    }


def local_pm_event(conv: Conversation) -> dict[str, Any]:
    local = res.participant_link(conv, conv.owner, conv.owner.name)
    return {
        "link": {"rel": "participantMessaging", "href": local["href"] + "/messaging"},
        "in": {"rel": "localParticipant", "href": local["href"], "title": local["title"]},
        "_embedded": {"participantMessaging": res.participant_messaging(conv, conv.owner)},
        "type": "added",
    }


def remote_pm_event(conv: Conversation, remote: dict[str, str]) -> dict[str, Any]:
    return {
        "link": {"rel": "participantMessaging", "href": remote["href"] + "/messaging"},
        "in": {"rel": "participant", **remote},
        "type": "added",
    }


def push(conv: Conversation, sender: str, event: dict[str, Any]) -> None:
    """Queue ``event`` from ``sender`` (conversation or communication) for ``conv``'s app."""
    app = conv.app
    if app is None:
        return
    href = conv.base if sender == "conversation" else f"{app.base}/communication"
    app.channel.push(sender, href, event, Priority.HIGH)

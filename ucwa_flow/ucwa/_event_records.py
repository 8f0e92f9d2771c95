"""The record types of the event-channel decoder (public through :mod:`ucwa_flow.ucwa.events`).

Frozen, slotted dataclasses: a base :class:`Event` with what every event has, typed
subclasses for the rels an IM bot acts on, :class:`GenericEvent` for everything else, and
:class:`EventBatch` for one whole body. Import them from ``ucwa_flow.ucwa.events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ucwa_flow.ucwa.dataurl import DataContent, html_to_text, strip_line_ending

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
]

EVENT_TYPES = frozenset({"added", "updated", "deleted", "started", "completed"})
"""The event types UCWA documents; any other type decodes to a :class:`GenericEvent`."""


@dataclass(frozen=True, slots=True)
class Link:
    """A UCWA link: the ``rel`` of the target, its ``href`` and an optional ``title``."""

    rel: str
    href: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an operation failed or the server changed something: ``{code, subcode, message}``.

    For example a declined invitation: ``Reason("RemoteFailure", "Declined",
    "Your invitation was declined.")``.
    """

    code: str
    subcode: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One event from the channel; the fields every event has.

    ``sender`` is the sender block's ``rel``/``href``; ``link`` the resource the event is
    about; ``type`` the raw type string (``added``, ``updated``, ``deleted``, ``started``,
    ``completed`` or whatever else a server sent); ``in_`` the owning collection when there
    is one (``typingParticipants``, ``localParticipant``...); ``status`` ``"Success"`` or
    ``"Failure"`` on completed operations; ``reason`` the failure reason; ``resource`` a
    read-only view of the embedded resource for ``link.rel``, when present.

    ``conversation_href`` is the conversation the event belongs to, whoever sent it: the
    sender href for ``conversation`` senders, ``link.href`` for a ``conversation`` event,
    else the embedded resource's ``_links.conversation`` (e.g. a messagingInvitation from
    the ``communication`` sender), else ``None``.
    """

    sender: Link
    link: Link
    type: str
    in_: Link | None = None
    status: str | None = None
    reason: Reason | None = None
    resource: Mapping[str, Any] | None = field(default=None, hash=False, repr=False)
    conversation_href: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericEvent(Event):
    """An event the decoder has no typed record for (``me``, ``presence``, unknown rels/types)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitationEvent(Event):
    """Fields shared by messaging and online-meeting invitations (an operation resource).

    ``from_uri``/``from_name`` come from ``_embedded.from`` (incoming invitations); for an
    outgoing one ``from_name`` is the title of ``_links.from``. ``from_href`` is the inviting
    participant. ``message`` is the first message carried by the invitation
    (``_links.message``), decoded; it usually arrives again later as a message event.
    """

    direction: str | None = None
    state: str | None = None
    operation_id: str | None = None
    subject: str | None = None
    importance: str | None = None
    thread_id: str | None = None
    from_uri: str | None = None
    from_name: str | None = None
    from_href: str | None = None
    to_href: str | None = None
    accept_href: str | None = None
    decline_href: str | None = None
    cancel_href: str | None = None
    messaging_href: str | None = None
    message: DataContent | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagingInvitationEvent(InvitationEvent):
    """``messagingInvitation``: a peer-to-peer IM invitation, incoming or outgoing.

    ``accepted_by_uri`` is the SIP URI from ``_embedded.acceptedByParticipant`` on a
    successful outgoing invitation.
    """

    accepted_by_uri: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineMeetingInvitationEvent(InvitationEvent):
    """``onlineMeetingInvitation``: an invitation to a multi-party conversation."""

    online_meeting_uri: str | None = None
    available_modalities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationEvent(Event):
    """``conversation``: state changes of a conversation (Incoming, Connected...)."""

    state: str | None = None
    subject: str | None = None
    thread_id: str | None = None
    importance: str | None = None
    active_modalities: tuple[str, ...] = ()
    messaging_href: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagingEvent(Event):
    """``messaging``: the IM modality of a conversation and the operations it offers now."""

    state: str | None = None
    negotiated_formats: tuple[str, ...] = ()
    send_message_href: str | None = None
    stop_messaging_href: str | None = None
    set_is_typing_href: str | None = None
    add_messaging_href: str | None = None
    typing_participants_href: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageEvent(Event):
    """``message``: an IM sent or received. Delivery result is the event-level ``status``.

    ``plain``/``html`` are the decoded ``plainMessage``/``htmlMessage`` data URLs (raw
    text, ``\\r\\n`` included); :attr:`text` is what a bot wants to match on.
    """

    direction: str | None = None
    timestamp: datetime | None = None
    operation_id: str | None = None
    participant_href: str | None = None
    participant_name: str | None = None
    plain: DataContent | None = None
    html: DataContent | None = None

    @property
    def text(self) -> str | None:
        """The message as plain text, or ``None`` when the event carries none.

        The plain part if present, else the HTML part rendered by ``html_to_text``;
        ``\\r\\n`` becomes ``\\n``, trailing line breaks are stripped, inner ones kept.
        """
        if self.plain is not None:
            return strip_line_ending(self.plain.text)
        if self.html is not None:
            return strip_line_ending(html_to_text(self.html.text))
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipantEvent(Event):
    """``participant`` / ``localParticipant`` joining, changing or leaving a conversation."""

    name: str | None = None
    uri: str | None = None
    local: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TypingEvent(Event):
    """A participant in ``typingParticipants``: ``added`` = typing, ``deleted`` = stopped."""

    participant_href: str
    participant_name: str | None = None

    @property
    def is_typing(self) -> bool:
        """True when the participant started typing, False when they stopped."""
        return self.type != "deleted"


@dataclass(frozen=True, slots=True)
class EventBatch:
    """One decoded event-channel body.

    ``next_href`` is the link to follow (it also acknowledges this batch). A body that holds
    only ``resync_href`` means the ack was out of range; ``resume_href`` instead of ``next``
    means transient state was reset. Both are followed like ``next``.
    """

    self_href: str | None
    next_href: str | None
    resync_href: str | None
    resume_href: str | None
    events: tuple[Event, ...]

    @property
    def is_empty(self) -> bool:
        """True when the body carried no events (a long-poll timeout, a resync-only body)."""
        return not self.events

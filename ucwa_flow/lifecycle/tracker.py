"""Decoded records in, lifecycle changes out: the bridge between the wire and the flows.

:class:`LifecycleTracker` keeps one :class:`Conversation` per conversation href and feeds each
record to the lifecycle machine it concerns (conversation, messaging invitation or messaging
modality). What the machines did comes back as a list of *changes*, small frozen records the
runtime hands to the flow interpreter:

==========================  ==============================================================
change                      when
==========================  ==============================================================
:class:`InvitationReceived` an incoming messaging invitation started
:class:`InvitationSent`     an outgoing messaging invitation started (it is ringing)
:class:`InvitationEnded`    an invitation (either direction) completed, with its outcome
:class:`ConversationState`  the conversation entered a new state
:class:`MessagingState`     the IM modality entered a new state (Connected: can send)
:class:`MessageReceived`    the remote side sent a message
:class:`MessageDelivery`    a message we sent was delivered, or was not (with its operation id)
:class:`TypingChanged`      the remote side started or stopped typing
:class:`ConversationEnded`  the conversation reached Disconnected (sent once)
==========================  ==============================================================

It is sans-IO and synchronous: no awaiting, no clock. Records that do not fit a machine's state
are logged and skipped (see :meth:`SharedMachine.fire`); records about nothing we track (me,
presence, communication) give no change. A conversation is tracked from its first invitation
or live conversation record; later news of one never seen (or already forgotten) is ignored.

The invitation's first message arrives twice on real servers: in the invitation, then (after
accept) as the conversation's first incoming message event. The tracker reports it once, in
:class:`InvitationReceived`, and drops the first incoming message event when its text is the
same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ucwa_flow._fastinit import builder
from ucwa_flow.lifecycle import conversation as conv_lc
from ucwa_flow.lifecycle import invitation as inv_lc
from ucwa_flow.lifecycle import messaging as msg_lc
from ucwa_flow.lifecycle.conversation import ConversationLifecycle
from ucwa_flow.lifecycle.invitation import InvitationLifecycle, Outcome
from ucwa_flow.lifecycle.messaging import MessagingLifecycle
from ucwa_flow.ucwa.dataurl import html_to_text, strip_line_ending
from ucwa_flow.ucwa.events import (
    ConversationEvent,
    Event,
    MessageEvent,
    MessagingEvent,
    MessagingInvitationEvent,
    Reason,
    TypingEvent,
)

__all__ = [
    "Change",
    "Conversation",
    "ConversationEnded",
    "ConversationState",
    "InvitationEnded",
    "InvitationReceived",
    "InvitationSent",
    "LifecycleTracker",
    "MessageDelivery",
    "MessageReceived",
    "MessagingState",
    "TypingChanged",
]


@dataclass(frozen=True, slots=True)
class InvitationReceived:
    conversation: str
    invitation: str
    from_uri: str | None
    from_name: str | None
    subject: str | None
    text: str | None
    accept_href: str | None
    decline_href: str | None


@dataclass(frozen=True, slots=True)
class InvitationSent:
    conversation: str
    invitation: str
    operation_id: str | None
    cancel_href: str | None


@dataclass(frozen=True, slots=True)
class InvitationEnded:
    conversation: str
    invitation: str
    direction: str | None
    operation_id: str | None
    outcome: Outcome
    reason: Reason | None


@dataclass(frozen=True, slots=True)
class ConversationState:
    conversation: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class MessagingState:
    conversation: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class MessageReceived:
    conversation: str
    message: str
    text: str | None
    html: str | None
    sender_name: str | None


@dataclass(frozen=True, slots=True)
class MessageDelivery:
    """A message we sent was delivered (``delivered``) or was not (``reason`` says why).

    ``operation_id`` is the message's ``operationId``, which servers echo from the
    ``OperationContext`` of sendMessage (the simulator does; the SendAnIM sample's event
    has none, so it may be ``None``): with it, "the message with OperationContext X was
    sent in conversation C" can be read from the event channel, e.g. after a restart.
    """

    conversation: str
    message: str
    delivered: bool
    reason: Reason | None
    operation_id: str | None = None


@dataclass(frozen=True, slots=True)
class TypingChanged:
    conversation: str
    participant: str
    typing: bool


@dataclass(frozen=True, slots=True)
class ConversationEnded:
    conversation: str


Change = (
    InvitationReceived
    | InvitationSent
    | InvitationEnded
    | ConversationState
    | MessagingState
    | MessageReceived
    | MessageDelivery
    | TypingChanged
    | ConversationEnded
)


_received = builder(MessageReceived)  # one per message: made quicker


class Conversation:
    """What the tracker knows of one conversation: its lifecycle models and latest links."""

    __slots__ = (
        "ended",
        "first_text",
        "href",
        "invitations",
        "last_incoming",
        "lifecycle",
        "messaging",
        "remote_name",
        "remote_uri",
        "subject",
    )

    def __init__(self, href: str) -> None:
        self.href = href
        self.lifecycle = ConversationLifecycle(href)
        self.messaging = MessagingLifecycle(href)
        self.invitations: dict[str, InvitationLifecycle] = {}
        self.remote_uri: str | None = None
        self.remote_name: str | None = None
        self.first_text: str | None = None
        #: the conversation's subject, as its invitation or a conversation event gave it
        self.subject: str | None = None
        self.last_incoming: str | None = None
        self.ended = False


class LifecycleTracker:
    """Applies decoded records to the three shared lifecycle machines."""

    def __init__(self) -> None:
        self.conversation_machine = conv_lc.conversation_machine()
        self.invitation_machine = inv_lc.invitation_machine()
        self.messaging_machine = msg_lc.messaging_machine()
        self._conversations: dict[str, Conversation] = {}

    def __len__(self) -> int:
        return len(self._conversations)

    def __iter__(self) -> Iterator[Conversation]:
        return iter(list(self._conversations.values()))

    def get(self, href: str) -> Conversation | None:
        """The tracked conversation with this href, if any."""
        return self._conversations.get(href)

    def apply(self, record: Event) -> list[Change]:
        """Feed one record to the machines; return what changed (often nothing)."""
        href = record.conversation_href
        if href is None:
            return []
        conv = self._conversations.get(href)
        if conv is None:
            if not _begins_conversation(record):
                return []  # news of a conversation we never saw, or already forgot
            conv = self._track(href)
        # the most frequent kinds first (the record types are disjoint)
        if isinstance(record, MessageEvent):
            return self._message(conv, record)
        if isinstance(record, ConversationEvent):
            if record.state == conv.lifecycle.state and record.type != "deleted":
                # the state it is already in (the usual case): what _conversation does
                # then, a call less
                if record.subject:
                    conv.subject = record.subject
                return []
            return self._conversation(conv, record)
        if isinstance(record, MessagingEvent):
            return self._messaging(conv, record)
        if isinstance(record, MessagingInvitationEvent):
            return self._invitation(conv, record)
        if isinstance(record, TypingEvent) and record.type in ("added", "deleted"):
            return [TypingChanged(href, record.participant_href, record.is_typing)]
        return []

    def restore(self, conv: Conversation) -> Conversation:
        """Track ``conv`` again, in the states it carries (after a restart).

        ``conv`` comes from :func:`~ucwa_flow.lifecycle.persist.load_conversation`; a
        conversation tracked under the same href is replaced. Records about it are then
        applied as if this tracker had followed it from the start.
        """
        self.forget(conv.href)
        states = conv.lifecycle.state, conv.messaging.state
        self.conversation_machine.add_model(conv.lifecycle)  # sets the initial state
        self.messaging_machine.add_model(conv.messaging)
        conv.lifecycle.state, conv.messaging.state = states
        for inv in conv.invitations.values():
            state = inv.state
            self.invitation_machine.add_model(inv)
            inv.state = state
        self._conversations[conv.href] = conv
        return conv

    def forget(self, href: str) -> None:
        """Stop tracking a conversation and release its models from the machines."""
        conv = self._conversations.pop(href, None)
        if conv is None:
            return
        self.conversation_machine.remove_model(conv.lifecycle)
        self.messaging_machine.remove_model(conv.messaging)
        for inv in conv.invitations.values():
            self.invitation_machine.remove_model(inv)

    def forget_all(self) -> list[str]:
        """Forget every conversation (the server lost them); returns their hrefs."""
        hrefs = list(self._conversations)
        for href in hrefs:
            self.forget(href)
        return hrefs

    # -- one method per record kind -------------------------------------------------------

    def _track(self, href: str) -> Conversation:
        conv = Conversation(href)
        self.conversation_machine.add_model(conv.lifecycle)
        self.messaging_machine.add_model(conv.messaging)
        self._conversations[href] = conv
        return conv

    def _invitation(self, conv: Conversation, rec: MessagingInvitationEvent) -> list[Change]:
        inv = conv.invitations.get(rec.link.href)
        if inv is None:
            inv = InvitationLifecycle(rec.link.href, rec.direction)
            self.invitation_machine.add_model(inv)
            conv.invitations[rec.link.href] = inv
        if rec.from_uri and rec.direction == "Incoming":
            conv.remote_uri, conv.remote_name = rec.from_uri, rec.from_name
        if rec.subject:
            conv.subject = rec.subject
        trigger = inv_lc.trigger_for(rec)
        old = inv.state
        if trigger is None or not self.invitation_machine.fire(inv, trigger, reason=rec.reason):
            return []
        if inv.state == old:
            return []
        if inv.state == "Connecting" and rec.direction == "Incoming":
            text = _invitation_text(rec)
            conv.first_text = text
            return [
                InvitationReceived(
                    conv.href,
                    inv.href,
                    rec.from_uri,
                    rec.from_name,
                    rec.subject,
                    text,
                    rec.accept_href,
                    rec.decline_href,
                )
            ]
        if inv.state == "Connecting":
            return [InvitationSent(conv.href, inv.href, rec.operation_id, rec.cancel_href)]
        if inv.state in ("Connected", "Failed"):
            assert inv.outcome is not None
            return [
                InvitationEnded(
                    conv.href, inv.href, inv.direction, rec.operation_id, inv.outcome, inv.reason
                )
            ]
        return []

    def _conversation(self, conv: Conversation, rec: ConversationEvent) -> list[Change]:
        if rec.subject:
            conv.subject = rec.subject
        old = conv.lifecycle.state
        if rec.state == old and rec.type != "deleted":
            return []  # the state it is already in (the usual case): no trigger to look up
        trigger = conv_lc.trigger_for(rec)
        if trigger is None or conv_lc.REPORTED[trigger] == old:
            return []  # nothing reported, or the state it is already in (links changed)
        if not self.conversation_machine.fire(conv.lifecycle, trigger):
            return []
        new = conv.lifecycle.state
        if new == old:
            return []
        changes: list[Change] = [ConversationState(conv.href, old, new)]
        if new == "Disconnected" and not conv.ended:
            conv.ended = True
            changes.append(ConversationEnded(conv.href))
        return changes

    def _messaging(self, conv: Conversation, rec: MessagingEvent) -> list[Change]:
        model = conv.messaging
        if rec.resource is not None:  # links come and go with the state
            model.send_message_href = rec.send_message_href
            model.stop_messaging_href = rec.stop_messaging_href
            model.set_is_typing_href = rec.set_is_typing_href
            model.formats = rec.negotiated_formats or model.formats
        trigger = msg_lc.trigger_for(rec)
        old = model.state
        if trigger is None or msg_lc.REPORTED[trigger] == old:
            return []
        if not self.messaging_machine.fire(model, trigger):
            return []
        return [MessagingState(conv.href, old, model.state)] if model.state != old else []

    def _message(self, conv: Conversation, rec: MessageEvent) -> list[Change]:
        if rec.direction == "Outgoing":
            if rec.type != "completed":
                return []
            delivered = rec.status == "Success"
            return [
                MessageDelivery(conv.href, rec.link.href, delivered, rec.reason, rec.operation_id)
            ]
        if rec.direction != "Incoming" or rec.type not in ("completed", "started"):
            return []
        plain = rec.plain  # what rec.text gives, a call less for a plain part
        text = strip_line_ending(plain.text) if plain is not None else rec.text
        if text is None:
            return []  # a "started" with no body yet: its "completed" will carry the text
        if rec.link.href == conv.last_incoming:
            return []  # "started" then "completed" for one message: report it once
        first = conv.last_incoming is None
        conv.last_incoming = rec.link.href
        if first and conv.first_text is not None and text == conv.first_text:
            return []  # the invitation's first message, delivered again
        html = rec.html.text if rec.html is not None else None
        return [_received(conv.href, rec.link.href, text, html, rec.participant_name)]


def _begins_conversation(record: Event) -> bool:
    if isinstance(record, MessagingInvitationEvent):
        return record.type in ("started", "updated") or record.status == "Success"
    if isinstance(record, ConversationEvent):
        return record.type != "deleted" and record.state not in (None, "Disconnected")
    return False


def _invitation_text(rec: MessagingInvitationEvent) -> str | None:
    if rec.message is None:
        return None
    body = rec.message.text
    if rec.message.mime == "text/html":
        body = html_to_text(body)
    return strip_line_ending(body)

"""IM routing: invitations, accept/decline/no answer, messages, typing, hang-up.

The :class:`Router` joins two sides of a :class:`~ucwa_flow.simulator.state.Chat`.
For a side that is a UCWA application it emits the event sequences documented in
``docs/simulator.md`` (taken from the Microsoft samples and ``ucwa-protocol.md``
sections 6 and 7); for a side played by a virtual user it calls that user's
:class:`~ucwa_flow.simulator.state.Observer` hooks instead. Either way the real UCWA
client on the other end sees the same events.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from ucwa_flow.clock import Clock
from ucwa_flow.simulator import resources as res
from ucwa_flow.simulator import sequences as seq
from ucwa_flow.simulator.config import SimulatorConfig, SimulatorUser
from ucwa_flow.simulator.state import Application, Chat, Conversation, Message, Observer, Reason

__all__ = ["REASONS", "Router"]

#: Failure reasons the simulator emits. Only ``declined`` is confirmed by a capture; the
#: others are the simulator's assumptions (see docs/simulator.md).
REASONS: dict[str, Reason] = {
    "declined": Reason("RemoteFailure", "Declined", "Your invitation was declined."),
    "declined_here": Reason("LocalFailure", "Declined", "The invitation was declined."),
    "declined_elsewhere": Reason(
        "RemoteFailure", "Declined", "The invitation was declined on another device."
    ),
    "no_answer": Reason("RemoteFailure", "Timeout", "The invitation was not answered in time."),
    "missed": Reason("RemoteFailure", "Missed", "The invitation was not answered in time."),
    "unavailable": Reason(
        "RemoteFailure",
        "TemporarilyUnavailable",
        "The person you are trying to reach is not available.",
    ),
    "not_found": Reason(
        "RemoteFailure", "DestinationNotFound", "The person you are trying to reach was not found."
    ),
    "canceled_here": Reason("LocalFailure", "Canceled", "The invitation was canceled."),
    "canceled": Reason("RemoteFailure", "Canceled", "The invitation was canceled by the sender."),
    "elsewhere": Reason(
        "RemoteFailure", "ConnectedElsewhere", "The invitation was accepted on another device."
    ),
    "undeliverable": Reason("RemoteFailure", "Unreachable", "The message could not be delivered."),
}


class Router:
    """Routes chats between applications and virtual users.

    ``endpoints`` returns, for a user, the applications that take IM invitations and the
    observer of a virtual user (or ``None``); ``lookup`` resolves a SIP URI to a user.
    """

    def __init__(
        self,
        clock: Clock,
        config: SimulatorConfig,
        lookup: Callable[[str], SimulatorUser | None],
        endpoints: Callable[[SimulatorUser], tuple[list[Application], Observer | None]],
        new_id: Callable[[], str],
    ) -> None:
        self._clock = clock
        self._config = config
        self._lookup = lookup
        self._endpoints = endpoints
        self._new_id = new_id
        self._chat_ids = 0
        self.live_chats: dict[int, Chat] = {}

    # -- starting ---------------------------------------------------------------------

    def start(
        self,
        caller: SimulatorUser,
        to: str,
        *,
        app: Application | None = None,
        observer: Observer | None = None,
        subject: str = "",
        importance: str = "Normal",
        operation_id: str | None = None,
        first_text: str | None = None,
        first_html: str | None = None,
    ) -> Conversation:
        """Start an outgoing chat from ``app`` (or a virtual user) to ``to``."""
        self._chat_ids += 1
        chat = Chat(
            id=self._chat_ids,
            thread_id=secrets.token_hex(16),
            subject=subject,
            importance=importance,
            first_text=first_text if first_html is None else res.html_to_text(first_html),
            first_html=first_html,
        )
        callee_user = self._lookup(to)
        remote = callee_user or SimulatorUser(to if to.startswith("sip:") else "sip:" + to, "")
        conv = self._new_side(chat, caller, remote, "Outgoing", app, observer)
        conv.operation_id = operation_id
        chat.caller = conv
        self.live_chats[chat.id] = chat
        seq.outgoing_offer(conv)
        if callee_user is None:
            self._fail_chat(chat, caller_reason=REASONS["not_found"])
            return conv
        apps, vu = self._endpoints(callee_user)
        apps = [a for a in apps if a is not app]
        if not apps and vu is None:
            self._fail_chat(chat, caller_reason=REASONS["unavailable"])
            return conv
        formats = set(app.formats if app is not None else ["Plain", "Html"])
        callee_formats: set[str] = set()
        for target in apps:
            callee_formats |= set(target.formats)
            side = self._new_side(chat, callee_user, caller, "Incoming", target, None)
            chat.callees.append(side)
            seq.incoming_offer(side)
        if vu is not None:
            callee_formats |= {"Plain", "Html"}
            side = self._new_side(chat, callee_user, caller, "Incoming", None, vu)
            chat.callees.append(side)
        chat.formats = [f for f in ("Plain", "Html") if f in formats & callee_formats] or ["Plain"]
        chat.timer = self._clock.call_later(self._config.invitation_timeout, self._no_answer, chat)
        for side in list(chat.callees):
            if side.observer is not None and chat.state == "ringing":
                side.observer.on_invited(side)
        return conv

    def _new_side(
        self,
        chat: Chat,
        owner: SimulatorUser,
        remote: SimulatorUser,
        direction: str,
        app: Application | None,
        observer: Observer | None,
    ) -> Conversation:
        conv = Conversation(
            id=self._new_id(),
            chat=chat,
            owner=owner,
            remote=remote,
            direction=direction,
            invitation_id=secrets.token_hex(16),
            app=app,
            observer=observer,
            state="Connecting" if direction == "Outgoing" else "Incoming",
        )
        if app is not None:
            app.conversations[conv.id] = conv
            app.invitations[conv.invitation_id] = conv
        return conv

    # -- answering --------------------------------------------------------------------

    def accept(self, conv: Conversation) -> None:
        """The callee side ``conv`` accepts; the chat connects."""
        chat = conv.chat
        if chat.timer is not None:
            chat.timer.cancel()
            chat.timer = None
        chat.state = "connected"
        chat.callee = conv
        for other in chat.callees:
            if other is not conv:
                self._fail_side(other, REASONS["elsewhere"])
        chat.callees = [conv]
        caller = chat.caller
        assert caller is not None
        for side in (conv, caller):
            side.state = side.messaging_state = side.invitation_state = "Connected"
        seq.callee_connected(conv)
        seq.caller_connected(caller)
        for side in (conv, caller):
            if side.observer is not None:
                side.observer.on_connected(side)
        if self._config.redeliver_first_message and chat.first_text is not None:
            self._deliver(
                conv, chat.first_text, chat.first_html if "Html" in chat.formats else None
            )

    def decline(self, conv: Conversation, everywhere: bool = True) -> None:
        """The callee side ``conv`` declines (``Local`` when ``everywhere`` is false)."""
        chat = conv.chat
        ringing = [c for c in chat.callees if c is not conv]
        if not everywhere and ringing:
            chat.callees = ringing
            self._fail_side(conv, REASONS["declined_here"])
            return
        self._fail_side(conv, REASONS["declined_here"])
        chat.callees = ringing
        self._fail_chat(
            chat, caller_reason=REASONS["declined"], callee_reason=REASONS["declined_elsewhere"]
        )

    def withdraw(self, conv: Conversation) -> None:
        """A ringing callee endpoint disappears (application deleted or expired)."""
        chat = conv.chat
        chat.callees = [c for c in chat.callees if c is not conv]
        self._fail_side(conv, REASONS["canceled"], emit=False)
        if not chat.callees and chat.state == "ringing":
            self._fail_chat(chat, caller_reason=REASONS["unavailable"])

    def _no_answer(self, chat: Chat) -> None:
        chat.timer = None
        if chat.state == "ringing":
            self._fail_chat(
                chat, caller_reason=REASONS["no_answer"], callee_reason=REASONS["missed"]
            )

    # -- connected chats --------------------------------------------------------------

    def send(
        self,
        conv: Conversation,
        text: str,
        html: str | None = None,
        operation_id: str | None = None,
    ) -> Message:
        """``conv``'s owner sends a message; both sides get message completed events."""
        chat = conv.chat
        plain = res.html_to_text(html) if html is not None else text
        msg = Message(conv.next_number(), "Outgoing", plain, html, self._now_ms(), operation_id)
        conv.messages[msg.number] = msg
        peer = chat.other(conv)
        delivered = chat.state == "connected" and peer is not None
        self._stop_typing(conv)
        if conv.app is not None:
            event: dict[str, Any] = {
                "link": {"rel": "message", "href": f"{conv.base}/messaging/messages/{msg.number}"},
                "status": "Success" if delivered else "Failure",
                "_embedded": {"message": res.message(conv, msg, body=False)},
                "type": "completed",
            }
            if not delivered:
                event["reason"] = REASONS["undeliverable"].as_json()
            seq.push(conv, "conversation", event)
        if delivered and peer is not None:
            self._deliver(peer, plain, html if "Html" in chat.formats else None)
        return msg

    def _deliver(self, conv: Conversation, text: str, html: str | None) -> None:
        msg = Message(conv.next_number(), "Incoming", text, html, self._now_ms())
        conv.messages[msg.number] = msg
        if conv.observer is not None:
            conv.observer.on_message(conv, msg)
            return
        seq.push(
            conv,
            "conversation",
            {
                "link": {"rel": "message", "href": f"{conv.base}/messaging/messages/{msg.number}"},
                "status": "Success",
                "_embedded": {"message": res.message(conv, msg)},
                "type": "completed",
            },
        )

    def typing(self, conv: Conversation) -> None:
        """``conv``'s owner is typing for the next ``typing_expiry`` seconds."""
        peer = conv.chat.other(conv)
        if conv.chat.state != "connected" or peer is None:
            return
        if conv.typing_timer is not None:
            conv.typing_timer.cancel()
        else:
            self._typing_event(peer, "added")
        conv.typing_timer = self._clock.call_later(
            self._config.typing_expiry, self._stop_typing, conv
        )

    def _stop_typing(self, conv: Conversation) -> None:
        if conv.typing_timer is None:
            return
        conv.typing_timer.cancel()
        conv.typing_timer = None
        peer = conv.chat.other(conv)
        if peer is not None and conv.chat.state == "connected":
            self._typing_event(peer, "deleted")

    def _typing_event(self, peer: Conversation, kind: str) -> None:
        if peer.observer is not None:
            peer.observer.on_typing(peer, kind == "added")
            return
        seq.push(
            peer,
            "conversation",
            {
                "link": {
                    "rel": "participant",
                    "href": f"{peer.base}/participants/{peer.remote.address}",
                    "title": peer.remote.name,
                },
                "in": {
                    "rel": "typingParticipants",
                    "href": f"{peer.base}/messaging/typingParticipants",
                },
                "type": kind,
            },
        )

    def stop(self, conv: Conversation) -> None:
        """stopMessaging, DELETE conversation or hang-up by ``conv``'s owner."""
        chat = conv.chat
        if chat.state == "ringing":
            if conv is chat.caller:
                self._fail_chat(
                    chat,
                    caller_reason=REASONS["canceled_here"],
                    callee_reason=REASONS["canceled"],
                )
            else:
                self.decline(conv, everywhere=False)
            return
        if chat.state != "connected":
            self._forget(conv)
            return
        chat.state = "ended"
        self.live_chats.pop(chat.id, None)
        peer = chat.other(conv)
        self._disconnect_side(conv, remote_left=False)
        if peer is not None:
            self._disconnect_side(peer, remote_left=True)

    def end_application(self, app: Application) -> None:
        """Tear down every conversation of ``app`` (deleted or expired)."""
        for conv in list(app.conversations.values()):
            chat = conv.chat
            if chat.state == "ringing" and conv is not chat.caller:
                self.withdraw(conv)
            else:
                self.stop(conv)
        app.conversations.clear()
        app.invitations.clear()

    # -- endings ----------------------------------------------------------------------

    def _fail_chat(
        self, chat: Chat, caller_reason: Reason, callee_reason: Reason | None = None
    ) -> None:
        if chat.timer is not None:
            chat.timer.cancel()
            chat.timer = None
        chat.state = "ended"
        self.live_chats.pop(chat.id, None)
        for side in chat.callees:
            self._fail_side(side, callee_reason or REASONS["canceled"])
        chat.callees = []
        if chat.caller is not None:
            self._fail_side(chat.caller, caller_reason)

    def _fail_side(self, conv: Conversation, reason: Reason, emit: bool = True) -> None:
        conv.invitation_state = "Failed"
        conv.state = conv.messaging_state = "Disconnected"
        if conv.observer is not None:
            conv.observer.on_failed(conv, reason)
        elif emit:
            seq.push(
                conv,
                "communication",
                {
                    "link": seq.invitation_link(conv),
                    "status": "Failure",
                    "reason": reason.as_json(),
                    "_embedded": {"messagingInvitation": res.messaging_invitation(conv)},
                    "type": "completed",
                },
            )
            seq.push(conv, "conversation", seq.messaging_event(conv))
            seq.push(conv, "communication", {"link": seq.conv_link(conv), "type": "deleted"})
        self._forget(conv)

    def _disconnect_side(self, conv: Conversation, remote_left: bool) -> None:
        if conv.typing_timer is not None:
            conv.typing_timer.cancel()
            conv.typing_timer = None
        conv.state = conv.messaging_state = "Disconnected"
        if conv.observer is not None:
            conv.observer.on_ended(conv)
        else:
            if remote_left:
                seq.push(
                    conv,
                    "conversation",
                    {
                        "link": res.participant_link(conv, conv.remote, conv.remote.name),
                        "type": "deleted",
                    },
                )
            seq.push(conv, "conversation", seq.messaging_event(conv))
            seq.push(
                conv,
                "communication",
                {
                    "link": seq.conv_link(conv),
                    "_embedded": {"conversation": res.conversation(conv)},
                    "type": "updated",
                },
            )
            seq.push(conv, "communication", {"link": seq.conv_link(conv), "type": "deleted"})
        self._forget(conv)

    def _forget(self, conv: Conversation) -> None:
        if conv.app is not None:
            conv.app.conversations.pop(conv.id, None)
            conv.app.invitations.pop(conv.invitation_id, None)

    def _now_ms(self) -> int:
        return int(self._clock.now().timestamp() * 1000)

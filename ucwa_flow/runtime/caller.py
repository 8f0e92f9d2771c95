"""A person's side of a chat: a real UCWA client that follows its own conversation.

Two places need a person who talks to a bot through the real protocol: ``ucwa-flow run``
on the embedded simulator (the person at the terminal) and the conversation-test runner
(the caller, an agent the bot invites, the people an outbound flow calls). :class:`Caller`
is that person's client. It signs in, reads its own event channel and follows its one
conversation with the same :class:`~ucwa_flow.lifecycle.LifecycleTracker` the bot uses, so
it needs no protocol knowledge of its own.

Acting:

* :meth:`Caller.invite` starts a chat with the bot (startMessaging, the text as the first
  message); :meth:`Caller.say` sends a message in it, waiting while it is still being set
  up; :meth:`Caller.chat` is one line typed at a chat window: the first line starts the
  chat, later ones are said;
* :meth:`Caller.accept` and :meth:`Caller.decline` answer the bot's invitation. With
  ``auto_accept`` (the default, what ``ucwa-flow run`` wants) an invitation is accepted as
  soon as it arrives; a test runner turns it off to let its script answer;
* :meth:`Caller.hang_up` leaves the conversation.

Observing: :attr:`Caller.heard` lists what the person saw, in order, as :class:`Heard`
items: the bot's messages (an invitation's first message included) and, last, the end of
the conversation; :meth:`Caller.wait_heard` waits for more. :attr:`Caller.ended` says why
the conversation ended, if it did. The counters ``sent``, ``received`` (messages in the
conversation) and ``events`` (event-channel records) tell a runner when all is quiet.

A step the person cannot take raises :class:`CallerError`, which says why in words.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Literal

from ucwa_flow.clock import Clock
from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.lifecycle import (
    ConversationEnded,
    InvitationEnded,
    InvitationReceived,
    LifecycleTracker,
    MessageReceived,
    MessagingState,
    Outcome,
)
from ucwa_flow.ucwa import EventChannel, UcwaClient
from ucwa_flow.ucwa.events import EventBatch

__all__ = ["Caller", "CallerError", "Heard"]


class CallerError(UcwaFlowError):
    """The person cannot do what was asked (no conversation, no invitation ...); says why."""


@dataclass(frozen=True, slots=True)
class Heard:
    """Something the caller saw: a message (``text``) or the end (``ended`` with why)."""

    text: str | None = None
    ended: str | None = None


class Caller:
    """A person's UCWA client chatting with ``bot`` (a SIP URI); see the module docstring.

    ``clock`` times the event channel. ``auto_accept`` accepts the bot's invitation as it
    arrives; without it :meth:`accept` or :meth:`decline` must answer. ``keep_alive``, in
    seconds, reports activity on the client's clock so that long (virtual) waits keep the
    application; ``None`` sends none. ``formats`` are the message formats the person's
    makeMeAvailable offers: a terminal that shows text offers ``("Plain",)``, so that a flow's
    ``text:`` part reaches it rather than the server's tag-stripped copy of the HTML. The
    client stays open after :meth:`aclose`: whoever made it closes it.
    """

    def __init__(
        self,
        client: UcwaClient,
        bot: str,
        *,
        clock: Clock,
        auto_accept: bool = True,
        keep_alive: float | None = None,
        formats: tuple[str, ...] = ("Plain", "Html"),
    ) -> None:
        self.client = client
        self.formats = formats
        self.bot = bot
        self.clock = clock
        self.auto_accept = auto_accept
        self.keep_alive = keep_alive
        self.heard: list[Heard] = []
        self.sent = 0
        self.received = 0  # messages received in the conversation (invitation texts aside)
        self.events = 0  # event-channel records seen
        self.ended: str | None = None
        self._tracker = LifecycleTracker()
        self._operation: str | None = None  # the operation id of our own startMessaging
        self._conversation: str | None = None
        self._invitation: InvitationReceived | None = None
        self._answer: Literal["accept", "decline"] | None = None
        self._hung_up = False
        self._connected = asyncio.Event()  # messaging connected once, or the chat ended
        self._invited = asyncio.Event()
        self._news = asyncio.Event()  # replaced after each item heard
        self._channel: EventChannel | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def uri(self) -> str:
        """The person's SIP address."""
        return self.client.user

    @property
    def channel(self) -> EventChannel | None:
        """The person's event channel, once :meth:`start` has run."""
        return self._channel

    @property
    def invited(self) -> bool:
        """The bot has invited this person (answered or not)."""
        return self._invitation is not None

    @property
    def texts(self) -> list[str]:
        """The text of every message heard, in order (an invitation's first one included)."""
        return [item.text for item in self.heard if item.text is not None]

    # -- lifetime -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Sign in, make the person available for IM and start reading events."""
        await self.client.sign_in()
        await self.client.make_me_available(self.formats)
        if self.keep_alive is not None:
            self._tasks.append(self.client.start_keep_alive(self.keep_alive))
        self._channel = EventChannel(self.client, clock=self.clock)
        self._tasks.append(asyncio.create_task(self._read()))

    async def aclose(self) -> None:
        """Stop reading events and delete the application (signs the person out)."""
        if self._channel is not None:
            await self._channel.aclose()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(UcwaFlowError, OSError):
            await self.client.delete_application()

    # -- acting -------------------------------------------------------------------------------

    async def invite(self, text: str | None, *, subject: str = "") -> None:
        """Start a chat with the bot, ``text`` being the invitation's first message and
        ``subject`` the conversation's subject."""
        if self._conversation is not None or self._operation is not None:
            raise CallerError(f"{self.uri} is already in a conversation with the bot")
        self._operation = uuid.uuid4().hex
        if text is not None:
            self.sent += 1
        await self.client.start_messaging(
            self.bot, message=text, subject=subject, operation_id=self._operation
        )

    async def say(self, text: str) -> None:
        """Send a message in the conversation, once it is connected if it is on its way."""
        joining = self._operation is not None or self._answer == "accept"
        if joining and self.ended is None:
            await self._connected.wait()
        conv = self._tracker.get(self._conversation or "")
        href = conv.messaging.send_message_href if conv is not None else None
        if self.ended is not None:
            raise CallerError(f"{self.uri} cannot send {text!r}: {self.ended}")
        if href is None or conv is None or conv.messaging.state != "Connected":
            raise CallerError(
                f"{self.uri} cannot send {text!r}: no conversation with the bot is connected"
            )
        self.sent += 1
        await self.client.send_message(href, text)

    async def chat(self, text: str, *, subject: str = "") -> None:
        """Send one line as typed at a chat window (what ``ucwa-flow run`` does).

        The first line starts the chat (with ``subject``), unless the bot has invited the
        person; later lines are said in it.
        """
        if self._operation is None and self._invitation is None and self.ended is None:
            await self.invite(text, subject=subject)
        else:
            await self.say(text)

    async def accept(self) -> None:
        """Accept the bot's invitation."""
        href = self._pending("accept").accept_href
        assert href is not None  # _pending checked it
        self._answer = "accept"
        await self.client.accept(href)

    async def decline(self) -> None:
        """Decline the bot's invitation."""
        href = self._pending("decline").decline_href
        if href is None:
            raise CallerError(f"{self.uri} cannot decline: the invitation has no decline link")
        self._answer = "decline"
        await self.client.decline(href)

    async def hang_up(self) -> None:
        """Leave the conversation."""
        if self._conversation is None or self.ended is not None:
            raise CallerError(f"{self.uri} has no conversation to hang up")
        self._hung_up = True
        await self.client.leave(self._conversation)

    def _pending(self, what: str) -> InvitationReceived:
        invitation = self._invitation
        if invitation is None or self._answer is not None or invitation.accept_href is None:
            raise CallerError(f"{self.uri} cannot {what}: the bot has not invited them")
        if self.ended is not None:
            raise CallerError(f"{self.uri} cannot {what}: {self.ended}")
        return invitation

    async def _accept_now(self, href: str) -> None:
        try:
            await self.client.accept(href)
        except UcwaFlowError as exc:
            self._end(f"{self.uri} could not accept the bot's invitation: {exc}")

    # -- observing ----------------------------------------------------------------------------

    async def wait_invited(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for the bot to invite the person."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._invited.wait(), timeout)
        return self._invited.is_set()

    async def wait_heard(self, count: int) -> Heard:
        """Wait until ``count`` items have been heard; returns the ``count``-th of them."""
        while len(self.heard) < count:
            await self._news.wait()
        return self.heard[count - 1]

    async def _read(self) -> None:
        assert self._channel is not None
        try:
            async for item in self._channel:
                if isinstance(item, EventBatch):
                    for record in item.events:
                        self.events += 1
                        for change in self._tracker.apply(record):
                            self._on(change)
                elif self._conversation is not None or self._operation is not None:
                    self._end("the server lost the conversation")
        except UcwaFlowError as exc:
            self._end(f"the event channel of {self.uri} failed: {exc}")

    def _on(self, change: object) -> None:
        if isinstance(change, InvitationReceived):
            if self._conversation is None:
                self._invited_to(change)
        elif isinstance(change, MessagingState):
            if change.new == "Connected" and self._conversation in (None, change.conversation):
                self._conversation = change.conversation
                self._connected.set()
        elif isinstance(change, MessageReceived):
            if change.conversation == self._conversation:
                self.received += 1
                self._hear(Heard(text=change.text or ""))
        elif isinstance(change, InvitationEnded):
            if self._operation is not None and change.operation_id == self._operation:
                self._conversation = change.conversation
                if change.outcome is not Outcome.ACCEPTED:
                    self._end(f"the bot did not take the chat ({change.outcome.value})")
            elif change.conversation == self._conversation and change.outcome != Outcome.ACCEPTED:
                self._end(f"the bot's invitation ended ({change.outcome.value})")
        elif isinstance(change, ConversationEnded) and change.conversation == self._conversation:
            self._end("they hung up" if self._hung_up else "the bot ended the conversation")

    def _invited_to(self, invitation: InvitationReceived) -> None:
        self._conversation = invitation.conversation
        self._invitation = invitation
        self._invited.set()
        if invitation.text:
            self._hear(Heard(text=invitation.text))
        if self.auto_accept and invitation.accept_href:
            self._answer = "accept"
            self._tasks.append(asyncio.create_task(self._accept_now(invitation.accept_href)))

    def _hear(self, item: Heard) -> None:
        self.heard.append(item)
        self._news.set()
        self._news = asyncio.Event()

    def _end(self, why: str) -> None:
        if self.ended is None:
            self.ended = why
            self._connected.set()
            self._hear(Heard(ended=why))

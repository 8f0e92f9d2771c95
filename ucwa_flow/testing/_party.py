"""A person in a conversation test: a real UCWA client that the script drives.

Every person a script names (the caller, an agent the bot invites, the people an outbound
flow calls) signs in to the simulator through the real protocol and reads its own event
channel, exactly like the bot does. Unlike :class:`ucwa_flow.runtime.Caller` it never
answers an invitation by itself: the script says whether the person accepts, declines or
does not answer.

What the person saw is kept in order: :attr:`Party.heard` holds the bot's messages (the
text of an invitation's first message included), :attr:`Party.ended` why the conversation
ended, if it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

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

__all__ = ["Party", "StepError"]

_KEEP_ALIVE = 120.0  # reportMyActivity interval, so that long waits keep the application


class StepError(UcwaFlowError):
    """A step could not be performed; the message says why, for the test report."""


class Party:
    """One signed-in person; ``uri`` is their SIP address, ``bot`` the bot's."""

    def __init__(self, client: UcwaClient, uri: str, bot: str, *, clock: Clock) -> None:
        self.client = client
        self.uri = uri
        self.bot = bot
        self.clock = clock
        self.heard: list[str] = []
        self.sent = 0
        self.ended: str | None = None
        self.events = 0  # event-channel records seen; a progress counter for settling
        self.messages = 0  # messages received in the conversation (invitation texts aside)
        self._tracker = LifecycleTracker()
        self._operation: str | None = None
        self._conversation: str | None = None
        self._invitation: InvitationReceived | None = None
        self._answered = False
        self._channel: EventChannel | None = None
        self._reader: asyncio.Task[None] | None = None
        self._keep_alive: asyncio.Task[None] | None = None

    # -- lifetime -------------------------------------------------------------------------

    async def start(self) -> None:
        """Sign in, make the person available for IM and start reading events."""
        await self.client.sign_in()
        await self.client.make_me_available()
        self._keep_alive = self.client.start_keep_alive(_KEEP_ALIVE)
        self._channel = EventChannel(self.client, clock=self.clock)
        self._reader = asyncio.create_task(self._read())

    async def aclose(self) -> None:
        """Stop reading, delete the application and close the client."""
        for task in (self._keep_alive, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._channel is not None:
            await self._channel.aclose()
        with contextlib.suppress(UcwaFlowError, OSError):
            await self.client.delete_application()
        await self.client.aclose()

    # -- acting ---------------------------------------------------------------------------

    async def invite(self, text: str | None) -> None:
        """Start a chat with the bot, ``text`` being the invitation's first message."""
        if self._conversation is not None or self._operation is not None:
            raise StepError(f"{self.uri} is already in a conversation with the bot")
        self._operation = uuid.uuid4().hex
        if text is not None:
            self.sent += 1
        await self.client.start_messaging(self.bot, message=text, operation_id=self._operation)

    async def say(self, text: str) -> None:
        """Send a message in the connected conversation."""
        conv = self._tracker.get(self._conversation or "")
        href = conv.messaging.send_message_href if conv is not None else None
        if self.ended is not None:
            raise StepError(f"{self.uri} cannot send {text!r}: {self.ended}")
        if href is None or conv is None or conv.messaging.state != "Connected":
            raise StepError(
                f"{self.uri} cannot send {text!r}: no conversation with the bot is connected"
            )
        self.sent += 1
        await self.client.send_message(href, text)

    async def accept(self) -> None:
        """Accept the bot's invitation."""
        invitation = self._pending("accept")
        assert invitation.accept_href is not None
        self._answered = True
        await self.client.accept(invitation.accept_href)

    async def decline(self) -> None:
        """Decline the bot's invitation."""
        invitation = self._pending("decline")
        assert invitation.decline_href is not None
        self._answered = True
        await self.client.decline(invitation.decline_href)

    async def hang_up(self) -> None:
        """Leave the conversation."""
        if self._conversation is None or self.ended is not None:
            raise StepError(f"{self.uri} has no conversation to hang up")
        await self.client.leave(self._conversation)

    def _pending(self, what: str) -> InvitationReceived:
        invitation = self._invitation
        if invitation is None or self._answered or invitation.accept_href is None:
            raise StepError(f"{self.uri} cannot {what}: the bot has not invited them")
        if self.ended is not None:
            raise StepError(f"{self.uri} cannot {what}: {self.ended}")
        return invitation

    # -- observing ------------------------------------------------------------------------

    @property
    def invited(self) -> bool:
        """The bot has invited this person (answered or not)."""
        return self._invitation is not None

    async def _read(self) -> None:
        assert self._channel is not None
        try:
            async for item in self._channel:
                if not isinstance(item, EventBatch):
                    self._end("the server lost the conversation")
                    continue
                for record in item.events:
                    self.events += 1
                    for change in self._tracker.apply(record):
                        self._on(change)
        except UcwaFlowError as exc:
            self._end(f"the event channel of {self.uri} failed: {exc}")

    def _on(self, change: object) -> None:
        if isinstance(change, InvitationReceived):
            if self._conversation is None:
                self._conversation = change.conversation
                self._invitation = change
                if change.text:
                    self.heard.append(change.text)
        elif isinstance(change, MessagingState):
            if change.new == "Connected" and self._conversation is None:
                self._conversation = change.conversation
        elif isinstance(change, MessageReceived):
            if change.conversation == self._conversation:
                self.messages += 1
                self.heard.append(change.text or "")
        elif isinstance(change, InvitationEnded):
            if change.operation_id == self._operation and self._operation is not None:
                self._conversation = change.conversation
                if change.outcome is not Outcome.ACCEPTED:
                    self._end(f"the bot did not take the chat ({change.outcome.value})")
            elif change.conversation == self._conversation and change.outcome != Outcome.ACCEPTED:
                self._end(f"the bot's invitation ended ({change.outcome.value})")
        elif isinstance(change, ConversationEnded) and change.conversation == self._conversation:
            self._end("the conversation ended")

    def _end(self, why: str) -> None:
        if self.ended is None:
            self.ended = why

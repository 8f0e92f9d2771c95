"""The caller's side of a chat: a person talking to a bot through a real UCWA client.

``ucwa-flow run`` without ``--server`` signs a caller in on the embedded simulator and lets
the person at the terminal chat with the bot through it. :class:`Caller` is that person's
client: the first line starts the conversation (startMessaging with the text as first
message), later lines are sent on the conversation's ``sendMessage`` link, and what the bot
says arrives as :class:`Heard` items on :attr:`Caller.heard`.

It follows its own conversation with the same :class:`~ucwa_flow.lifecycle.LifecycleTracker`
the bot uses, so it needs no protocol knowledge of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass

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

__all__ = ["Caller", "Heard"]


@dataclass(frozen=True, slots=True)
class Heard:
    """Something the caller saw: a message (``text``) or the end (``ended`` with why)."""

    text: str | None = None
    ended: str | None = None


class Caller:
    """A person's UCWA client chatting with ``bot`` (a SIP URI)."""

    def __init__(self, client: UcwaClient, bot: str, *, clock: Clock) -> None:
        self.client = client
        self.bot = bot
        self.clock = clock
        self.heard: asyncio.Queue[Heard] = asyncio.Queue()
        self.sent = 0
        self.received = 0
        self.ended: str | None = None
        self._tracker = LifecycleTracker()
        self._operation: str | None = None
        self._conversation: str | None = None
        self._connected = asyncio.Event()
        self._invited = asyncio.Event()
        self._channel: EventChannel | None = None
        self._task: asyncio.Task[None] | None = None
        self._accepting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Sign in and start reading the event channel."""
        await self.client.sign_in()
        await self.client.make_me_available()
        self._channel = EventChannel(self.client, clock=self.clock)
        self._task = asyncio.create_task(self._read())

    async def say(self, text: str) -> None:
        """Send one line: the first starts the conversation, later ones are messages."""
        if self.ended is not None:
            raise UcwaFlowError(f"the conversation has ended ({self.ended})")
        self.sent += 1
        if self._operation is None and not self._invited.is_set():
            self._operation = uuid.uuid4().hex
            await self.client.start_messaging(self.bot, message=text, operation_id=self._operation)
            return
        await self._connected.wait()
        conv = self._tracker.get(self._conversation or "")
        href = conv.messaging.send_message_href if conv is not None else None
        if href is None:
            raise UcwaFlowError("the conversation can no longer take messages")
        await self.client.send_message(href, text)

    async def wait_invited(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for the bot to invite the caller."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._invited.wait(), timeout)
        return self._invited.is_set()

    async def hang_up(self) -> None:
        """Leave the conversation, if there is one."""
        conv = self._tracker.get(self._conversation or "")
        if conv is not None and self.ended is None:
            with contextlib.suppress(UcwaFlowError):
                await self.client.leave(conv.href)

    async def aclose(self) -> None:
        """Stop reading events and sign out."""
        if self._channel is not None:
            await self._channel.aclose()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.client.delete_application()

    async def _read(self) -> None:
        assert self._channel is not None
        try:
            async for item in self._channel:
                if isinstance(item, EventBatch):
                    for record in item.events:
                        for change in self._tracker.apply(record):
                            self._on(change)
                elif self._conversation is not None:
                    self._end("the server lost the conversation")
        except UcwaFlowError as exc:
            self._end(f"the caller's event channel failed: {exc}")

    def _on(self, change: object) -> None:
        if isinstance(change, InvitationReceived) and self._conversation is None:
            self._conversation = change.conversation
            self._invited.set()
            if change.text:
                self.heard.put_nowait(Heard(text=change.text))
            if change.accept_href:
                self._accepting = asyncio.create_task(self.client.accept(change.accept_href))
        elif isinstance(change, MessagingState) and change.new == "Connected":
            self._conversation = change.conversation
            self._connected.set()
        elif isinstance(change, MessageReceived) and change.conversation == self._conversation:
            self.received += 1
            self.heard.put_nowait(Heard(text=change.text or ""))
        elif isinstance(change, InvitationEnded) and change.operation_id == self._operation:
            self._conversation = change.conversation
            if change.outcome is not Outcome.ACCEPTED:
                self._end(f"the bot did not take the chat ({change.outcome.value})")
        elif isinstance(change, ConversationEnded) and change.conversation == self._conversation:
            self._end("the bot ended the conversation")

    def _end(self, why: str) -> None:
        if self.ended is None:
            self.ended = why
            self._connected.set()
            self.heard.put_nowait(Heard(ended=why))

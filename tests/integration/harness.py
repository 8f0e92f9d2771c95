"""End-to-end harness: real UcwaClients and EventChannels against the simulator on loopback.

A :class:`Party` is one signed-in identity (``sip:toshm@contoso.com`` as the bot,
``sip:lenea@contoso.com`` as a second real client). It consumes its event channel in a
task and keeps every event and channel record, so a test can wait for "the next event
like this" in the order it cares about, without losing any that arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from tests.guards import WAIT
from ucwa_flow.clock import Clock
from ucwa_flow.ucwa import ConversationsLost, EventChannel, UcwaClient
from ucwa_flow.ucwa.events import (
    ConversationEvent,
    Event,
    EventBatch,
    MessageEvent,
    MessagingEvent,
    MessagingInvitationEvent,
)

PASSWORD = "pass@word1"
TOSH = "sip:toshm@contoso.com"
LENE = "sip:lenea@contoso.com"


class Party:
    """One real client: sign-in, makeMeAvailable, and an event channel being read."""

    def __init__(
        self,
        user: str,
        base_url: str,
        *,
        channel_clock: Clock | None = None,
        trusted_hosts: tuple[str, ...] = (),
    ) -> None:
        self.user = user
        self.client = UcwaClient(user, PASSWORD, server_url=base_url, trusted_hosts=trusted_hosts)
        self._channel_clock = channel_clock
        self.channel: EventChannel | None = None
        self.events: list[Event] = []
        self.records: list[ConversationsLost] = []
        self.error: BaseException | None = None
        self._taken: set[int] = set()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Party:
        await self.client.sign_in()
        await self.client.make_me_available()
        self.channel = EventChannel(
            self.client, backoff=0.01, max_backoff=0.05, clock=self._channel_clock
        )
        self._task = asyncio.create_task(self._consume())
        return self

    async def stop(self) -> None:
        if self.channel is not None:
            await self.channel.aclose()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()

    async def _consume(self) -> None:
        assert self.channel is not None
        try:
            async for item in self.channel:
                async with self._changed:
                    if isinstance(item, EventBatch):
                        self.events.extend(item.events)
                    else:
                        self.records.append(item)
                    self._changed.notify_all()
        except Exception as exc:
            async with self._changed:
                self.error = exc
                self._changed.notify_all()

    async def expect(self, what: str, predicate: Callable[[Event], bool]) -> Any:
        """The first event not returned before that satisfies ``predicate`` (waits for it)."""
        found: list[int] = []

        def ready() -> bool:
            if self.error is not None:
                return True
            for i, event in enumerate(self.events):
                if i not in self._taken and predicate(event):
                    found.append(i)
                    return True
            return False

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(ready), WAIT)
            except TimeoutError:
                seen = "\n  ".join(repr(e) for e in self.events)
                raise AssertionError(f"{self.user} never got {what}; events:\n  {seen}") from None
        if self.error is not None and not found:
            raise AssertionError(f"{self.user}'s channel failed: {self.error!r}")
        self._taken.add(found[0])
        return self.events[found[0]]

    async def expect_record(self, reason: str) -> ConversationsLost:
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: any(r.reason == reason for r in self.records)),
                    WAIT,
                )
            except TimeoutError:
                raise AssertionError(
                    f"{self.user} never got ConversationsLost({reason!r})"
                ) from None
        return next(r for r in self.records if r.reason == reason)

    # -- common expectations --------------------------------------------------------------

    async def invitation(self, kind: str, direction: str) -> MessagingInvitationEvent:
        return await self.expect(
            f"messagingInvitation {kind} ({direction})",
            lambda e: (
                isinstance(e, MessagingInvitationEvent)
                and e.type == kind
                and e.direction in (direction, None)
            ),
        )

    async def connected(self) -> MessagingEvent:
        return await self.expect(
            "messaging Connected with a sendMessage link",
            lambda e: (
                isinstance(e, MessagingEvent)
                and e.state == "Connected"
                and e.send_message_href is not None
            ),
        )

    async def message(self, text: str, direction: str = "Incoming") -> MessageEvent:
        return await self.expect(
            f"{direction} message {text!r}",
            lambda e: (
                isinstance(e, MessageEvent)
                and e.direction == direction
                and e.type == "completed"
                and (e.text or "").strip() == text
            ),
        )

    async def delivery(self, message_href: str) -> MessageEvent:
        """The ``message`` completed event of a message this party sent (by its href)."""
        return await self.expect(
            f"the delivery of {message_href}",
            lambda e: (
                isinstance(e, MessageEvent)
                and e.direction == "Outgoing"
                and e.type == "completed"
                and self.client.absolute(e.link.href) == self.client.absolute(message_href)
            ),
        )

    async def ended(self) -> Event:
        return await self.expect(
            "the end of the conversation",
            lambda e: (
                (isinstance(e, MessagingEvent) and e.state == "Disconnected")
                or (
                    isinstance(e, ConversationEvent)
                    and (e.type == "deleted" or e.state == "Disconnected")
                )
            ),
        )

    def texts(self, direction: str = "Incoming") -> list[str]:
        return [
            (e.text or "").strip()
            for e in self.events
            if isinstance(e, MessageEvent) and e.direction == direction and e.type == "completed"
        ]

"""The port: everything the interpreter may ask of the UCWA side, and nothing more.

The flow interpreter never sees HTTP. It asks a :class:`Port` to accept or decline an
invitation, send a message, show typing, stop messaging or start an outbound conversation,
always naming the link the server handed out (links are followed, never built). The
engine also reads through it what the server still has after the event channel lost track
(:mod:`ucwa_flow.runtime.rebuild`). The one production implementation is
:class:`UcwaPort`, over a signed-in :class:`~ucwa_flow.ucwa.UcwaClient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa.active import active_conversations, messaging_now
from ucwa_flow.ucwa.events import MessagingEvent

__all__ = ["Port", "UcwaPort"]

# flow importance -> UCWA Importance
_IMPORTANCE = {"normal": "Normal", "high": "Urgent"}


class Port(Protocol):
    """What the interpreter can do on the UCWA side."""

    async def accept(self, accept_href: str) -> None:
        """Accept an incoming invitation."""

    async def decline(self, decline_href: str) -> None:
        """Decline an incoming invitation."""

    async def send_message(
        self,
        send_message_href: str,
        text: str,
        html: str | None,
        *,
        operation_context: str | None = None,
    ) -> str:
        """Send a message (HTML when given, else text); returns the message href.

        ``operation_context`` goes on the request (``OperationContext``): the server names
        it on the message's events, so a restarted bot can tell the message went out."""

    async def set_typing(self, set_is_typing_href: str) -> None:
        """Show the typing indicator for a few seconds."""

    async def stop_messaging(self, stop_messaging_href: str) -> None:
        """End the IM modality of a conversation."""

    async def leave(self, conversation_href: str) -> None:
        """Leave (DELETE) a conversation."""

    async def start_messaging(
        self,
        to: str,
        *,
        subject: str | None,
        importance: str,
        message: str | None,
        operation_id: str,
    ) -> str:
        """Invite ``to`` to a new conversation; returns the invitation href."""

    async def still_open(self, conversations: Sequence[str]) -> list[str]:
        """Those of ``conversations`` (hrefs as the events named them) that the server
        lists as active now: one read of the application's conversations link."""

    async def messaging_now(self, conversation: str) -> MessagingEvent | None:
        """Conversation ``conversation``'s IM modality as the server has it now, as the
        record an ``updated`` event would carry (``None``: it offers no messaging)."""


class UcwaPort:
    """:class:`Port` over a signed-in :class:`UcwaClient`."""

    def __init__(self, client: UcwaClient) -> None:
        self._client = client

    async def accept(self, accept_href: str) -> None:
        await self._client.accept(accept_href)

    async def decline(self, decline_href: str) -> None:
        await self._client.decline(decline_href)

    async def send_message(
        self,
        send_message_href: str,
        text: str,
        html: str | None,
        *,
        operation_context: str | None = None,
    ) -> str:
        if html is not None:
            return await self._client.send_message(
                send_message_href, html, html=True, operation_context=operation_context
            )
        return await self._client.send_message(
            send_message_href, text, operation_context=operation_context
        )

    async def set_typing(self, set_is_typing_href: str) -> None:
        await self._client.set_is_typing(set_is_typing_href)

    async def stop_messaging(self, stop_messaging_href: str) -> None:
        await self._client.stop_messaging(stop_messaging_href)

    async def leave(self, conversation_href: str) -> None:
        await self._client.leave(conversation_href)

    async def start_messaging(
        self,
        to: str,
        *,
        subject: str | None,
        importance: str,
        message: str | None,
        operation_id: str,
    ) -> str:
        return await self._client.start_messaging(
            to,
            subject=subject or "",
            importance=_IMPORTANCE.get(importance, "Normal"),
            operation_id=operation_id,
            message=message,
        )

    async def still_open(self, conversations: Sequence[str]) -> list[str]:
        client = self._client
        listed = await active_conversations(client)
        return [href for href in conversations if client.absolute(href) in listed]

    async def messaging_now(self, conversation: str) -> MessagingEvent | None:
        return await messaging_now(self._client, conversation)

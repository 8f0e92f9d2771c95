"""Declining with a message: UCWA's decline carries no text, so the bot accepts, says it,
and ends the conversation (``docs/flow-language.md``, "Invitation policy").

:func:`render_farewell` renders the decline message for the caller who invited the bot
(only the flow's variables and the caller are known then); :func:`say_farewell` says it once
messaging is connected, then stops messaging. No flow instance runs in such a conversation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Flow, Template, template_context
from ucwa_flow.lifecycle import InvitationReceived
from ucwa_flow.runtime import trace as t

if TYPE_CHECKING:
    from ucwa_flow.runtime.engine import Engine

__all__ = ["render_farewell", "say_farewell"]


def render_farewell(
    engine: Engine, flow: Flow, message: Template, change: InvitationReceived
) -> str | None:
    """``message`` of ``flow`` for the caller of ``change``; ``None`` (and an error trace)
    if it fails."""
    ctx = template_context(
        variables=flow.variables,
        flow=flow.name,
        caller_uri=change.from_uri or "",
        caller_name=change.from_name or "",
        subject=change.subject or "",
        account=engine.account,
        now=engine.clock.now(),
        timezone=flow.settings.timezone,
    )
    try:
        return message.render(ctx)
    except UcwaFlowError as exc:
        engine.emit(
            t.FlowError(
                at=engine.clock.monotonic(),
                conversation=change.conversation,
                message=f"decline message: {exc}",
                location=message.location,
            )
        )
        return None


async def say_farewell(
    engine: Engine, href: str, text: str, turn: Callable[[], Awaitable[None]] | None = None
) -> None:
    """A declined caller was accepted only to read ``text``; say it and end. ``turn``, when
    given, is awaited before each of the two requests (:class:`~ucwa_flow.runtime.turns.Turns`)."""
    conv = engine.tracker.get(href)
    send = conv.messaging.send_message_href if conv is not None else None
    stop = conv.messaging.stop_messaging_href if conv is not None else None
    port = engine.port
    if send is not None:
        if turn is not None:
            await turn()

        async def say(link: str) -> None:
            await port.send_message(link, text, None)

        await engine.safely(say(send), href)
        engine.emit(
            t.MessageOut(at=engine.clock.monotonic(), conversation=href, text=text, html=None)
        )
    if turn is not None:
        await turn()
    await engine.safely(port.stop_messaging(stop) if stop else port.leave(href), href)

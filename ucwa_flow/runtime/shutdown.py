"""Stopping an engine: every conversation stopped from the bot's side, or left to carry on.

:func:`stop_all` stops every live conversation from the bot's side, as its next input (a
graceful stop: new invitations are left unanswered from then on). :func:`aclose` releases
everything the engine holds: with ``stop``, the conversations are stopped first and the
invitations and handoffs under way withdrawn; without it (a durable bot, whose
conversations a restarted bot carries on), the inputs given so far are handled and the
outbound invitations withdrawn, and the conversations are left as they are on the server.
Either way the steps and tasks still under way are cancelled and the instances closed.

The seam: these are the engine's methods (``Engine.stop_all``, ``Engine.aclose``), written
here and set as attributes of its class; like :mod:`.loss`, they work on the engine's
parts.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ucwa_flow.runtime.engine import Engine

__all__ = ["aclose", "stop_all"]


def stop_all(engine: Engine, why: str) -> None:
    """Stop every live conversation from the bot's side (as their next input)."""
    engine._closing = True
    for instance in list(engine._instances.values()):
        if not instance.ended:
            engine.post(instance.href, partial(instance.stop, why))


async def aclose(engine: Engine, *, stop: bool = True) -> None:
    """Release everything; with ``stop``, stop every live conversation from the bot's
    side first. Without it (a durable bot), conversations are left as they are on the
    server, for a restarted bot to carry on."""
    engine._closing = True
    if stop:
        engine.stop_all("shutdown")
        await engine.idle()
        await engine.invitations.aclose()
        await engine.bridges.aclose()
        await engine.idle()
    else:
        await engine.drained()
        await engine.invitations.withdraw_outbound()
    engine._runner.cancel()
    for task in engine._tasks:
        task.cancel()
    await asyncio.gather(*engine._tasks, *engine._runner.tasks, return_exceptions=True)
    for instance in engine._instances.values():
        instance.close()
    engine._instances.clear()
    await engine.calls.aclose()

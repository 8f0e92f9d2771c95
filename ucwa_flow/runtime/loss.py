"""When the event channel loses track of the conversations: which carry on, which end.

The channel hands the engine a :class:`~ucwa_flow.ucwa.ConversationsLost` when the events
of a gap are gone: a ``resync`` or ``resume`` (the conversations may still be open on the
server), or a re-created application (they went with the old one). :func:`lose_all` is
what :meth:`Engine.handle <ucwa_flow.runtime.engine.Engine.handle>` does with it: after a
resync or resume the server is asked which are still open (a
:class:`~ucwa_flow.runtime.rebuild.Rebuild`, run as a task of the engine's), and every
conversation gets :func:`lost` as its next input, which waits for that answer.

Like :mod:`.acting` for the instance, this is the engine's own code, kept apart: it works
on the engine's parts (its conversations, its dispatch of lifecycle changes, its end of a
conversation), so that the engine stays about the inputs of conversations under way.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from ucwa_flow.runtime.rebuild import Rebuild, alone
from ucwa_flow.ucwa import ConversationsLost

if TYPE_CHECKING:
    from ucwa_flow.runtime.engine import Engine

__all__ = ["lose_all", "lost"]

log = logging.getLogger("ucwa_flow.runtime")


def lose_all(engine: Engine, item: ConversationsLost) -> None:
    """The channel lost track of the conversations (resync, resume, new application).
    After a resync or resume the server is asked which are still open (:mod:`.rebuild`)."""
    log.warning("the event channel lost track of the conversations (%s)", item.reason)
    instances = engine.instances
    still_open = item.reason != "application re-created"
    asked = None
    if still_open:  # those with an invite or a handoff under way end (let go below)
        followed = alone(instances, engine.invitations, engine.bridges)
        asked = Rebuild(engine.port, engine.tracker, item.reason, followed, engine.clock)
        engine.spawn(asked.ask())
    for href in list(instances):
        engine.post(href, partial(lost, engine, href, item.reason, asked))
    engine.invitations.lose_all(still_open=still_open)
    engine.bridges.lose_all(still_open=still_open)
    for conv in engine.tracker:  # side and pending conversations: nobody follows them now
        if conv.href not in instances:
            engine.tracker.forget(conv.href)


async def lost(engine: Engine, href: str, reason: str, asked: Rebuild | None) -> None:
    """Conversation ``href``'s input after the loss. Still open with messaging connected:
    it carries on. Else the bot ends it from its side (a dead link only logs); a
    re-created application took it with it."""
    instance = engine.instances.get(href)
    if instance is not None and asked is not None:
        changes = await asked.decide(href)
        if changes is not None:
            for change in changes:  # the tracker refreshed from what was re-read
                engine._dispatch(change)
            return
        await instance.stop(f"lost track of the conversation ({reason})")
    await engine._ended(href, "server")

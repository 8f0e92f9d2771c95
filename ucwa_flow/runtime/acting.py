"""Performing one action of a running action list (all but ``say``'s fast path).

:func:`perform` is :class:`~ucwa_flow.runtime.instance.FlowInstance`'s interpreter step:
it runs one action in the conversation's template context and says whether the action
ends the running action lists (``goto``, ``stop``, ``call``/``return``, and the actions that
suspend them: ``invite``, ``webhook``, ``handoff``, whose outcome resumes ``rest`` later).
Like :mod:`.calls` and :mod:`.suspending`, it works on the instance's own parts: it is the
instance's code, kept apart so that the instance stays about its inputs and states.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ucwa_flow.flow import (
    BACK,
    Action,
    Call,
    Goto,
    Handoff,
    Invite,
    Log,
    Return,
    Say,
    SetVariable,
    Stop,
    Typing,
    Webhook,
)
from ucwa_flow.runtime import calls, suspending
from ucwa_flow.runtime.context import Context, assign
from ucwa_flow.runtime.outbox import Outgoing
from ucwa_flow.runtime.reports import loggable
from ucwa_flow.runtime.services import Continuation

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["perform"]

log = logging.getLogger("ucwa_flow.runtime")

_LEVELS = logging.getLevelNamesMapping()  # "DEBUG" -> logging.DEBUG ...


async def perform(
    instance: FlowInstance,
    action: Action,
    extras: Mapping[str, Any],
    rest: Continuation | None,
) -> bool:
    """Perform ``action`` for ``instance``; ``True`` when it ends the running action lists
    (``rest``: what follows it, for the actions that suspend them)."""
    ctx = Context(instance, extras)
    done = instance._done
    if isinstance(action, Say):
        instance._say(action, ctx)
    elif isinstance(action, SetVariable):
        assign(instance, action.name, action.value.evaluate(ctx))
        done("set", action.location, action.name)
    elif isinstance(action, Goto):
        target = instance.facts.target(action.target)  # NoPreviousState: reported, skipped
        done("goto", action.location, action.target)
        await instance._enter(target, back=action.target == BACK)
        return True
    elif isinstance(action, Stop):
        done("stop", action.location)
        await instance._stop("stop")
        return True
    elif isinstance(action, Call | Return):
        await calls.perform(instance, action, ctx, rest)
        return True
    elif isinstance(action, Typing):
        link = instance.conv.messaging.set_is_typing_href
        if link:
            instance._send(Outgoing(instance.href, "typing", link, location=action.location))
        done("typing", action.location)
    elif isinstance(action, Log):
        line = action.message.render(ctx)
        log.log(_LEVELS[action.level.upper()], "%s: %s", instance.href, loggable(instance, line))
        done("log", action.location, line)
    elif isinstance(action, Invite | Webhook | Handoff):
        assert rest is not None
        suspending.begin(instance, action, ctx, rest, done)
        return True
    return False

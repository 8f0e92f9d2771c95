"""The interpreter of action lists: a conversation's actions run in order, ``say`` first.

:func:`run` runs the action lists of a :class:`~ucwa_flow.runtime.instance.FlowInstance`
from the places a tuple of :class:`~ucwa_flow.flow.ActionRef` frames names (the start of a
list, or what a suspended action left: :mod:`.resume`), one action after another:
``say`` and ``if`` here, every other action through :func:`~.acting.perform`. A ``goto``,
``stop``, ``call``/``return`` ends the run; ``invite``, ``webhook`` and ``handoff``
suspend it, the rest kept as data (a :class:`~ucwa_flow.runtime.services.Continuation`)
for their outcome. A run-time failure of one action (a template that fails, a UCWA or
HTTP error) is reported and the next action runs. :func:`execute` runs a list from its
start; :func:`say_all`, a list of ``say`` actions alone, without a coroutine
(:meth:`Plans.says_only <ucwa_flow.runtime.flowmachine.Plans.says_only>`); :func:`say`
sends what one ``say`` says.

The seam: these are the instance's methods (``FlowInstance._run``, ``_execute``,
``_say_all``, ``_say``), written here and set as attributes of its class, so that calling
them costs what calling a method written in the class does (a conversation's hot path:
``docs/performance.md``). Like :mod:`.acting` and :mod:`.calls`, they work on the
instance's own parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import (
    ActionRef,
    Call,
    Handoff,
    If,
    Invite,
    Say,
    UnknownActionList,
    Webhook,
)
from ucwa_flow.runtime import acting
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.context import Context
from ucwa_flow.runtime.outbox import Outgoing
from ucwa_flow.runtime.resume import ActionCursor
from ucwa_flow.runtime.saying import render_say

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

#: ``Outgoing.message``, read once: a class's attribute is read slowly (no specialisation)
_new_message = Outgoing.message

__all__ = ["execute", "run", "say", "say_all"]


async def execute(
    instance: FlowInstance,
    list_id: str,
    extras: Mapping[str, Any],
    *,
    allow_after_end: bool = False,
) -> None:
    """Run the action list ``list_id`` from its start."""
    frames = instance.machine.plans.start_of(list_id)
    await instance._run(frames, extras, allow_after_end=allow_after_end)


async def run(
    instance: FlowInstance,
    frames: tuple[ActionRef, ...],
    extras: Mapping[str, Any],
    *,
    allow_after_end: bool = False,
) -> None:
    """Run the action lists from the places ``frames`` in order; a goto, stop, invite
    or webhook may cut them short (an invite or webhook leaves the rest as data)."""
    cursor = ActionCursor(instance.flow, frames)
    try:
        for action in cursor:
            if instance.ended and not allow_after_end:
                return
            try:
                if type(action) is Say:  # the most common action: no coroutine for it
                    instance._say(action, Context(instance, extras))
                    continue
                if isinstance(action, If):
                    chosen = action.condition.evaluate(Context(instance, extras))
                    instance._done("if", action.location, "then" if chosen else "else")
                    cursor.branch("then" if chosen else "else")
                    continue
                rest = None
                if isinstance(action, (Invite, Webhook, Call, Handoff)):  # no union built
                    rest = cursor.suspend(extras, allow_after_end)
                if await acting.perform(instance, action, extras, rest):
                    return
            except (UcwaFlowError, httpx.HTTPError) as exc:
                instance._error(str(exc) or type(exc).__name__, action.location)
    except UnknownActionList as exc:
        instance._error(str(exc), None)


def say_all(instance: FlowInstance, says: tuple[Say, ...], extras: Mapping[str, Any]) -> None:
    """Run an action list of ``say`` actions alone (:meth:`Plans.says_only
    <ucwa_flow.runtime.flowmachine.Plans.says_only>`) as :func:`run` would."""
    for action in says:
        if instance.ended:
            return
        try:
            instance._say(action, Context(instance, extras))
        except (UcwaFlowError, httpx.HTTPError) as exc:
            instance._error(str(exc) or type(exc).__name__, action.location)


def say(instance: FlowInstance, action: Say, ctx: Mapping[str, Any]) -> None:
    """Send what ``action`` says in the template context ``ctx`` (a failure: reported)."""
    conv = instance.conv
    messaging = conv.messaging
    template = action.text
    if action.html is None and template is not None and not action.texts:
        text, sent = template.render(ctx), None  # what ``render_say`` gives it, a call less
    else:
        text, sent = render_say(action, ctx, instance.flow.settings.format, messaging.formats)
    if not (sent or text):  # the server refuses an empty message: nothing to send
        return instance._error("nothing said: the message is empty", action.location)
    href = messaging.send_message_href
    if href is None:
        instance._error("cannot say anything: messaging is not connected", action.location)
        return
    quiet = instance._deliveries.recovering
    instance.services.send(_new_message(conv.href, href, text, sent, quiet, action.location))
    instance.facts.bot += 1  # ``Facts.said``, a call less
    if instance.services.tracing:
        instance._emit(t.MessageOut, text=text, html=sent)
        instance._done("say", action.location)

"""The engine's inputs: lifecycle changes turned into inputs of the conversations.

:class:`Inputs` is the part of the :class:`~ucwa_flow.runtime.engine.Engine` that takes
the :class:`~ucwa_flow.lifecycle.LifecycleTracker`'s changes (:meth:`Inputs._dispatch`,
one change at a time, as ``Engine.handle`` reads a batch) and posts, to the conversation's
mailbox, the input of its :class:`~ucwa_flow.runtime.instance.FlowInstance` that each
stands for (:meth:`Inputs.post`; see the engine's docstring for what each change becomes).
The inputs run later, one at a time per conversation: a message (to the bridge while a
handoff's bridge is on), messaging connected (the start state, then the invitation's first
message), a delivery that failed, the end of the conversation (the caller or the server
ended it). Invitations go to :mod:`.answering` and :mod:`.invites` at once.

It is a base class rather than a part the engine holds so that the path of an incoming
message costs no call and no attribute read more than if it were written in the engine
(the engine's hot path: ``docs/performance.md``); the engine's parts it uses are declared
here and set by ``Engine.__init__``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial
from typing import TYPE_CHECKING, Any

from ucwa_flow.lifecycle import (
    Change,
    ConversationEnded,
    ConversationState,
    InvitationEnded,
    InvitationReceived,
    InvitationSent,
    MessageDelivery,
    MessageReceived,
    MessagingState,
    Outcome,
)
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.delivery import from_reason
from ucwa_flow.runtime.flowmachine import FlowMachine
from ucwa_flow.runtime.mailboxes import NOTHING, Job, Mailboxes
from ucwa_flow.runtime.tracing import Traced

if TYPE_CHECKING:
    from ucwa_flow.clock import Clock
    from ucwa_flow.lifecycle import LifecycleTracker
    from ucwa_flow.runtime.answering import Answering
    from ucwa_flow.runtime.bridge import Bridges
    from ucwa_flow.runtime.campaigns import Campaigns
    from ucwa_flow.runtime.instance import FlowInstance
    from ucwa_flow.runtime.invites import Invitations

__all__ = ["Inputs"]


class Inputs(Traced):
    """The input side of an engine: lifecycle changes in, jobs posted to mailboxes."""

    # the engine's parts, set by ``Engine.__init__``
    clock: Clock
    tracker: LifecycleTracker
    answers: Answering
    invitations: Invitations
    bridges: Bridges
    campaigns: Campaigns
    _instances: dict[str, FlowInstance]
    _mailboxes: Mailboxes

    def post(self, href: str, job: Job) -> None:
        self._mailboxes.post(href, job)

    def _dispatch(self, change: Change) -> None:
        href = change.conversation
        if isinstance(change, MessageReceived):  # the most frequent first (disjoint types)
            if change.text is not None:
                self._mailboxes.post(href, partial(_message, self, href, change.text))
        elif isinstance(change, InvitationReceived):
            self.answers.received(change)
        elif isinstance(change, MessagingState):
            self._lifecycle(href, "messaging", change.old, change.new)
            if change.new == "Connected":
                self.post(href, partial(self._connected, href))
        elif isinstance(change, MessageDelivery):
            if not change.delivered:
                delivery = from_reason(change.reason)
                self.post(href, partial(self._delivery_failed, href, delivery, change.message))
        elif isinstance(change, InvitationSent):
            self.invitations.sent(change)
        elif isinstance(change, InvitationEnded):
            if not self.invitations.ended(change) and change.outcome is not Outcome.ACCEPTED:
                # an incoming invitation that ended before we accepted: the caller gave up
                self.post(href, partial(self._ended, href, "caller"))
        elif isinstance(change, ConversationState):
            self._lifecycle(href, "conversation", change.old, change.new)
        elif isinstance(change, ConversationEnded):
            self.post(href, partial(self._ended, href, "caller"))

    async def _delivery_failed(
        self, href: str, delivery: dict[str, Any], message: str | None
    ) -> None:
        instance = self._instances.get(href)
        if instance is not None:
            await instance.on_delivery_failed(delivery, message)

    async def _connected(self, href: str) -> None:
        if self.answers.farewell(href):
            return
        instance = self._instances.get(href)
        if instance is None or instance.state != FlowMachine.NEW:
            return
        start, first = self.answers.opened(href)
        await instance.start(start)
        if first is not None:
            await instance.on_message(first)

    async def _ended(self, href: str, by: str) -> None:
        await self.bridges.ended(href)
        await self.invitations.origin_ended(href)
        instance = self._instances.pop(href, None)
        if instance is not None:
            await instance.on_ended(by)
            instance.close()
            if self._journal is not None:
                self._journal.touch(instance)
        self.campaigns.ended(href, instance)
        self.answers.forget(href)
        self.tracker.forget(href)

    def _lifecycle(self, href: str, kind: str, old: str, new: str) -> None:
        self.emit(
            t.LifecycleChanged(
                at=self.clock.monotonic(), conversation=href, kind=kind, old=old, new=new
            )
        )


def _message(inputs: Inputs, href: str, text: str) -> Awaitable[None]:
    """The job of a message (its step: ``on_message``'s). A function, not a method: a
    method read to be put in a job makes a bound method, slowly (one a message)."""
    bridges = inputs.bridges  # asked only while a bridge is on (a call less)
    if (bridges.links or bridges.agents) and bridges.heard(href, text):
        return NOTHING
    instance = inputs._instances.get(href)
    return NOTHING if instance is None else instance.on_message(text)

"""Conversations the bot starts: ``invite`` actions and outbound flows.

Both start a conversation with startMessaging and an ``operationId`` of their own, then wait
for the invitation to complete (the tracker's :class:`~ucwa_flow.lifecycle.InvitationEnded`
carries the operationId back) or for their timeout on the injected clock:

* an ``invite`` action suspends its action list; the branch for the outcome (accepted,
  declined, no_answer), then the rest of the list, run in the conversation that invited.
  An accepted invite conversation is a *side* conversation: no flow runs in it, and it is
  stopped when the conversation that asked for it ends.
* an outbound flow invites everyone in ``outbound.to`` when the bot starts (or whom
  :meth:`Invitations.start_outbound` is given); an accepted invitation runs the flow from
  its start state, a declined or unanswered one runs the flow's ``declined``/``no_answer``
  actions with no conversation to talk in (:mod:`ucwa_flow.runtime.outbound`; a flow
  with ``outbound.campaign`` invites them as a campaign run,
  :mod:`ucwa_flow.runtime.campaigns`).

When does an invitation end ``no_answer``? When its ``timeout`` passes, or when the server
says nobody answered (its own ring time ran out: ``Timeout``, ``Missed``...). An invitee who
is not signed in anywhere is not an answer: the server fails such an invitation at once
(``TemporarilyUnavailable``, SIP's 480), and the bot invites again every
:data:`OFFLINE_RETRY` seconds until the timeout, so someone who signs in meanwhile still
gets it. A failure to even start the invitation (an HTTP error), or one the server gives no
known reason for (an unknown address: ``DestinationNotFound``), is reported as an error and
counts as no answer at once.

:class:`Invitations` sees the engine only through
:class:`~ucwa_flow.runtime.invitation_host.InvitationHost`: the flows, the
services an instance has, the conversations being tracked and run, and task spawning.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Sequence
from functools import partial
from operator import attrgetter

import httpx

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Invite
from ucwa_flow.lifecycle import InvitationEnded, InvitationSent, Outcome
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.grouped import Grouped
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.invitation_host import InvitationHost
from ucwa_flow.runtime.outbound import OutboundStarts
from ucwa_flow.runtime.pending_invite import (
    Invitation,
    PendingInvite,
    cancel_timers,
    describe_reason,
    may_ring,
    offline_reason,
)
from ucwa_flow.runtime.services import Continuation
from ucwa_flow.store import ABANDONED_KEPT

__all__ = ["ABANDONED_KEPT", "OFFLINE_RETRY", "Invitations"]

log = logging.getLogger("ucwa_flow.runtime")

_BRANCH = {Outcome.ACCEPTED: "accepted", Outcome.DECLINED: "declined"}
#: seconds between invitations to someone who is not signed in (until the invite's timeout)
OFFLINE_RETRY = 10.0


class Invitations:
    """The invitations a bot has sent and is waiting on, by operationId."""

    def __init__(self, engine: InvitationHost) -> None:
        self._engine = engine
        #: by operationId, and by origin (asked at every commit of a durable bot)
        self._pending: Grouped[str, PendingInvite, str | None] = Grouped(attrgetter("origin"))
        #: accepted invite conversation -> origin, and by origin
        self._side: Grouped[str, str, str] = Grouped(_itself)
        # given up before the server named them: withdrawn when they show up (some never
        # do: a request that may or may not have reached the server; the newest are kept)
        self._abandoned: dict[str, None] = {}
        self.outbound = OutboundStarts(engine, self)

    @property
    def offline(self) -> list[str]:
        """Whom the bot waits for to sign in (to invite them again), in invitation order."""
        return [p.to for p in self._pending.values() if p.retry is not None]

    # -- starting ---------------------------------------------------------------------------

    def begin(
        self,
        instance: FlowInstance,
        action: Invite,
        to: str,
        subject: str | None,
        message: str | None,
        rest: Continuation,
    ) -> None:
        """An ``invite`` action: invite ``to``; resume ``instance`` once it is answered."""
        pending = PendingInvite(to, instance.href, action, rest)
        self.start(pending, action.timeout, subject, action.importance, message)

    def ring(self, pending: PendingInvite, timeout: float, invitation: Invitation) -> None:
        """Send a handoff's invitation (``pending.on_answer`` is told its outcome)."""
        self.start(pending, timeout, *invitation)

    def withdraw(self, pending: PendingInvite) -> None:
        """Give up ``pending`` (ringing, or waiting to ring again); nobody is told."""
        if self._pending.pop(pending.op, None) is pending:
            self._stop_ringing(pending)
            cancel_timers(pending)
            if pending.conversation is not None:
                self._engine.tracker.forget(pending.conversation)

    def start_outbound(
        self, name: str | None = None, to: Sequence[str] | None = None
    ) -> str | None:
        """Invite ``to`` (everyone in its ``outbound.to``) to run flow ``name`` (the default
        flow): :meth:`OutboundStarts.start <ucwa_flow.runtime.outbound.OutboundStarts.start>`."""
        return self.outbound.start(name, to)

    def start(
        self,
        pending: PendingInvite,
        timeout: float,
        subject: str | None,
        importance: str,
        message: str | None,
    ) -> None:
        """Send ``pending``'s invitation; it ends ``no_answer`` after ``timeout`` seconds."""
        engine = self._engine
        pending.invitation = (subject, importance, message)
        pending.deadline = engine.clock.monotonic() + timeout
        pending.timer = engine.clock.call_later(timeout, self._timed_out, pending)
        self._send(pending)

    def _send(self, pending: PendingInvite) -> None:
        """Send (or send again) ``pending``'s invitation, under a new operationId; a
        durable host sends an invite action's once the step that decided it is committed."""
        op = pending.op = uuid.uuid4().hex
        pending.sent = pending.unconfirmed = False
        self._pending[op] = pending
        if pending.action is None or not self._engine.later(op, pending.origin):
            self.dispatch(op)

    def dispatch(self, op: str) -> None:
        """Send the invitation waiting under ``op`` now."""
        engine = self._engine
        pending = self._pending.get(op)
        if pending is None:
            return
        pending.sent, pending.unconfirmed = True, False
        subject, importance, message = pending.invitation

        async def start() -> None:
            try:
                await engine.port.start_messaging(
                    pending.to,
                    subject=subject,
                    importance=importance,
                    message=message,
                    operation_id=op,
                )
            except (UcwaFlowError, httpx.HTTPError) as exc:
                if op != pending.op or pending.conversation or pending.cancel_href:
                    return  # the server spoke of it: its outcome comes, or came, by the channel
                if pending.retry is not None:
                    return  # it said the invitee is not signed in: invited again later
                if may_ring(exc):  # its answer was lost: withdrawn if the server names it
                    self._give_up(op)
                else:  # it will never show up (given up meanwhile or not)
                    self._named(op)
                engine.emit(
                    t.FlowError(
                        at=engine.clock.monotonic(),
                        conversation=pending.origin or "",
                        message=f"inviting {pending.to} failed: {exc}",
                        location=None,
                    )
                )
                self._resolve(op, "no_answer")

        engine.spawn(start())

    # -- kept across a restart ------------------------------------------------------------------

    def waiting(self, origin: str) -> list[PendingInvite]:
        """The invitations conversation ``origin``'s ``invite`` actions wait on."""
        group = self._pending.of(origin)
        return [p for p in group.values() if p.action] if group else []

    def sides(self, origin: str) -> list[str]:
        """The side conversations (accepted invites) conversation ``origin`` opened."""
        group = self._side.of(origin)
        return list(group) if group else []

    def resume(self, instance: FlowInstance, op: str, pending: PendingInvite, due: float) -> None:
        """Wait again on the invitation ``op`` for ``instance`` (after a restart), its timeout
        ``due`` seconds from now. One the server never named may not have been sent: it is
        sent again by :meth:`send_unconfirmed` unless news of it arrives first."""
        engine = self._engine
        pending.origin = instance.href
        pending.op = op
        pending.sent = pending.unconfirmed = True  # perhaps, before the restart
        pending.deadline = engine.clock.monotonic() + due
        pending.timer = engine.clock.call_later(max(0.0, due), self._timed_out, pending)
        self._pending[op] = pending

    def resume_abandoned(self, ops: Sequence[str]) -> None:
        """The invitations given up before a restart, not named since (oldest first)."""
        for op in ops[-ABANDONED_KEPT:]:
            self._abandoned[op] = None

    def resume_side(self, side: str, origin: str) -> None:
        """``side`` is a side conversation of ``origin`` again (after a restart)."""
        self._side[side] = origin

    def send_unconfirmed(self) -> None:
        """Send again every resumed invitation the server has said nothing of (not those
        sent since the restart, nor those a step not yet committed decided)."""
        for op, pending in list(self._pending.items()):
            if pending.unconfirmed and pending.conversation is None and not pending.retry:
                self.dispatch(op)

    # -- outcomes ---------------------------------------------------------------------------

    def sent(self, change: InvitationSent) -> None:
        """One of our invitations is ringing: remember its conversation and cancel link."""
        op = change.operation_id or ""
        pending = self._pending.get(op)
        if pending is not None:
            pending.conversation = change.conversation
            pending.cancel_href = change.cancel_href
            if pending.on_answer is not None:  # a handoff keeps how to withdraw it
                pending.on_answer(pending, "ringing")
        elif op in self._abandoned:
            self._named(op)
            self._withdraw(
                PendingInvite("", conversation=change.conversation, cancel_href=change.cancel_href)
            )
            self._engine.tracker.forget(change.conversation)

    def ended(self, change: InvitationEnded) -> bool:
        """An invitation completed: ``True`` when it was one of ours."""
        op = change.operation_id
        if op is not None and op in self._abandoned:  # answered after we gave up on it
            self._named(op)
            if change.outcome is Outcome.ACCEPTED:
                self._engine.spawn(self._end_side(change.conversation))
            else:
                self._engine.tracker.forget(change.conversation)
            return True
        if op is None or op not in self._pending:
            return False
        pending = self._pending[op]
        pending.conversation = change.conversation
        if offline_reason(change.reason) and self._wait_for_sign_in(pending):
            return True
        if change.outcome is Outcome.FAILED:
            self._report(pending, f"inviting {pending.to} failed: {describe_reason(change.reason)}")
        self._resolve(op, _BRANCH.get(change.outcome, "no_answer"))
        return True

    def _wait_for_sign_in(self, pending: PendingInvite) -> bool:
        """The invitee is not signed in: invite again later, if the timeout allows it."""
        engine = self._engine
        delay = min(OFFLINE_RETRY, pending.deadline - engine.clock.monotonic())
        if delay <= 0:
            return False
        if pending.conversation is not None:
            engine.tracker.forget(pending.conversation)  # that invitation is over
        pending.conversation = pending.cancel_href = None
        log.info("%s is not signed in; inviting again in %g s", pending.to, delay)
        pending.retry = engine.clock.call_later(delay, self._retry, pending)
        return True

    def _retry(self, pending: PendingInvite) -> None:
        pending.retry = None
        if self._pending.pop(pending.op, None) is pending:  # not resolved meanwhile
            self._send(pending)

    def _timed_out(self, pending: PendingInvite) -> None:
        op = pending.op
        if self._pending.get(op) is not pending:
            return
        self._stop_ringing(pending)
        self._resolve(op, "no_answer")

    def _stop_ringing(self, pending: PendingInvite) -> None:
        if pending.retry is None:  # an invitation rings (or is on its way): withdraw it
            if pending.conversation is None and pending.cancel_href is None:
                if pending.sent:  # on its way: nothing to withdraw yet
                    self._give_up(pending.op)
                return  # (one a durable step decided, never sent: nothing at all)
            self._withdraw(pending)

    def _give_up(self, op: str) -> None:
        self._abandoned[op] = None
        self._engine.abandoned(op, True)  # a durable bot keeps it across a restart
        if len(self._abandoned) > ABANDONED_KEPT:  # (the store keeps as many)
            del self._abandoned[next(iter(self._abandoned))]

    def _named(self, op: str) -> None:
        """The server named ``op``, given up (or it never will): no longer awaited."""
        if self._abandoned.pop(op, 0) is None:
            self._engine.abandoned(op, False)

    def _report(self, pending: PendingInvite, message: str) -> None:
        engine = self._engine
        engine.emit(
            t.FlowError(
                at=engine.clock.monotonic(),
                conversation=pending.origin or "",
                message=message,
                location=pending.action.location if pending.action is not None else None,
            )
        )

    def _withdraw(self, pending: PendingInvite) -> None:
        """Stop a ringing invitation (its cancel link, else leave its conversation)."""
        withdrawal = self._withdrawal(pending)
        if withdrawal is not None:
            self._engine.spawn(withdrawal)

    def _withdrawal(self, pending: PendingInvite) -> Awaitable[None] | None:
        engine = self._engine
        href = pending.conversation
        if pending.cancel_href is not None:
            return engine.safely(engine.port.stop_messaging(pending.cancel_href), href or "")
        if href is not None:
            return engine.safely(engine.port.leave(href), href)
        return None

    def _resolve(self, op: str, branch: str) -> None:
        pending = self._pending.pop(op, None)
        if pending is None:
            return
        cancel_timers(pending)
        engine = self._engine
        conversation = pending.conversation
        if conversation is not None and branch != "accepted":
            engine.tracker.forget(conversation)
        if pending.on_answer is not None:
            pending.on_answer(pending, branch)
            return
        if pending.action is None:
            self.outbound.resolved(pending, branch)
            return
        instance = engine.instances.get(pending.origin or "")
        if instance is None:
            if branch == "accepted" and conversation is not None:
                # accepted after the caller left: nobody is on the other side any more
                engine.spawn(self._end_side(conversation))
            return
        if branch == "accepted" and conversation is not None:
            self._side[conversation] = instance.href
        action, rest = pending.action, pending.rest
        assert rest is not None
        resume = partial(
            instance.on_outcome, rest, "invite", branch, rest.branch(branch), {}, action.location
        )
        engine.post(instance.href, resume)

    # -- side conversations -------------------------------------------------------------------

    async def origin_ended(self, href: str) -> None:
        """``href`` ended: withdraw the invitations it sent that still ring, and stop the
        side conversations it opened (and forget it as one)."""
        for op, pending in list(self._pending.of(href).items()):
            del self._pending[op]
            self._stop_ringing(pending)  # one on its way is withdrawn once it is named
            cancel_timers(pending)
            if pending.conversation is not None:
                self._engine.tracker.forget(pending.conversation)
        self._side.pop(href, None)
        for side in list(self._side.of(href)):
            del self._side[side]
            await self._end_side(side)

    async def _end_side(self, href: str) -> None:
        engine = self._engine
        conv = engine.tracker.get(href)
        stop = conv.messaging.stop_messaging_href if conv is not None else None
        operation = engine.port.stop_messaging(stop) if stop else engine.port.leave(href)
        await engine.safely(operation, href)
        engine.tracker.forget(href)

    def lose_all(self, still_open: bool) -> None:
        """The channel lost track of every conversation: nothing we wait on will complete.
        ``still_open`` (a resync or resume, not a re-created application): the server may
        still have them, so ringing invitations are withdrawn and side conversations ended."""
        engine = self._engine
        for pending in self._pending.values():
            if still_open:
                self._stop_ringing(pending)
            cancel_timers(pending)
        if still_open:
            for side in self._side:
                engine.spawn(self._end_side(side))
        outbound = [p for p in self._pending.values() if p.action is None]
        self._pending.clear()
        self._side.clear()
        self.outbound.lost(outbound)

    async def withdraw_outbound(self) -> None:
        """A durable stop: withdraw the outbound flows' invitations that still ring. They
        are not stored (a restarted bot invites again whom a campaign run still waits on);
        the invitations of ``invite`` actions and handoffs are, and are left ringing."""
        self.outbound.close()
        for op, pending in list(self._pending.items()):
            if pending.action is None and pending.on_answer is None:
                del self._pending[op]
                cancel_timers(pending)
                withdrawal = self._withdrawal(pending)
                if withdrawal is not None:
                    await withdrawal
                if pending.conversation is not None:
                    self._engine.tracker.forget(pending.conversation)

    async def aclose(self) -> None:
        """Shutting down: withdraw what still rings and end every side conversation."""
        self.outbound.close()
        self.lose_all(still_open=True)


def _itself(origin: str) -> str:
    return origin

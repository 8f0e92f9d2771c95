"""Outbound flows: inviting the people of ``outbound.to`` and running their answers.

:class:`OutboundStarts` is the outbound half of :class:`~ucwa_flow.runtime.invites.Invitations`
(which sends, times and resolves every invitation): it starts an outbound flow's
invitations and, when one is resolved, runs the flow in the accepted conversation, or the
flow's ``declined``/``no_answer`` actions in an instance with no conversation to talk in
(``outbound:<uri>``; ``outbound:<run id>:<uri>`` in a campaign run). The version of the
flow is the one current when the invitation is answered.

A flow with ``outbound.campaign`` is started as a campaign run instead
(:mod:`ucwa_flow.runtime.campaigns`): the run decides whom to invite when, and hears back
when each person's part is over.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from ucwa_flow.flow import template_context
from ucwa_flow.lifecycle import Conversation
from ucwa_flow.runtime.campaigns import Campaigns
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.pending_invite import PendingInvite
from ucwa_flow.runtime.services import Continuation

if TYPE_CHECKING:
    from ucwa_flow.runtime.invitation_host import InvitationHost
    from ucwa_flow.runtime.invites import Invitations

__all__ = ["OutboundStarts"]

log = logging.getLogger("ucwa_flow.runtime")


class OutboundStarts:
    """Starts outbound flows' invitations (of ``invitations``) and runs their answers."""

    def __init__(self, engine: InvitationHost, invitations: Invitations) -> None:
        self._engine = engine
        self._invitations = invitations
        self._closed = False
        self.campaigns = Campaigns(engine, self._invite_one)

    def start(self, name: str | None = None, to: Sequence[str] | None = None) -> str | None:
        """Invite ``to`` (everyone in its ``outbound.to``) to run flow ``name`` (the default
        flow); nothing for a flow without an ``outbound`` section. A campaign flow starts
        a campaign run: its id is returned."""
        engine = self._engine
        name = name if name is not None else engine.catalog.default
        flow = engine.catalog.get(name)
        outbound = flow.outbound
        if outbound is None:
            return None
        people = outbound.to if to is None else to
        if outbound.campaign is not None:
            return self.campaigns.start(name, flow, people)
        for invitee in people:
            self._invite(name, invitee, None)
        return None

    def _invite_one(self, name: str, invitee: str, campaign: str) -> None:
        if not self._closed:
            self._invite(name, invitee, campaign)

    def _invite(self, name: str, invitee: str, campaign: str | None) -> None:
        engine = self._engine
        flow = engine.catalog.get(name) if name in engine.catalog else None
        outbound = flow.outbound if flow is not None else None
        if flow is None or outbound is None:  # gone, or lost its outbound section, since
            self.campaigns.answered(campaign or "", invitee, "no_answer", None)  # the run began
            return
        run = self.campaigns.runs.get(campaign) if campaign is not None else None
        ctx = template_context(
            variables=flow.variables,
            flow=flow.name,
            caller_uri=invitee,
            account=engine.account,
            now=engine.clock.now(),
            timezone=flow.settings.timezone,
            campaign=run.view() if run is not None else None,
        )
        subject = outbound.subject.render(ctx) if outbound.subject else None
        message = outbound.message.render(ctx) if outbound.message else None
        pending = PendingInvite(invitee, flow=name, campaign=campaign)
        self._invitations.start(pending, outbound.timeout, subject, outbound.importance, message)

    def resolved(self, pending: PendingInvite, branch: str) -> None:
        """``pending``, an outbound flow's invitation, ended ``branch``."""
        engine = self._engine
        run = pending.campaign
        name = pending.flow if pending.flow is not None else engine.catalog.default
        if name not in engine.catalog:
            log.warning("%s answered flow %s, which is gone", pending.to, name)
            if run is not None:
                self.campaigns.answered(run, pending.to, branch, None)
            return
        href = pending.conversation
        if branch == "accepted":
            conv = engine.tracker.get(href) if href is not None else None
            if conv is not None:
                if run is not None:
                    self.campaigns.answered(run, pending.to, branch, conv.href)
                engine.adopt(conv, pending.to, name)
            elif run is not None:
                self.campaigns.answered(run, pending.to, branch, None)
            return
        place = f"{run}:{pending.to}" if run is not None else pending.to  # runs may overlap
        detached = engine.new_instance(name, Conversation(f"outbound:{place}"), pending.to)
        if run is not None:
            self.campaigns.answered(run, pending.to, branch, detached.href)
        engine.post(detached.href, partial(self._run_detached, detached, branch))

    async def _run_detached(self, instance: FlowInstance, branch: str) -> None:
        outbound = instance.flow.outbound
        try:
            if outbound is None:  # the version answered has no outbound section any more
                return
            location = outbound.location
            branch_list = f"outbound.{'declined' if branch == 'declined' else 'no_answer'}"
            await instance.on_outcome(
                Continuation(None), "invite", branch, branch_list, {}, location
            )
        finally:
            instance.close()
            self.campaigns.ended(instance.href, instance)

    def lost(self, pending: Sequence[PendingInvite]) -> None:
        """The outbound invitations ``pending`` will never be answered (the channel lost
        them): a campaign counts them as not answered and goes on, unless stopping."""
        for invitation in pending:
            if invitation.campaign is not None and not self._closed:
                self.campaigns.answered(invitation.campaign, invitation.to, "no_answer", None)

    def close(self) -> None:
        """Stopping: campaign runs invite nobody any more."""
        self._closed = True

"""Campaign runs: an outbound flow's people invited a few at a time, with one report.

A flow with ``outbound.campaign`` (``ucwa_flow.flow._campaign``) starts a *run* each time
it is started (when the bot starts, by ``POST /accounts/{id}/outbound``, by a schedule):
:meth:`Campaigns.start` gives it an id and invites the first ``at_once`` people; each
time one of them is *done*, the next one in line is invited. A person is done when

* their conversation (they accepted) has ended, its ``ended`` actions run;
* the ``declined`` or ``no_answer`` actions have run (they declined, did not answer).

When the last person is done, the report webhook (the list
:data:`~ucwa_flow.flow.CAMPAIGN_REPORT`) runs once, in an instance of its own
(``campaign:<id>``, no conversation), and the run is forgotten.

Campaign variables belong to the run: every conversation of the run (and its declined /
no_answer actions, and the report) reads them as ``campaign.NAME``; ``set:
{campaign.NAME: ...}`` changes them for all (:meth:`Campaigns.assign`). ``campaign`` also holds
``id``, ``people`` (one ``{uri, outcome, state, ended_by}`` per person invited so far, in
invitation order: ``outcome`` ``accepted``/``declined``/``no_answer``, ``None`` while it
rings; ``state`` the flow state the conversation ended in), ``size`` (everyone in the
run) and ``done`` (how many are done).

A run is data (:class:`CampaignRun`: :meth:`~CampaignRun.to_data` /
:meth:`~CampaignRun.from_data`); :class:`Campaigns` keeps the runs of one engine in
memory, and tells :attr:`Campaigns.on_change` (a durable bot's journal) of each run a step
changed, so the run is committed with that step. A restarted durable bot puts the stored
runs back (:meth:`Campaigns.restore`), reattaches the conversations that carry on
(:meth:`Campaigns.rejoin`) and carries the runs on (:meth:`Campaigns.resume`): people
whose invitation was ringing at the stop are invited again, those whose part was lost are
done, the next ones in line are invited, and a report decided but not answered is sent
again, with the same ``Idempotency-Key`` (a report's webhook keys are derived from the
run, see :mod:`ucwa_flow.runtime.webhook_calls`).

What happens is traced as :class:`CampaignEvent` records whose ``kind`` is one of
``campaign_started``, ``campaign_invited``, ``campaign_joined`` (in the person's
conversation: which run it belongs to), ``campaign_set``, ``campaign_person_done``,
``campaign_report`` and ``campaign_finished``.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import CAMPAIGN_REPORT, Flow
from ucwa_flow.lifecycle import Conversation
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.campaign_run import CampaignRun, Person
from ucwa_flow.runtime.context import copy_variables
from ucwa_flow.runtime.services import Continuation

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance
    from ucwa_flow.runtime.invitation_host import InvitationHost

log = logging.getLogger("ucwa_flow.runtime")

__all__ = ["CampaignEvent", "Campaigns"]

#: finished runs whose report branches can still read ``campaign`` (the latest ones)
_KEPT_REPORTS = 64
#: how an invitation is sent for a run: (flow name, invitee, run id)
Invite = Callable[[str, str, str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignEvent(t.Trace):
    """Something happened to campaign run ``campaign`` (``kind``: ``campaign_*``, see the
    module docstring). ``conversation`` is ``campaign:<id>``, or the person's conversation
    for ``campaign_joined`` and ``campaign_set``."""

    kind: str
    campaign: str
    data: Mapping[str, Any]


class Campaigns:
    """The campaign runs of one engine, by id, and the conversations that belong to them."""

    def __init__(self, engine: InvitationHost, invite: Invite) -> None:
        self._engine = engine
        self._invite = invite
        self.runs: dict[str, CampaignRun] = {}
        self._members: dict[str, CampaignRun] = {}  # conversation href -> its run
        self._reports: list[str] = []  # report instances, oldest first (their branches may run)
        self._reporting: dict[str, CampaignRun] = {}  # report href -> run, until answered
        self._settling: set[str] = set()  # parts over whose webhooks are not answered yet
        self._inviting: set[str] = set()  # runs whose people are being invited
        #: whether conversation ``href`` waits on webhooks (the engine's calls)
        self.waits: Callable[[str], bool] = lambda href: False
        #: told of each run a step changed (a durable bot commits it with the step)
        self.on_change: Callable[[CampaignRun], None] | None = None

    def start(self, name: str, flow: Flow, to: Sequence[str]) -> str:
        """Start a run of flow ``name`` (``flow``, its current version) with ``to``."""
        outbound = flow.outbound
        assert outbound is not None
        assert outbound.campaign is not None
        campaign = outbound.campaign
        run = CampaignRun(
            uuid.uuid4().hex[:12],
            name,
            campaign.at_once,
            deque(dict.fromkeys(to)),
            copy_variables(campaign.variables),
        )
        self.runs[run.id] = run
        self._event(run, "campaign_started", flow=name, people=list(run.waiting))
        self._changed(run)
        self._next(run)
        return run.id

    def restore(self, data: Mapping[str, Any]) -> CampaignRun:
        """Put back a stored run (:meth:`CampaignRun.to_data`), before its conversations."""
        run = CampaignRun.from_data(data)
        self.runs[run.id] = run
        return run

    def rejoin(self, href: str, run_id: str | None) -> None:
        """Restored conversation ``href`` belongs to run ``run_id`` (its record says so)."""
        run = self.runs.get(run_id) if run_id is not None else None
        gone = run is not None and run.flow not in self._engine.catalog  # closed by resume
        if run is not None and not gone and run.person(href) is not None:
            self._members[href] = run

    def resume(self) -> None:
        """Carry the restored runs on (see the module docstring)."""
        for run in list(self.runs.values()):
            if run.flow not in self._engine.catalog:
                self._close_gone(run)
                continue
            if run.reported:
                if not run.closed:
                    self._report(run)  # again: the same Idempotency-Key
                continue
            for person in run.people:
                if person.done:
                    continue
                if person.outcome is None:  # ringing at the stop (withdrawn then)
                    self._event(run, "campaign_invited", uri=person.uri, again=True)
                    self._invite(run.flow, person.uri, run.id)
                elif person.conversation not in self._members:  # its part was lost
                    self._done(run, person)
            self._next(run)

    def settled(self, href: str) -> None:
        """A webhook of ``href`` was answered and its branch ran: once ``href`` waits on
        none, a person whose part is over is done, and a report's run is closed."""
        if self.waits(href):
            return
        self.report_answered(href)
        if href in self._settling:
            self._settling.discard(href)
            run = self._members.pop(href, None)
            person = run.person(href) if run is not None else None
            if run is not None and person is not None:
                self._done(run, person)

    def report_answered(self, href: str) -> None:
        """Report ``href`` is over (its webhooks answered, its branches ran): its run is
        closed."""
        run = self._reporting.pop(href, None)
        if run is not None:
            run.closed = True
            self._changed(run)

    def of(self, href: str) -> CampaignRun | None:
        """The run conversation ``href`` (or ``campaign:<id>``) belongs to, if any."""
        return self._members.get(href)

    def answered(self, run_id: str, uri: str, outcome: str, href: str | None) -> None:
        """``uri``'s invitation for run ``run_id`` ended ``outcome``; their part runs
        under ``href`` (the conversation, or the declined/no_answer actions' instance;
        ``None``: nothing runs, they are done)."""
        run = self.runs.get(run_id)
        person = (
            next((p for p in run.people if p.uri == uri and p.outcome is None), None)
            if run
            else None
        )
        if run is None or person is None:
            return
        person.outcome = outcome
        self._changed(run)
        if href is None:
            self._done(run, person)
            return
        person.conversation = href
        self._members[href] = run
        self._event(run, "campaign_joined", href, uri=uri, outcome=outcome)

    def ended(self, href: str, instance: FlowInstance | None) -> None:
        """``href``'s part is over (its conversation ended, its branch ran); the person is
        done once the webhooks it started are answered too (:meth:`settled`): their
        branches may still set ``campaign.NAME``."""
        run = self.of(href)
        person = run.person(href) if run is not None else None
        if run is None or person is None:
            return
        if instance is not None and person.outcome == "accepted":
            person.state = instance.facts.last
            person.ended_by = instance.ended_by
        if self.waits(href):
            self._settling.add(href)
            return
        self._settling.discard(href)
        del self._members[href]
        self._done(run, person)

    def assign(self, href: str, name: str, value: Any) -> None:
        """``set: {campaign.NAME: value}`` in ``href``: ``UcwaFlowError`` outside a run."""
        run = self.of(href)
        if run is None:
            raise UcwaFlowError(
                f"set campaign.{name}: this conversation belongs to no campaign run"
            )
        run.variables[name] = value
        self._event(run, "campaign_set", href, name=name, value=value)
        self._changed(run)

    def lose_all(self) -> None:
        """Nothing the runs wait on will complete (the channel lost its conversations):
        each person still under way is done, and runs go on with the next ones."""
        for href in list(self._members):
            self.ended(href, None)

    # -- inside ------------------------------------------------------------------------------

    def _next(self, run: CampaignRun) -> None:
        if self._engine.closing:
            return  # stopping: the run ends here, unfinished and unreported
        if run.id in self._inviting:  # someone done at once: the loop below goes on
            return
        self._inviting.add(run.id)
        try:
            while run.waiting and run.busy < run.at_once:
                uri = run.waiting.popleft()
                run.people.append(Person(uri))
                self._event(run, "campaign_invited", uri=uri)
                self._changed(run)
                self._invite(run.flow, uri, run.id)
        finally:
            self._inviting.discard(run.id)
        if run.finished and not run.reported:
            self._report(run)

    def _close_gone(self, run: CampaignRun) -> None:
        """A restored run whose flow is gone (renamed, removed): closed, unreported."""
        log.warning(
            "campaign run %s: flow %s is gone; the run is closed without a report",
            run.id,
            run.flow,
        )
        run.reported = run.closed = True
        self._changed(run)
        del self.runs[run.id]
        for href in [href for href, of in self._members.items() if of is run]:
            del self._members[href]

    def _done(self, run: CampaignRun, person: Person) -> None:
        person.done = True
        self._event(run, "campaign_person_done", **person.view())
        self._changed(run)
        self._next(run)

    def _report(self, run: CampaignRun) -> None:
        run.reported = True
        self._changed(run)
        engine = self._engine
        href = f"campaign:{run.id}"
        name = run.flow
        flow = engine.catalog.get(name) if name in engine.catalog else None
        campaign = flow.outbound.campaign if flow and flow.outbound else None
        self._event(run, "campaign_finished", **_summary(run))
        if flow is None or campaign is None or campaign.report is None:
            run.closed = True
            del self.runs[run.id]
            return
        self._members[href] = run
        self._reports.append(href)
        for old in self._reports[:-_KEPT_REPORTS]:
            self._members.pop(old, None)
        del self._reports[:-_KEPT_REPORTS]
        instance = engine.new_instance(name, Conversation(href), None)
        engine.post(href, partial(self._run_report, run, instance))

    async def _run_report(self, run: CampaignRun, instance: FlowInstance) -> None:
        self._event(run, "campaign_report", **_summary(run))
        outbound = instance.flow.outbound
        assert outbound is not None
        assert outbound.campaign is not None
        report = outbound.campaign.report
        assert report is not None
        try:
            # the report list alone: its webhook, whose branches run when it answers
            await instance.on_outcome(
                Continuation(None), "campaign", "report", CAMPAIGN_REPORT, {}, report.location
            )
        finally:
            instance.close()
            if self.on_change is not None:  # a durable bot closes it once answered
                self._reporting[instance.href] = run
            self.runs.pop(run.id, None)  # the report's branches still see it (_members)

    def _changed(self, run: CampaignRun) -> None:
        if self.on_change is not None:
            self.on_change(run)

    def _event(self, run: CampaignRun, kind: str, href: str | None = None, **data: Any) -> None:
        engine = self._engine
        if engine.tracing:
            engine.emit(
                CampaignEvent(
                    at=engine.clock.monotonic(),
                    conversation=href or f"campaign:{run.id}",
                    kind=kind,
                    campaign=run.id,
                    data=data,
                )
            )


def _summary(run: CampaignRun) -> dict[str, Any]:
    outcomes = [p.outcome or "no_answer" for p in run.people]
    return {"people": len(run.people), **{o: outcomes.count(o) for o in sorted(set(outcomes))}}

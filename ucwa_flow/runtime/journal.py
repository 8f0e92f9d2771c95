"""What a durable engine decided since its last commit, held until the store has it.

An engine with a :class:`Journal` performs nothing that a restart could not repeat or
recognise: the requests its conversations decide (:class:`~ucwa_flow.runtime.outbox.Outgoing`)
and the webhooks they start (:class:`~ucwa_flow.runtime.webhooks.WebhookCall`) wait here
until the step that decided them is committed; the outcomes of sends (:class:`Sent`), the
conversations that changed and the transcript lines (built from the engine's trace records)
wait for the next commit. :meth:`Journal.take` hands everything over at once, as a
:class:`Page`, and starts a new one; whoever commits it performs the page's work afterwards.

A variable's change is a transcript line where it happened (a
:class:`~ucwa_flow.runtime.trace.VariableSet` record), among the lines of the step that
made it; the commit adds one for a change made otherwise (see
:class:`~ucwa_flow.runtime.changes.PageWriter`). An invitation the bot turned away (its
flow's invitation policy declined it, or the account was busy) is a :class:`Declined`: no
flow instance ever ran, and the commit keeps it as an ended conversation of its own.

The journal is plain bookkeeping: it knows nothing of the store's records (that is
:mod:`ucwa_flow.runtime.records`) and performs nothing.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.campaign_run import CampaignRun
from ucwa_flow.runtime.campaigns import CampaignEvent
from ucwa_flow.runtime.outbox import Outgoing, Sent
from ucwa_flow.runtime.webhooks import WebhookCall
from ucwa_flow.store import REDACTED

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["SHOWN", "Declined", "Journal", "Line", "Page"]


class Line(NamedTuple):
    """A transcript line: ``kind`` and its JSON ``data``; ``key`` makes it idempotent.
    (A named tuple: two per message, and a tuple is made in half the time of a frozen
    dataclass.)"""

    conversation: str
    at: float
    kind: str
    data: dict[str, Any]
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Declined:
    """An invitation the bot turned away, as the durable store keeps it.

    ``decision`` is the invitation metric's: ``decline`` (the flow's invitation policy:
    ``by`` its ``rule`` at ``location``, or its ``default``) or ``busy`` (``by`` the
    ``limits``: shed, declined, or left ``ringing`` when ``when_full`` is ``ring``).
    ``farewell`` is the text the bot accepts the invitation to say before it leaves, if
    any. ``flow`` and ``version`` are the flow that was routed to (name and digest),
    ``secrets`` its secret variables' names.
    """

    conversation: str
    caller_uri: str | None
    caller_name: str | None
    flow: str
    version: str
    secrets: frozenset[str]
    decision: str  # decline | busy
    by: str  # rule | default | limits
    location: str | None = None
    farewell: str | None = None
    ringing: bool = False

    def to_data(self) -> dict[str, Any]:
        """The transcript line's data (``docs/transcripts.md``)."""
        data: dict[str, Any] = {
            "decision": self.decision,
            "by": self.by,
            "flow": self.flow,
            "answer": "ringing" if self.ringing else "declined",
        }
        if self.location is not None:
            data["location"] = self.location
        if self.farewell is not None:
            data["farewell"] = self.farewell
        return data


@dataclass(slots=True)
class Page:
    """Everything decided between two commits."""

    touched: dict[str, FlowInstance] = field(default_factory=dict)
    outgoing: list[Outgoing] = field(default_factory=list)
    webhooks: list[WebhookCall] = field(default_factory=list)
    invites: list[str] = field(default_factory=list)  # operationIds to send
    accepts: list[tuple[str, str]] = field(default_factory=list)  # (conversation, accept link)
    outcomes: list[Sent] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    campaigns: dict[str, CampaignRun] = field(default_factory=dict)  # runs changed, by id
    #: round-robin turns taken: (flow, agent who accepted) -> the flow's turn count
    rotations: dict[tuple[str, str], int] = field(default_factory=dict)
    #: whose secrets a conversation without an instance of its own keeps (a handoff's agent)
    owners: dict[str, FlowInstance] = field(default_factory=dict)
    #: the instances whose webhooks answered, by conversation: whose secrets its lines keep
    #: out where the engine follows it no more (an ``ended`` handler's webhook, a report)
    answered: dict[str, FlowInstance] = field(default_factory=dict)
    #: the last value a variable line of the page gave, by (conversation, variable): of
    #: the flow's own variables (not a sub-flow's), which the commit measures
    shown: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: invitations turned away, with when (epoch seconds)
    declines: list[tuple[float, Declined]] = field(default_factory=list)
    #: invitations given up before the server named them, since when (epoch seconds), or
    #: ``None``: named since (or never to be), in order
    abandoned: dict[str, float | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.declines
            or self.campaigns
            or self.rotations
            or self.touched
            or self.outgoing
            or self.webhooks
            or self.invites
            or self.accepts
            or self.outcomes
            or self.lines
            or self.answered  # an ended conversation's work changed (after_end)
            or self.abandoned
        )


#: the kinds of trace record :meth:`Journal.trace` keeps or looks at (a transcript shows
#: no other: most records of a step, which an engine with a journal alone does not build)
SHOWN: frozenset[type] = frozenset(
    (
        t.MessageIn,
        t.StateEntered,
        t.FlowError,
        t.TimeoutFired,
        t.OutcomeReceived,
        t.Ended,
        CampaignEvent,
        t.BridgeEvent,
        t.VersionChanged,
        t.HandlerMatched,
        t.VariableSet,
    )
)


class Journal:
    """The page being written, and a signal that there is something to commit.

    ``now`` gives the wall clock as epoch seconds (the times transcript lines carry).
    ``secrets`` names the secret variables of the flow each conversation runs (by href; a
    set: the same for all): a message that a handler captured one from is kept redacted.
    """

    def __init__(
        self, now: Any, secrets: frozenset[str] | Callable[[str], frozenset[str]] = frozenset()
    ) -> None:
        self._now = now
        self.secrets: Callable[[str], frozenset[str]] = (
            secrets if callable(secrets) else lambda _href: secrets
        )
        #: the flow state each conversation that ended was in (its record keeps it)
        self.ended_in: dict[str, str | None] = {}
        self._page = Page()
        self.news = asyncio.Event()
        #: called when something other than a send's outcome is added (a commit that
        #: waits only for outcomes to join a batch's commit goes ahead then)
        self.on_work: Callable[[], None] | None = None
        #: called when the outcome of a send is added
        self.on_outcome: Callable[[], None] | None = None

    def __bool__(self) -> bool:
        return bool(self._page)

    @property
    def page(self) -> Page:
        """The page being written (read only: see :meth:`take`)."""
        return self._page

    @property
    def outcomes_only(self) -> bool:
        """Whether the page holds the outcomes of sends and nothing else."""
        page = self._page
        return bool(page.outcomes) and not (
            page.touched
            or page.outgoing
            or page.webhooks
            or page.invites
            or page.lines
            or page.campaigns
            or page.rotations
            or page.declines
            or page.answered
            or page.abandoned
        )

    def _work(self) -> None:
        self.news.set()
        if self.on_work is not None:
            self.on_work()

    def touch(self, instance: FlowInstance) -> None:
        """``instance`` may have changed: its record goes into the next commit."""
        self._page.touched[instance.href] = instance
        self._work()

    def owned(self, href: str, instance: FlowInstance) -> None:
        """Conversation ``href`` (a handoff's agent) has no instance: its messages keep the
        secrets of ``instance`` (the caller's) out of the transcript."""
        self._page.owners[href] = instance

    def answered(self, instance: FlowInstance) -> None:
        """A webhook of ``instance`` answered: the lines its branch writes keep the
        instance's secrets out, and go into the next commit, even when the conversation has
        ended (a webhook of its ``ended`` handler) and nothing touches it any more."""
        self._page.answered[instance.href] = instance
        self._work()

    def abandoned(self, op: str, kept: bool) -> None:
        """The invitation ``op`` was given up before the server named it (``kept``), or
        it was named since: the next commit keeps it, or drops it."""
        page = self._page.abandoned
        page.pop(op, None)  # the last change comes last
        page[op] = self._now() if kept else None
        self._work()

    def campaign(self, run: CampaignRun) -> None:
        """Campaign run ``run`` changed: it goes into the next commit."""
        self._page.campaigns[run.id] = run
        self._work()

    def rotation(self, flow: str, agent: str, turn: int) -> None:
        """``agent`` accepted a handoff of ``flow``, its ``turn``: the next commit keeps it."""
        self._page.rotations[flow, agent] = turn
        self._work()

    def send(self, item: Outgoing) -> None:
        self._page.outgoing.append(item)
        if item.kind == "message":
            data = {"text": item.text, "html": item.html}
            self.line(item.conversation, "message_out", data, key=item.operation_context)
        self._work()

    def start(self, call: WebhookCall) -> None:
        self._page.webhooks.append(call)
        self._work()

    def invite(self, op: str) -> None:
        self._page.invites.append(op)
        self._work()

    def accept(self, conversation: str, link: str) -> None:
        """Accept the invitation to ``conversation`` (``link``) once this step is committed."""
        self._page.accepts.append((conversation, link))
        self._work()

    def declined(self, declined: Declined) -> None:
        """An invitation was turned away: the next commit keeps it (a line, and an ended
        conversation of its own)."""
        at = self._now()
        self._page.declines.append((at, declined))
        href = declined.conversation
        self._page.lines.append(Line(href, at, "declined", declined.to_data()))
        self._work()

    def sent(self, result: Sent) -> None:
        self._page.outcomes.append(result)
        self.news.set()
        if self.on_outcome is not None:
            self.on_outcome()

    def line(
        self, conversation: str, kind: str, data: dict[str, Any], key: str | None = None
    ) -> None:
        self._page.lines.append(Line(conversation, self._now(), kind, data, key))

    def trace(self, record: t.Trace) -> None:
        """Keep what a transcript shows of ``record`` (a message out is kept by :meth:`send`)."""
        if type(record) not in SHOWN:
            return
        href = record.conversation
        if isinstance(record, t.MessageIn):
            self.line(href, "message_in", {"text": record.text})
        elif isinstance(record, t.StateEntered):
            self.line(href, "state", {"state": record.state, "previous": record.previous})
        elif isinstance(record, t.FlowError):
            where = _where(record.location)
            self.line(href, "error", {"message": record.message, "location": where})
        elif isinstance(record, t.TimeoutFired):
            self.line(href, "timeout", {"state": record.state, "after": record.after})
        elif isinstance(record, t.OutcomeReceived):
            outcome: dict[str, Any] = {"action": record.action, "branch": record.branch}
            if record.result is not None:
                outcome["result"] = dict(record.result)
            self.line(href, "outcome", outcome)
        elif isinstance(record, t.Ended):
            ended = {"reason": f"ended by the {record.by}", "state": record.state}
            if record.why is not None:
                ended["why"] = record.why
            self.line(href, "ended", ended)
            self.ended_in[href] = record.state
        elif isinstance(record, CampaignEvent):  # which run, who, its variables
            self.line(href, record.kind, {"campaign": record.campaign, **record.data})
        elif isinstance(record, t.BridgeEvent):
            # the texts relayed are the message lines already (both conversations)
            bridge = {"agent": record.agent, "agents": list(record.agents), "by": record.by}
            if record.name:
                bridge["name"] = record.name
            self.line(href, record.kind, bridge)
        elif isinstance(record, t.VariableSet):
            name, value = record.name, record.value
            if isinstance(value, dict | list):  # kept as it is now
                value = copy.deepcopy(value)
            self.line(href, "variable", {"name": name, "value": value})
            if not record.in_subflow:  # a sub-flow's variable of the same name is another
                self._page.shown[href, name] = value
        elif isinstance(record, t.VersionChanged):
            data = {"flow": record.flow, "from": record.old, "to": record.new}
            self.line(href, "version", data)
        elif isinstance(record, t.HandlerMatched):
            captures = record.captures
            if captures and not self.secrets(href).isdisjoint(captures):
                self._redact_last_message_in(href)

    def _redact_last_message_in(self, href: str) -> None:
        """The caller's message just handled put a secret into a variable: the message
        itself is not kept either."""
        lines = self._page.lines
        for i in range(len(lines) - 1, -1, -1):
            line = lines[i]
            if line.conversation == href and line.kind == "message_in":
                lines[i] = Line(href, line.at, line.kind, {"text": REDACTED}, line.key)
                return

    def take(self) -> Page:
        """The page so far; a new one starts."""
        page, self._page = self._page, Page()
        self.news.clear()
        return page

    def put_back(self, page: Page) -> None:
        """A commit of ``page`` failed: its contents go first into the next one."""
        current, self._page = self._page, page
        page.touched.update(current.touched)
        page.outgoing.extend(current.outgoing)
        page.webhooks.extend(current.webhooks)
        page.invites.extend(current.invites)
        page.accepts.extend(current.accepts)
        page.outcomes.extend(current.outcomes)
        page.lines.extend(current.lines)
        page.campaigns.update(current.campaigns)
        page.rotations.update(current.rotations)  # an agent's later acceptance wins
        page.owners.update(current.owners)
        page.shown.update(current.shown)
        page.answered.update(current.answered)
        page.declines.extend(current.declines)
        for op, at in current.abandoned.items():  # the later change of an invitation wins
            page.abandoned.pop(op, None)
            page.abandoned[op] = at
        self._work()


def _where(location: Any) -> str | None:
    return str(location) if location is not None else None

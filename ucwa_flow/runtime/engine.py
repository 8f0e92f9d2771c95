"""The engine: event-channel items in, flow instances driven, UCWA operations out.

:class:`Engine` is the runtime's centre. It takes the items of an
:class:`~ucwa_flow.ucwa.EventChannel` (decoded batches, ``ConversationsLost``) in order,
turns records into lifecycle changes with the :class:`~ucwa_flow.lifecycle.LifecycleTracker`,
and turns those into inputs of :class:`~ucwa_flow.runtime.instance.FlowInstance` objects
(:mod:`.inputs`):

* an incoming invitation is routed to one of the catalog's flows, whose invitation policy
  accepts or declines it; past the :class:`~ucwa_flow.runtime.limits.Limits` it is shed
  (:mod:`ucwa_flow.runtime.answering`);
* messaging Connected enters the start state, then the invitation's first message is
  handled as the caller's first message (unless ``settings.first_message`` is
  ``route_only``: then it only served the invitation policy);
* each incoming message goes to the handlers (to the agent while a handoff bridges the
  caller: :mod:`.bridge`); a failed delivery to ``delivery_failed``;
* Disconnected (the caller hung up) fires ``ended``;
* a channel that lost track of the conversations (resync, resume): :mod:`.loss`.

Ordering: every conversation has a mailbox. Inputs for one conversation run strictly one
after another, in arrival order; different conversations run concurrently. Handling a batch
only posts to mailboxes, so a slow webhook in one conversation never delays another, and
the channel can poll again at once.

Timers (state, idle, invite timeouts) run on the injected clock, posted to the mailbox.

Flows: the engine runs the flows of a :class:`~ucwa_flow.runtime.routing.Catalog` (a bare
flow is a catalog of one); each conversation runs one version of one of them
(:attr:`FlowInstance.flow_name`, ``instance.flow.digest``). :meth:`Engine.reload` puts a
new version in place while conversations run (:mod:`ucwa_flow.runtime.versions`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Sequence
from functools import partial
from typing import Any

import httpx

from ucwa_flow.clock import Clock, TimerHandle
from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Flow
from ucwa_flow.lifecycle import Conversation, LifecycleTracker
from ucwa_flow.runtime import shutdown
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.answering import Answering
from ucwa_flow.runtime.bridge import Bridges
from ucwa_flow.runtime.campaigns import Campaigns
from ucwa_flow.runtime.delivery import settle_sent
from ucwa_flow.runtime.inputs import Inputs
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.invites import Invitations
from ucwa_flow.runtime.limits import Limits
from ucwa_flow.runtime.loss import lose_all
from ucwa_flow.runtime.mailboxes import Mailboxes
from ucwa_flow.runtime.outbox import Outgoing, Sender, sent_record
from ucwa_flow.runtime.port import Port
from ucwa_flow.runtime.routing import Catalog
from ucwa_flow.runtime.runner import Runner
from ucwa_flow.runtime.versions import Reloaded, Versions
from ucwa_flow.runtime.webhook_calls import WebhookCalls
from ucwa_flow.runtime.webhooks import WebhookCaller
from ucwa_flow.ucwa import ConversationsLost
from ucwa_flow.ucwa.events import EventBatch

__all__ = ["Engine"]

log = logging.getLogger("ucwa_flow.runtime")


class Engine(Inputs):
    """Runs the flows of ``flows`` for every conversation of one signed-in bot.

    ``flows`` is a :class:`~ucwa_flow.runtime.routing.Catalog`, or one flow (a catalog of
    that flow alone, under its own name). ``port`` performs UCWA operations; ``clock`` times
    everything; ``sink`` receives every :class:`~ucwa_flow.runtime.trace.Trace` (and a
    durable bot's ``journal`` those it keeps: :class:`~.tracing.Traced`); ``http`` is
    the client webhooks use (a new one with default settings when omitted); ``limits`` say
    when new invitations are shed.
    """

    def __init__(
        self,
        flows: Flow | Catalog,
        port: Port,
        clock: Clock,
        sink: t.TraceSink | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        limits: Limits = Limits(),  # noqa: B008 (frozen)
    ) -> None:
        super().__init__(sink)
        self.versions = Versions(flows if isinstance(flows, Catalog) else Catalog.of(flows))
        self.port = port
        self.clock = clock
        self.tracker = LifecycleTracker()
        self.calls = WebhookCalls(self, WebhookCaller(http))
        self.invitations = Invitations(self)
        self.campaigns: Campaigns = self.invitations.outbound.campaigns  # the campaign runs
        self.campaigns.waits = lambda href: bool(self.calls.pending(href))
        self.calls.on_answered = self.campaigns.settled
        self.bridges = Bridges(self)  # handoffs: searches for agents, and bridges
        # what an instance's invite, webhook and handoff actions begin (Services)
        self.begin_invite = self.invitations.begin
        self.begin_webhook = self.calls.begin
        self.begin_handoff = self.bridges.begin
        self.answers = Answering(self, limits)
        self._instances: dict[str, FlowInstance] = {}
        self._runner = Runner()  # runs steps and sends in turns (not a task each)
        self._mailboxes = Mailboxes(self._stepped, self._runner)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.sender = Sender(port, self._sent, self._runner)
        #: the bot account's SIP URI (``conversation.account``), set by the bot
        self.account = ""

    # -- public ---------------------------------------------------------------------------

    # stopping (:mod:`.shutdown`): methods written there
    stop_all = shutdown.stop_all
    aclose = shutdown.aclose

    @property
    def instances(self) -> dict[str, FlowInstance]:
        """The live flow instances, by conversation href."""
        return self._instances

    def secrets_owner(self, href: str) -> FlowInstance | None:
        """The instance whose secret variables conversation ``href``'s texts keep out: its
        own, else, for a handoff's agent, the caller's (the agent's has none)."""
        instances = self._instances
        return instances.get(href) or instances.get(self.bridges.agents.get(href, ""))

    @property
    def catalog(self) -> Catalog:
        """The flows this engine runs (their current versions)."""
        return self.versions.catalog

    @property
    def flow(self) -> Flow:
        """The current version of the default flow."""
        catalog = self.versions.catalog
        return catalog.get(catalog.default)

    @property
    def shed(self) -> int:
        """Invitations shed because the account was full (:class:`Limits`), so far."""
        return self.answers.shed

    @property
    def closing(self) -> bool:
        """Stopping: new invitations are left unanswered."""
        return self._closing

    def stop_answering(self) -> None:
        """Leave new invitations unanswered from now on (a graceful stop's first step)."""
        self._closing = True

    def active(self) -> Counter[tuple[str, str]]:
        """Live conversations by (flow name, flow state); ``(new)``: not connected yet."""
        return Counter(
            (instance.flow_name, instance.state)
            for instance in self._instances.values()
            if not instance.ended
        )

    def reload(self, name: str, flow: Flow) -> Reloaded:
        """Run ``flow`` as flow ``name`` from now on (see :mod:`ucwa_flow.runtime.versions`):
        new conversations get it at once; running ones move to it between two steps when
        their state (and pending work) exists in it, else keep their version to the end."""
        return self.versions.reload(self, name, flow)

    def start_outbound(self, name: str, invitee: str | Sequence[str] | None = None) -> str | None:
        """Invite ``invitee`` to a conversation running flow ``name`` (its ``outbound``
        section): see :meth:`Answering.start_outbound <ucwa_flow.runtime.answering>`."""
        return self.answers.start_outbound(name, invitee)

    def handle(self, item: EventBatch | ConversationsLost) -> None:
        """Take one channel item; returns at once (the work is posted to mailboxes)."""
        if isinstance(item, ConversationsLost):
            lose_all(self, item)
            return
        for record in item.events:
            for change in self.tracker.apply(record):
                self._dispatch(change)
        if self.answers.held:  # new invitations after the inputs of conversations under way
            self.answers.flush()

    def replying(self) -> bool:
        """Whether conversations have work pending: busy answers wait (:mod:`.turns`)."""
        journal = self._journal
        deciding = journal is not None and bool(journal) and not journal.outcomes_only
        return self._mailboxes.busy or self.sender.busy or deciding

    @property
    def busy(self) -> bool:
        """True while any conversation has work queued or a webhook/invite is starting."""
        return self._mailboxes.busy or self.sender.busy or any(not t.done() for t in self._tasks)

    async def idle(self) -> None:
        """Wait until every mailbox is empty and no send, webhook or invite start is running."""
        while busy := [
            *self._mailboxes.running(),
            *self.sender.running(),
            *(t for t in self._tasks if not t.done()),
        ]:
            await asyncio.wait(busy)

    async def drained(self) -> None:
        """Wait until every conversation has handled every input given to it so far
        (webhooks and sends still under way are not waited for)."""
        await self._mailboxes.drained()

    # -- what instances ask of the engine -------------------------------------------------

    def later(self, op: str, origin: str | None) -> bool:
        if self._journal is None:
            return False
        self._journal.invite(op)
        self.touch(origin or "")
        return True

    def abandoned(self, op: str, kept: bool) -> None:
        if self._journal is not None:
            self._journal.abandoned(op, kept)

    def new_instance(
        self,
        name: str,
        conv: Conversation,
        caller_uri: str | None,
        caller_name: str | None = None,
        flow: Flow | None = None,
    ) -> FlowInstance:
        """A run of flow ``name`` (its current version, or ``flow``) in ``conv``, not
        followed yet (see :attr:`instances`)."""
        return self.versions.instance(self, name, conv, caller_uri, caller_name, flow)

    def adopt(self, conv: Conversation, caller_uri: str, name: str | None = None) -> None:
        """Run flow ``name`` (the default flow) in a conversation the bot started (an
        accepted outbound invitation)."""
        instance = self.new_instance(name or self.catalog.default, conv, caller_uri)
        self._instances[conv.href] = instance
        if conv.messaging.state == "Connected":
            self.post(conv.href, partial(self._connected, conv.href))

    # -- what conversations send -----------------------------------------------------------

    def send(self, item: Outgoing) -> None:
        """A conversation decided to send ``item``: send it (after the queued ones), or,
        with a journal, once the step that decided it is committed."""
        if self._journal is not None:
            self._journal.send(item)
        else:
            self.sender.send_one(item)

    def _sent(self, item: Outgoing, message: str | None, error: Exception | None) -> None:
        """An outgoing request is over (its :class:`Sent`): the journal notes it, then
        :func:`~ucwa_flow.runtime.delivery.settle_sent`. Without a journal, a request that
        went out, not quiet and not traced, needs neither (no record made: one a send)."""
        if self._journal is not None or error is not None or item.quiet or self.tracing:
            result = sent_record(item, message, error)
            if self._journal is not None:
                self._journal.sent(result)
            settle_sent(self, result)
        if (turns := self.answers.turns).waiting:  # (a call less when none waits)
            turns.nudge()

    # -- mailboxes, timers, tasks ---------------------------------------------------------

    def post_timer(self, instance: FlowInstance, delay: float, epoch: int) -> TimerHandle:
        return self.clock.call_later(delay, Engine._time_is_up, self, instance, epoch)

    def _time_is_up(self, instance: FlowInstance, epoch: int) -> None:  # no bound method held
        self.post(instance.href, partial(instance.on_timer, epoch))

    def _stepped(self, href: str) -> None:
        """A job of ``href`` is over: a handoff may end; its record goes into the next commit."""
        if (turns := self.answers.turns).waiting:  # (a call less when none waits)
            turns.nudge()
        if self.bridges.searches:  # (a call less without one)
            self.bridges.stepped(href)
        if self._journal is not None:  # (a call less without one)
            self.touch(href)

    def touch(self, href: str) -> None:
        """With a journal, conversation ``href``'s record goes into the next commit."""
        if self._journal is not None and (instance := self._instances.get(href)) is not None:
            self._journal.touch(instance)

    def spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.add(asyncio.ensure_future(self._tracked(coro)))

    async def _tracked(self, work: Awaitable[None]) -> None:
        try:  # forgets its own task when done (a done callback costs a loop round a send)
            await work
        finally:
            self._tasks.discard(asyncio.current_task())

    async def safely(self, op: Awaitable[None], href: str) -> None:
        try:
            await op
        except (UcwaFlowError, httpx.HTTPError) as exc:
            log.warning("%s: %s", href, exc)
            self.emit(
                t.FlowError(
                    at=self.clock.monotonic(), conversation=href, message=str(exc), location=None
                )
            )

    def conversation(self, href: str) -> Conversation | None:
        """The tracker's view of a conversation (links, lifecycle states)."""
        return self.tracker.get(href)

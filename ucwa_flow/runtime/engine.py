"""The engine: event-channel items in, flow instances driven, UCWA operations out.

:class:`Engine` is the runtime's centre. It takes the items of an
:class:`~ucwa_flow.ucwa.EventChannel` (decoded batches, ``ConversationsLost``) in order,
turns records into lifecycle changes with the :class:`~ucwa_flow.lifecycle.LifecycleTracker`,
and turns those into inputs of :class:`~ucwa_flow.runtime.instance.FlowInstance` objects:

* an incoming invitation goes to the flow's invitation policy (accept or decline);
* messaging Connected enters the start state, then the invitation's first message is
  handled as the caller's first message;
* each incoming message goes to the handlers; a failed delivery to ``delivery_failed``;
* Disconnected (the caller hung up) fires ``ended``.

Ordering: every conversation has a mailbox. Inputs for one conversation run strictly one
after another, in arrival order; different conversations run concurrently. Handling a batch
only posts to mailboxes, so a slow webhook in one conversation never delays another, and
the channel can poll again at once.

Timers (state timeouts, idle timeout, invite timeouts) run on the injected clock; their
firing is posted to the conversation's mailbox like any other input.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from ucwa_flow.clock import Clock, TimerHandle
from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Flow, Invite, Webhook, template_context
from ucwa_flow.lifecycle import (
    Change,
    Conversation,
    ConversationEnded,
    ConversationState,
    InvitationEnded,
    InvitationReceived,
    LifecycleTracker,
    MessageDelivery,
    MessageReceived,
    MessagingState,
    Outcome,
)
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.instance import Continuation, FlowInstance, FlowMachine
from ucwa_flow.runtime.port import Port
from ucwa_flow.ucwa import ConversationsLost
from ucwa_flow.ucwa.events import EventBatch

__all__ = ["Engine"]

log = logging.getLogger("ucwa_flow.runtime")

Job = Callable[[], Awaitable[None]]

_BRANCH = {Outcome.ACCEPTED: "accepted", Outcome.DECLINED: "declined"}


@dataclass(slots=True)
class _PendingInvite:
    origin: str  # the conversation whose flow asked for the invite
    action: Invite
    rest: Continuation
    timer: TimerHandle | None = None
    conversation: str | None = None  # the new conversation, once the server names it


@dataclass(slots=True)
class _PendingOutbound:
    to: str
    timer: TimerHandle | None = None
    conversation: str | None = None


class _Mailbox:
    __slots__ = ("jobs", "task")

    def __init__(self) -> None:
        self.jobs: deque[Job] = deque()
        self.task: asyncio.Task[None] | None = None


class Engine:
    """Runs one flow for every conversation of one signed-in bot.

    ``port`` performs UCWA operations; ``clock`` times everything; ``sink`` receives every
    :class:`~ucwa_flow.runtime.trace.Trace`; ``http`` is the client webhooks use (a new one
    with default settings when omitted).
    """

    def __init__(
        self,
        flow: Flow,
        port: Port,
        clock: Clock,
        sink: t.TraceSink | None = None,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.flow = flow
        self.port = port
        self.clock = clock
        self.tracker = LifecycleTracker()
        self.machine = FlowMachine(flow)
        self._sink = sink
        self._http = http
        self._own_http = http is None
        self._instances: dict[str, FlowInstance] = {}
        self._first_text: dict[str, str] = {}
        self._start_state: dict[str, str] = {}
        self._mailboxes: dict[str, _Mailbox] = {}
        self._invites: dict[str, _PendingInvite] = {}  # by operation id
        self._side: dict[str, str] = {}  # accepted invite conversation -> origin
        self._outbound: dict[str, _PendingOutbound] = {}  # outbound-flow invites by op id
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- public ---------------------------------------------------------------------------

    @property
    def instances(self) -> dict[str, FlowInstance]:
        """The live flow instances, by conversation href."""
        return self._instances

    def emit(self, record: t.Trace) -> None:
        if self._sink is not None:
            self._sink(record)

    def handle(self, item: EventBatch | ConversationsLost) -> None:
        """Take one channel item; returns at once (the work is posted to mailboxes)."""
        if isinstance(item, ConversationsLost):
            self._lose_all(item)
            return
        for record in item.events:
            for change in self.tracker.apply(record):
                self._dispatch(change)

    @property
    def busy(self) -> bool:
        """True while any conversation has work queued or a webhook/invite is starting."""
        return any(m.task is not None for m in self._mailboxes.values()) or any(
            not task.done() for task in self._tasks
        )

    async def idle(self) -> None:
        """Wait until every mailbox is empty and no webhook or invite start is running."""
        while True:
            busy = [m.task for m in self._mailboxes.values() if m.task is not None]
            busy += [task for task in self._tasks if not task.done()]
            if not busy:
                return
            await asyncio.wait(busy)

    async def aclose(self) -> None:
        """Stop every live conversation from the bot's side and release everything."""
        self._closing = True
        for instance in list(self._instances.values()):
            if not instance.ended:
                self._post(instance.href, partial(instance.stop, "shutdown"))
        await self.idle()
        for task in self._tasks:
            task.cancel()
        for instance in self._instances.values():
            instance.close()
        self._instances.clear()
        if self._own_http and self._http is not None:
            await self._http.aclose()

    # -- lifecycle changes -> flow inputs -------------------------------------------------

    def _dispatch(self, change: Change) -> None:
        href = change.conversation
        if isinstance(change, InvitationReceived):
            self._post(href, partial(self._answer, change))
        elif isinstance(change, MessagingState):
            self._lifecycle(href, "messaging", change.old, change.new)
            if change.new == "Connected":
                self._post(href, partial(self._connected, href))
        elif isinstance(change, MessageReceived):
            if change.text is not None:
                self._post(href, partial(self._message, href, change.text))
        elif isinstance(change, MessageDelivery):
            if not change.delivered:
                self._post(href, partial(self._delivery_failed, href))
        elif isinstance(change, InvitationEnded):
            self._invitation_ended(change)
        elif isinstance(change, ConversationState):
            self._lifecycle(href, "conversation", change.old, change.new)
        elif isinstance(change, ConversationEnded):
            self._post(href, partial(self._ended, href, "caller"))

    async def _message(self, href: str, text: str) -> None:
        instance = self._instances.get(href)
        if instance is not None:
            await instance.on_message(text)

    async def _delivery_failed(self, href: str) -> None:
        instance = self._instances.get(href)
        if instance is not None:
            await instance.on_delivery_failed()

    async def _answer(self, change: InvitationReceived) -> None:
        conv = self.tracker.get(change.conversation)
        if conv is None or self._closing:
            return
        policy = self.flow.invitation
        caller = change.from_uri or ""
        rule = policy.decide(caller, change.subject or "", self.clock.now())
        decision = rule.action if rule is not None else policy.default
        self.emit(
            t.InvitationDecided(
                at=self.clock.monotonic(),
                conversation=conv.href,
                caller=change.from_uri,
                decision=decision,
                location=rule.location if rule else policy.location,
            )
        )
        if decision == "decline":
            if change.decline_href:
                await self._safely(self.port.decline(change.decline_href), conv.href)
            self.tracker.forget(conv.href)
            return
        instance = FlowInstance(
            self.flow, self.machine, self, conv, change.from_uri, change.from_name
        )
        self._instances[conv.href] = instance
        if rule is not None and rule.goto:
            self._start_state[conv.href] = rule.goto
        if change.text:
            self._first_text[conv.href] = change.text
        if change.accept_href:
            await self._safely(self.port.accept(change.accept_href), conv.href)

    async def _connected(self, href: str) -> None:
        instance = self._instances.get(href)
        if instance is None or instance.state != FlowMachine.NEW:
            return
        await instance.start(self._start_state.pop(href, None))
        first = self._first_text.pop(href, None)
        if first is not None:
            await instance.on_message(first)

    async def _ended(self, href: str, by: str) -> None:
        for side, origin in list(self._side.items()):
            if origin == href:
                del self._side[side]
                await self._end_side(side)
        self._side.pop(href, None)
        instance = self._instances.pop(href, None)
        if instance is not None:
            await instance.on_ended(by)
            instance.close()
        self._first_text.pop(href, None)
        self._start_state.pop(href, None)
        self.tracker.forget(href)

    def _lose_all(self, item: ConversationsLost) -> None:
        log.warning("the server lost every conversation (%s)", item.reason)
        for href in list(self._instances):
            self._post(href, partial(self._ended, href, "server"))
        for pending in self._invites.values():
            if pending.timer is not None:
                pending.timer.cancel()
        self._invites.clear()

    def _lifecycle(self, href: str, kind: str, old: str, new: str) -> None:
        self.emit(
            t.LifecycleChanged(
                at=self.clock.monotonic(), conversation=href, kind=kind, old=old, new=new
            )
        )

    # -- outbound flows: the bot starts the conversations ----------------------------------

    def start_outbound(self) -> None:
        """Invite everyone in the flow's ``outbound.to`` (no-op for flows without it)."""
        outbound = self.flow.outbound
        if outbound is None:
            return
        for to in outbound.to:
            op = uuid.uuid4().hex
            pending = self._outbound[op] = _PendingOutbound(to)
            pending.timer = self.clock.call_later(outbound.timeout, self._outbound_timed_out, op)
            self._spawn(self._invite_outbound(op, to))

    async def _invite_outbound(self, op: str, to: str) -> None:
        outbound = self.flow.outbound
        assert outbound is not None
        ctx = template_context(
            variables=self.flow.variables,
            flow=self.flow.name,
            caller_uri=to,
            now=self.clock.now(),
            timezone=self.flow.settings.timezone,
        )
        try:
            await self.port.start_messaging(
                to,
                subject=outbound.subject.render(ctx) if outbound.subject else None,
                importance=outbound.importance,
                message=outbound.message.render(ctx) if outbound.message else None,
                operation_id=op,
            )
        except (UcwaFlowError, httpx.HTTPError) as exc:
            self.emit(
                t.FlowError(
                    at=self.clock.monotonic(),
                    conversation="",
                    message=f"inviting {to} failed: {exc}",
                    location=outbound.location,
                )
            )
            self._outbound_ended(op, "no_answer")

    def _outbound_timed_out(self, op: str) -> None:
        pending = self._outbound.get(op)
        if pending is not None and pending.conversation is not None:
            self._spawn(self._safely(self.port.leave(pending.conversation), pending.conversation))
        self._outbound_ended(op, "no_answer")

    def _outbound_ended(self, op: str, branch: str, conversation: str | None = None) -> None:
        pending = self._outbound.pop(op, None)
        outbound = self.flow.outbound
        if pending is None or outbound is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        if branch == "accepted" and conversation is not None:
            conv = self.tracker.get(conversation)
            if conv is None:
                return
            instance = FlowInstance(self.flow, self.machine, self, conv, pending.to, None)
            self._instances[conversation] = instance
            if conv.messaging.state == "Connected":
                self._post(conversation, partial(self._connected, conversation))
            return
        # declined or no answer: the branch runs with no conversation to talk in
        if conversation is not None:
            self.tracker.forget(conversation)
        actions = (outbound.declined if branch == "declined" else outbound.no_answer) or ()
        detached = FlowInstance(
            self.flow, self.machine, self, Conversation(f"outbound:{pending.to}"), pending.to, None
        )
        self._post(detached.href, partial(self._run_detached, detached, branch, actions))

    async def _run_detached(
        self, instance: FlowInstance, branch: str, actions: tuple[Any, ...]
    ) -> None:
        assert self.flow.outbound is not None
        try:
            await instance.on_outcome(
                Continuation(()), "invite", branch, actions, {}, self.flow.outbound.location
            )
        finally:
            instance.close()

    # -- outbound invites -----------------------------------------------------------------

    def begin_invite(
        self,
        instance: FlowInstance,
        action: Invite,
        to: str,
        subject: str | None,
        message: str | None,
        rest: Continuation,
    ) -> None:
        op = uuid.uuid4().hex
        pending = _PendingInvite(instance.href, action, rest)
        self._invites[op] = pending
        pending.timer = self.clock.call_later(action.timeout, self._invite_timed_out, op)

        async def start() -> None:
            try:
                await self.port.start_messaging(
                    to,
                    subject=subject,
                    importance=action.importance,
                    message=message,
                    operation_id=op,
                )
            except (UcwaFlowError, httpx.HTTPError) as exc:
                instance.report_error(f"invite {to} failed: {exc}", action.location)
                self._resolve_invite(op, "no_answer")

        self._spawn(start())

    def _invite_timed_out(self, op: str) -> None:
        pending = self._invites.get(op)
        if pending is None:
            return
        if pending.conversation is not None:
            self._spawn(self._safely(self.port.leave(pending.conversation), pending.origin))
        self._resolve_invite(op, "no_answer")

    def _invitation_ended(self, change: InvitationEnded) -> None:
        op = change.operation_id
        if op is not None and op in self._outbound:
            self._outbound_ended(op, _BRANCH.get(change.outcome, "no_answer"), change.conversation)
        elif op is not None and op in self._invites:
            self._invites[op].conversation = change.conversation
            branch = _BRANCH.get(change.outcome, "no_answer")
            if branch == "accepted":
                self._side[change.conversation] = self._invites[op].origin
            else:
                self.tracker.forget(change.conversation)
            self._resolve_invite(op, branch)
        elif change.outcome is not Outcome.ACCEPTED and change.conversation in self._instances:
            # the caller gave up before we accepted
            self._post(change.conversation, partial(self._ended, change.conversation, "caller"))

    def _resolve_invite(self, op: str, branch: str) -> None:
        pending = self._invites.pop(op, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        instance = self._instances.get(pending.origin)
        if instance is None:
            return
        action = pending.action
        actions = getattr(action, branch) or ()
        self._post(
            instance.href,
            lambda: instance.on_outcome(
                pending.rest, "invite", branch, actions, {}, action.location
            ),
        )

    async def _end_side(self, href: str) -> None:
        conv = self.tracker.get(href)
        stop = conv.messaging.stop_messaging_href if conv is not None else None
        await self._safely(self.port.stop_messaging(stop) if stop else self.port.leave(href), href)
        self.tracker.forget(href)

    # -- webhooks -------------------------------------------------------------------------

    def begin_webhook(
        self,
        instance: FlowInstance,
        action: Webhook,
        url: str,
        headers: dict[str, str],
        body: Any,
        rest: Continuation,
    ) -> None:
        async def call() -> None:
            status: int | None = None
            data: Any = None
            error: str | None = None
            try:
                response = await self._client().request(
                    action.method,
                    url,
                    headers=headers,
                    json=body,
                    timeout=httpx.Timeout(action.timeout),
                )
                status = response.status_code
                try:
                    data = response.json() if response.content else None
                except ValueError:
                    data = None
                if not response.is_success:
                    error = f"{action.method} {url} answered {status}"
            except httpx.HTTPError as exc:
                error = f"{action.method} {url} failed: {type(exc).__name__} {exc}".strip()
            branch = "success" if error is None else "failure"
            actions = action.success if error is None else (action.failure or ())

            async def resume() -> None:
                if action.result is not None and error is None:
                    instance.variables[action.result] = data
                if error is not None:
                    instance.report_error(error, action.location)
                webhook = {"status": status, "json": data, "error": error}
                await instance.on_outcome(
                    rest, "webhook", branch, actions, {"webhook": webhook}, action.location
                )

            self._post(instance.href, resume)

        self._spawn(call())

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        return self._http

    # -- mailboxes, timers, tasks ---------------------------------------------------------

    def post_timer(
        self, instance: FlowInstance, delay: float, epoch: int, step: int
    ) -> TimerHandle:
        return self.clock.call_later(
            delay, self._post, instance.href, lambda: instance.on_timer(epoch, step)
        )

    def _post(self, href: str, job: Job) -> None:
        box = self._mailboxes.get(href)
        if box is None:
            box = self._mailboxes[href] = _Mailbox()
        box.jobs.append(job)
        if box.task is None:
            box.task = asyncio.get_running_loop().create_task(self._drain(href, box))

    async def _drain(self, href: str, box: _Mailbox) -> None:
        try:
            while box.jobs:
                job = box.jobs.popleft()
                try:
                    await job()
                except Exception:  # a bug must not kill the other conversations
                    log.exception("%s: unexpected error in the flow runtime", href)
        finally:
            box.task = None
            if not box.jobs and href not in self._instances:
                self._mailboxes.pop(href, None)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _safely(self, op: Awaitable[None], href: str) -> None:
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

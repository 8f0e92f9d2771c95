"""Trace records in, counters and histograms out: the metrics sink of one account.

:class:`TraceMetrics` is the :data:`~ucwa_flow.runtime.trace.TraceSink` that
:meth:`~ucwa_flow.observe.metrics.Metrics.sink` returns. It is called synchronously by the
engine for every trace record, so each call is a few dictionary operations.

Two measures need a start and an end, kept per conversation until the end comes:

* step latency: a :class:`~ucwa_flow.runtime.trace.MessageIn` starts it, the next
  :class:`~ucwa_flow.runtime.trace.MessageSent` of that conversation ends it: the caller's
  message to the first reply the server took (for a durable bot that includes the commit
  before the send); a step that sends nothing is not measured, the next message starts
  afresh;
* webhook latency: ``ActionDone(action="webhook")`` starts it, the
  ``OutcomeReceived(action="webhook")`` of that conversation ends it (first in, first out).

Both use the traces' ``at`` (the injected clock's monotonic time).

The flow label: ``flow_of(conversation)`` is asked the first time a conversation is seen and
the answer is kept for its life, since the engine forgets a conversation before its last
records (``Ended``, what its ``ended`` handler does) are emitted; ``Ended`` names the flow
itself, for a conversation first seen at its end. After its end it is
remembered among the last :data:`RECENT` ended conversations only (for a webhook of the
``ended`` handler that comes back later).

Memory: what is kept for a conversation is dropped at its
:class:`~ucwa_flow.runtime.trace.Ended` record; a bound on the number of entries guards
against conversations whose end never comes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from ucwa_flow.observe._families import Families
from ucwa_flow.runtime import trace as t

__all__ = ["MAX_PENDING", "RECENT", "TraceMetrics"]

#: conversations kept at most per account (per measure); the oldest go first beyond it
MAX_PENDING = 100_000
#: ended conversations whose flow is remembered, per account
RECENT = 1024
UNKNOWN = "unknown"  # the flow label when ``flow_of`` does not know the conversation

_STEP_KINDS = {t.HandlerMatched: "matched", t.NoMatch: "no_match", t.TimeoutFired: "timeout"}


class TraceMetrics:
    """The metrics sink of ``account`` (see the module docstring).

    ``flow_of(conversation)`` names the flow a conversation runs (the catalog name), or
    ``None`` when it does not know it (the flow label is then ``"unknown"``).
    """

    def __init__(
        self,
        families: Families,
        account: str,
        flow_of: Callable[[str], str | None],
        *,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._f = families
        self._max = max_pending
        self._account = account
        self._flow_of = flow_of
        self._asked: dict[str, float] = {}  # conversation -> its last MessageIn, unanswered
        self._webhooks: dict[str, deque[float]] = {}  # conversation -> webhook starts
        self._flows: dict[str, str] = {}  # conversation -> its flow, while it lives
        self._recent: dict[str, str] = {}  # the same, for the last RECENT ended ones
        # a message answered as the conversation ended ("Bye!"): its send ends after the end
        self._closing: dict[str, float] = {}
        self._handlers: dict[type[t.Trace], Callable[[Any], None]] = {
            t.MessageIn: self._message_in,
            t.MessageOut: self._message_out,
            t.MessageSent: self._message_sent,
            t.HandlerMatched: self._step,
            t.NoMatch: self._step,
            t.TimeoutFired: self._step,
            t.StateEntered: self._state_entered,
            t.Ended: self._ended,
            t.InvitationDecided: self._invitation,
            t.ActionDone: self._action,
            t.OutcomeReceived: self._outcome,
            t.FlowError: self._flow_error,
            t.BridgeEvent: self._bridge,
        }

    def __call__(self, record: t.Trace) -> None:
        handler = self._handlers.get(type(record))
        if handler is not None:
            handler(record)

    @property
    def pending(self) -> int:
        """Conversations with a start kept (observability of this sink's own memory)."""
        return len(self._asked.keys() | self._webhooks.keys() | self._flows.keys())

    # -- per record type ------------------------------------------------------------------

    def _flow(self, record: t.Trace) -> str:
        href = record.conversation
        flow = self._flows.get(href) or self._recent.get(href)
        if flow is None:
            flow = self._flow_of(href)
            if flow is None:
                return UNKNOWN
            self._flows[href] = flow
            _bound(self._flows, self._max)
        return flow

    def _message_in(self, record: t.MessageIn) -> None:
        self._f.messages.labels(self._account, self._flow(record), "in").inc()
        self._asked.pop(record.conversation, None)  # re-inserted: the newest last
        self._asked[record.conversation] = record.at
        _bound(self._asked, self._max)

    def _bridge(self, record: t.BridgeEvent) -> None:
        if record.event == "relay" and record.by == "caller":
            # relayed to a person (a handoff): its answer is not the bot's step latency
            self._asked.pop(record.conversation, None)

    def _message_out(self, record: t.MessageOut) -> None:
        self._f.messages.labels(self._account, self._flow(record), "out").inc()

    def _message_sent(self, record: t.MessageSent) -> None:
        href = record.conversation
        asked = self._asked.pop(href, None)
        if asked is None:
            asked = self._closing.pop(href, None)
        if asked is not None and record.ok:
            latency = max(0.0, record.at - asked)
            self._f.step_latency.labels(self._account, self._flow(record)).observe(latency)

    def _step(self, record: t.HandlerMatched | t.NoMatch | t.TimeoutFired) -> None:
        kind = _STEP_KINDS[type(record)]
        self._f.steps.labels(self._account, self._flow(record), record.state, kind).inc()

    def _state_entered(self, record: t.StateEntered) -> None:
        if record.previous is None:
            self._f.started.labels(self._account, self._flow(record)).inc()

    def _ended(self, record: t.Ended) -> None:
        href = record.conversation
        if record.flow is not None and href not in self._flows and href not in self._recent:
            # carried on after a restart, it may end before any other record: the engine
            # no longer knows it then, the record does
            self._flows[href] = record.flow
        flow = self._flow(record)
        self._f.ended.labels(self._account, flow, record.by).inc()
        asked = self._asked.pop(href, None)
        if asked is not None:
            self._closing[href] = asked
            _bound(self._closing, RECENT)
        self._webhooks.pop(href, None)
        if self._flows.pop(href, None) is not None:
            self._recent[href] = flow
            _bound(self._recent, RECENT)

    def _invitation(self, record: t.InvitationDecided) -> None:
        self._f.invitations.labels(self._account, record.decision).inc()

    def _action(self, record: t.ActionDone) -> None:
        if record.action == "webhook":
            starts = self._webhooks.get(record.conversation)
            if starts is None:
                starts = self._webhooks[record.conversation] = deque()
                _bound(self._webhooks, self._max)
            starts.append(record.at)

    def _outcome(self, record: t.OutcomeReceived) -> None:
        if record.action != "webhook":
            return
        flow = self._flow(record)
        result = "success" if record.branch == "success" else "failure"
        self._f.webhooks.labels(self._account, flow, result).inc()
        if result == "failure":
            self._f.errors.labels(self._account, flow, "webhook").inc()
        starts = self._webhooks.get(record.conversation)
        if starts:
            began = starts.popleft()
            if not starts:
                del self._webhooks[record.conversation]
            self._f.webhook_latency.labels(self._account, flow).observe(max(0.0, record.at - began))

    def _flow_error(self, record: t.FlowError) -> None:
        self._f.errors.labels(self._account, self._flow(record), "flow").inc()


def _bound(pending: dict[str, Any], limit: int) -> None:
    """Forget the oldest entries beyond ``limit`` (insertion order)."""
    while len(pending) > limit:
        del pending[next(iter(pending))]

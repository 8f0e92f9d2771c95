"""What a restarted durable bot is unsure it sent, and the order it keeps meanwhile.

A message committed to the outbox may or may not have gone out before the process died: it
is *in doubt* (:attr:`Doubt.pending`). The event channel tells: each message the bot sends
carries its own ``OperationContext``, echoed on the message's event. :meth:`Doubt.recognise`
takes, from a batch, the messages it reports as sent: those in doubt, and those this process
is sending whose answer is not committed yet (:attr:`Doubt.inflight`: the batch that reports
one is acknowledged once committed, so a later restart would never read that event again).

Until the bot has read far enough (:meth:`Doubt.caught_up`), what a conversation with
messages in doubt says waits behind them (:meth:`Doubt.route`, :attr:`Doubt.held`), so that a
timer overdue at the restart does not speak before the message that came first;
:meth:`Doubt.release` then hands over, in order, the messages still in doubt (never reported:
they are sent) and what waited behind them.

Plain bookkeeping: :class:`~ucwa_flow.runtime.durable.Durable` commits and sends.
"""

from __future__ import annotations

from collections.abc import Iterable

from ucwa_flow.runtime.outbox import Outgoing, Sent
from ucwa_flow.ucwa.events import Event, EventBatch, MessageEvent

__all__ = ["Doubt"]

_BARRIER = 2  # batches read after a restart, without a marker, before doubt is settled


class Doubt:
    """The messages in doubt after a restart, and what waits behind them."""

    def __init__(self) -> None:
        self.pending: dict[str, Outgoing] = {}  # by OperationContext
        self.inflight: dict[str, Outgoing] = {}  # sent by this process, answer not committed
        self.held: list[Outgoing] = []
        self.restarting = False  # until the batches read since the restart are enough
        self.since_restart = 0

    def recognise(self, batch: EventBatch) -> list[Sent]:
        """The messages ``batch`` reports as sent, in doubt or in flight (no longer either)."""
        found = []
        for event in batch.events:
            if isinstance(event, MessageEvent) and event.direction == "Outgoing":
                operation = event.operation_id or ""
                item = self.pending.pop(operation, None) or self.inflight.pop(operation, None)
                if item is not None:
                    found.append(Sent(item, message=event.link.href))
        return found

    def route(self, items: Iterable[Outgoing]) -> list[Outgoing]:
        """Of ``items``, those to send now; the others wait (see the module docstring)."""
        items = list(items)
        for item in items:
            if item.kind == "message":
                self.inflight[item.operation_context] = item
        if not self.pending and not self.held:
            return items
        waiting = {item.conversation for item in (*self.pending.values(), *self.held)}
        now = []
        for item in items:
            if item.conversation in waiting:
                self.held.append(item)
            else:
                now.append(item)
        return now

    def caught_up(self, item: EventBatch, marked: bool) -> bool:
        """Whether every event of what was done before the restart has been read.

        With a marker (``marked``), once a batch holding one is read, except the first after
        the restart: the server may hand that one out again as it built it before the
        restart, with an older marker in it; the next is built after the marker the bot put
        once it had read the first (all the server has goes out, in order). Without it,
        after two batches. A marker that never shows up is given up on after a few batches.
        """
        if not marked:
            return self.since_restart >= _BARRIER
        if any(_is_marker(event) for event in item.events):
            return self.since_restart > 1
        return self.since_restart >= _BARRIER + 2

    def release(self) -> list[Outgoing]:
        """Doubt is settled: what is still in doubt (never reported: to be sent) and what
        waited behind it, in order."""
        items = [*self.pending.values(), *self.held]
        self.pending, self.held, self.restarting = {}, [], False
        for item in items:  # sent now: in flight like any other (see recognise)
            if item.kind == "message":
                self.inflight[item.operation_context] = item
        return items

    def answered(self, result: Sent) -> None:
        """The answer to a send is being committed: it is no longer in flight."""
        self.inflight.pop(result.item.operation_context, None)


def _is_marker(event: Event) -> bool:
    return event.link.rel == "presence" and event.sender.rel == "me" and event.type == "updated"

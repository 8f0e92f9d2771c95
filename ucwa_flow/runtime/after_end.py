"""The work a conversation still has after its end: kept by a durable bot, carried on after
a restart.

A state's ``ended`` handler runs once the caller has left; its webhooks (a ticket filed,
the chat's outcome posted to a CRM) answer after the end, and their branch and the actions
after them run then (``Continuation.after_end``). A webhook a step started before the end
may still be waited on when it comes (its answer then runs nothing). A durable bot keeps
that work in the conversation's ended record, so that a crash does not lose it:

* the record's pending work: each webhook's request as rendered, with its
  ``Idempotency-Key``; beside it, :func:`resume_data` (the record's ``extra`` under
  :data:`MARK`): the variables the handler sees, the sub-flow call stack and the secret
  texts the conversation held. They hold real values, secrets included, as an active
  conversation's record does: the handler needs them, and its lines are cleaned of them.
  The ended record's variables are redacted as ever;
* :func:`after_end_of`: that work as it now stands (the store's
  :class:`~ucwa_flow.store.AfterEnd`), committed whenever it changes: a webhook answered,
  another one started. With none left (every webhook answered and its branch done) the
  record keeps no pending work and no :data:`MARK`, and no secret any more;
* :func:`carry_on_ended`: after a restart (whether or not the bot re-attached to its UCWA
  application: no conversation is needed), an instance rebuilt as ended, running the
  current version of its flow, waits on each webhook again: it is sent again with the same
  ``Idempotency-Key``, and its answer runs the rest of the handler as it would have without
  the restart. A webhook whose action that version no longer has (or whose flow the bot no
  longer runs) is reported (an ``error`` line) and dropped, as an active conversation's is;
  another version that still has it gets a ``version`` line. An invitation the handler
  started is not carried on: its answer runs nothing once the conversation has ended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ucwa_flow.flow import Webhook
from ucwa_flow.lifecycle import Conversation, load_conversation
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.calls import CallStack
from ucwa_flow.runtime.facts import Facts
from ucwa_flow.runtime.records import action_at, webhook_of, webhook_work
from ucwa_flow.runtime.webhooks import WebhookCall
from ucwa_flow.store import AFTER_END_MARK, AfterEnd, ConversationRecord

if TYPE_CHECKING:
    from ucwa_flow.runtime.engine import Engine
    from ucwa_flow.runtime.instance import FlowInstance
    from ucwa_flow.runtime.journal import Journal

__all__ = ["MARK", "after_end_of", "carry_on_ended", "held_secrets", "resume_data"]

log = logging.getLogger("ucwa_flow.runtime")

#: the key of an ended record's ``extra`` that holds :func:`resume_data` (the store's own)
MARK = AFTER_END_MARK


def resume_data(instance: FlowInstance, secrets: Sequence[str] = ()) -> dict[str, Any]:
    """What running the rest of ``instance``'s work after its end needs besides the
    webhooks: the variables its actions see (a sub-flow's, when it ended in one), the call
    stack (the callers' variables) and ``secrets``, every secret text the conversation
    held (one cleared before the end is in no variable): its answers' lines (a webhook's
    error names its URL) are cleaned of them after a restart too."""
    data: dict[str, Any] = {"variables": dict(instance.variables), "calls": list(instance.calls)}
    if secrets:
        data["secrets"] = list(secrets)
    return data


def after_end_of(
    instance: FlowInstance, calls: Iterable[WebhookCall], now: float, secrets: Sequence[str] = ()
) -> AfterEnd:
    """The work ended ``instance`` still waits on (``calls``: its webhooks), as a commit
    writes it (``now``: epoch seconds); none left when ``calls`` is empty (and with it
    go the ``secrets`` kept: see :func:`resume_data`)."""
    pending = tuple(map(webhook_work, calls))
    resume = resume_data(instance, secrets) if pending else None
    return AfterEnd(instance.href, pending, resume, now)


def held_secrets(record: ConversationRecord) -> list[str]:
    """The secret texts ended ``record`` keeps for the lines of its work after the end
    (:func:`resume_data`)."""
    data = record.extra.get(MARK)
    found = data.get("secrets") if isinstance(data, dict) else None
    return [s for s in found if isinstance(s, str)] if isinstance(found, list) else []


def carry_on_ended(engine: Engine, record: ConversationRecord, journal: Journal) -> int:
    """Wait again on the webhooks ended ``record`` kept (see the module docstring); how
    many are sent again."""
    href = record.conversation
    instance = _rebuilt(engine, record)
    known = record.flow in engine.catalog
    sent = dropped = 0
    for work in record.pending:
        if work.kind != "webhook":  # an invitation: its answer runs nothing any more
            dropped += 1
            continue
        where = f"{work.action.list_id}[{work.action.position}]"
        action = action_at(instance.flow, work.action.list_id, work.action.position)
        if not known or not isinstance(action, Webhook):
            why = (
                f"its flow {record.flow!r} is not run any more"
                if not known
                else f"the flow has no webhook at {where} any more"
            )
            instance.report_error(
                f"a webhook waited on after the end is not sent again: {why}", None
            )
            dropped += 1
            continue
        engine.calls.resume(instance, webhook_of(href, work), held_secrets(record))
        sent += 1
    if sent and record.flow_version != instance.flow.digest:
        engine.emit(
            t.VersionChanged(
                at=engine.clock.monotonic(),
                conversation=href,
                flow=instance.flow_name,
                old=record.flow_version,
                new=instance.flow.digest,
            )
        )
    if dropped:  # the record keeps only what is still waited on
        journal.answered(instance)
    return sent


def _rebuilt(engine: Engine, record: ConversationRecord) -> FlowInstance:
    """``record``'s instance as it was once it ended: its variables and call stack as its
    work after the end sees them, ended, closed (as an ended instance is at once)."""
    try:
        conv = load_conversation(record.extra["conversation"])
    except (KeyError, ValueError):
        conv = Conversation(record.conversation)  # no links: nothing can be said anyway
    conv.href = record.conversation  # the record's key, whatever its data says
    name = record.flow if record.flow in engine.catalog else engine.catalog.default
    instance = engine.new_instance(name, conv, record.caller_uri, record.caller_name)
    instance.flow_name = record.flow
    data = record.extra.get(MARK)
    data = data if isinstance(data, dict) else {}
    instance.variables = dict(data.get("variables") or {})
    instance.calls = CallStack.from_data(data.get("calls"))
    instance.facts = Facts.from_data(record.extra.get("facts"), instance.flow.states)
    instance.ended, instance.ended_by = True, record.ended_reason
    instance.machine.fire(instance, "end")
    instance.close()
    return instance

"""Carrying a durable bot on after a restart: the stored conversations put back.

:func:`carry_on` takes a :class:`~ucwa_flow.store.Snapshot` the store loaded and puts it
back into an :class:`~ucwa_flow.runtime.engine.Engine` that has not started yet:

* the campaign runs under way first (each conversation record names its run);
* each conversation, with the current version of its flow: state, variables, the ladder,
  its tracked UCWA conversation and links; overdue timers fire at once, once; webhooks
  still waiting are sent again with the same ``Idempotency-Key``; invitations and side
  conversations still waiting, and a handoff's bridge, resume. A conversation accepted but
  not connected when it was committed is reopened (the server hands it out again). One
  whose flow the bot no longer runs, or whose state that flow no longer has, is ended
  politely (the flow's ``changed_message``); one that carries on with another version of
  its flow gets a transcript ``version`` line;
* the outbox: a message committed but perhaps not sent is *in doubt* (``doubt.pending``,
  see :class:`~ucwa_flow.runtime.doubt.Doubt`); any other operation is sent again.

The channel position, the round-robin turns and the webhooks of conversations that had
ended (:mod:`~ucwa_flow.runtime.after_end`) are the caller's
(:meth:`Durable.restore <ucwa_flow.runtime.durable.Durable.restore>`): they do not depend on
the conversations under way, nor on the application.
"""

from __future__ import annotations

import logging

from ucwa_flow.flow import Invite, Webhook
from ucwa_flow.lifecycle import load_conversation
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.changes import PageWriter
from ucwa_flow.runtime.doubt import Doubt
from ucwa_flow.runtime.engine import Engine
from ucwa_flow.runtime.flowmachine import FlowMachine
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.journal import Journal
from ucwa_flow.runtime.outbox import Outgoing
from ucwa_flow.runtime.records import action_at, invite_of, outgoing_of, webhook_of
from ucwa_flow.store import ConversationRecord, Snapshot

__all__ = ["carry_on"]

log = logging.getLogger("ucwa_flow.runtime")


def carry_on(
    engine: Engine,
    snapshot: Snapshot,
    *,
    pages: PageWriter,
    journal: Journal,
    doubt: Doubt,
    now: float,
) -> int:
    """Put ``snapshot``'s campaign runs, conversations and outbox back into ``engine``
    (see the module docstring); how many conversations carry on in their state. ``pages``
    learns what each restored conversation had committed, ``journal`` takes the version
    changes, ``doubt`` the messages in doubt; ``now`` is the wall clock (epoch seconds)."""
    for run in snapshot.campaigns:  # before their conversations, which rejoin them
        engine.campaigns.restore(run.data)
    carried = sum(
        _restore(engine, record, pages, journal, now) for record in snapshot.conversations
    )
    for entry in snapshot.outbox:
        item = outgoing_of(entry)
        if item.kind == "message":
            doubt.pending[item.operation_context] = item
        else:
            engine.sender.send(doubt.route((item,)))
    if doubt.pending:
        log.info("%d message(s) may have been sent before the restart", len(doubt.pending))
    doubt.restarting = True
    return carried


def _restore(
    engine: Engine, record: ConversationRecord, pages: PageWriter, journal: Journal, now: float
) -> bool:
    """One conversation back; whether it carries on in its state."""
    href = record.conversation
    try:
        conv = engine.tracker.restore(load_conversation(record.extra["conversation"]))
    except (KeyError, ValueError) as exc:
        log.error("%s: cannot carry on the stored conversation: %s", href, exc)
        return False
    known = record.flow in engine.catalog
    name = record.flow if known else engine.catalog.default
    instance = engine.new_instance(name, conv, record.caller_uri, record.caller_name)
    instance.flow_name = record.flow
    engine.campaigns.rejoin(href, record.extra.get("campaign"))
    calls = record.extra.get("calls")  # in a sub-flow: the flow's own are its caller's
    own = calls[0].get("variables") if calls and isinstance(calls[0], dict) else None
    pages.restored(href, record.created_at, record.variables if own is None else own, instance)
    if record.state == FlowMachine.NEW and known:
        # accepted, not connected when committed: the batch that connected it was not,
        # so the server hands it out again and it starts then
        engine.answers.reopen(instance, record.extra.get("opening") or {})
        return False
    engine.instances[href] = instance
    data = {
        "misses": record.misses,
        "silence": record.extra.get("silence"),
        "calls": record.extra.get("calls"),
        "facts": record.extra.get("facts"),
    }
    if not known:
        _end_later(engine, instance, f"its flow {record.flow!r} is not run any more")
        return False
    if not instance.resume(record.state, record.variables, data, now):
        _end_later(
            engine, instance, f"its state {record.state!r} is not in flow {record.flow} any more"
        )
        return False
    if record.flow_version != instance.flow.digest:
        _changed_version(engine, journal, instance, record.flow_version)
    _resume_pending(engine, instance, record, now)
    return True


def _resume_pending(
    engine: Engine, instance: FlowInstance, record: ConversationRecord, now: float
) -> None:
    """``instance``'s side conversations, webhooks and invitations still waiting, and its
    handoff's bridge, resumed."""
    href, invitations = instance.href, engine.invitations
    for side in record.extra.get("sides") or ():
        invitations.resume_side(engine.tracker.restore(load_conversation(side)).href, href)
    for work in record.pending:
        kind = Webhook if work.kind == "webhook" else Invite
        action = action_at(instance.flow, work.action.list_id, work.action.position)
        if not isinstance(action, kind):
            where = f"{work.action.list_id}[{work.action.position}]"
            instance.report_error(f"the flow has no {work.kind} at {where} any more", None)
            continue
        if isinstance(action, Webhook):
            engine.calls.resume(instance, webhook_of(href, work))
            continue
        pending = invite_of(work)
        pending.action = action
        tracked = work.payload.get("tracked")
        if tracked:
            engine.tracker.restore(load_conversation(tracked))
        invitations.resume(instance, work.key, pending, (work.due or now) - now)
    bridge = record.extra.get("bridge")
    if bridge:
        engine.bridges.resume(instance, bridge)


def _changed_version(engine: Engine, journal: Journal, instance: FlowInstance, old: str) -> None:
    """``instance`` carries on with another version of its flow than it had: say so in
    its transcript, and its record takes the new version at the next commit."""
    log.info(
        "%s: carries on with version %s of flow %s (it had %s)",
        instance.href,
        instance.flow.digest[:8],
        instance.flow_name,
        old[:8],
    )
    engine.emit(
        t.VersionChanged(
            at=engine.clock.monotonic(),
            conversation=instance.href,
            flow=instance.flow_name,
            old=old,
            new=instance.flow.digest,
        )
    )
    journal.touch(instance)


def _end_later(engine: Engine, instance: FlowInstance, why: str) -> None:
    """End ``instance`` politely, as its first job, for ``why``."""

    async def end() -> None:
        log.warning("%s: ending the conversation: %s", instance.href, why)
        instance.report_error(f"ended after a restart: {why}", None)
        link = instance.conv.messaging.send_message_href
        if link is not None:
            text = instance.flow.settings.changed_message
            engine.send(Outgoing(instance.href, "message", link, text))
        await instance.stop("flow changed")

    engine.post(instance.href, end)

"""The runtime's live objects as the store's records, and back.

:func:`record_of` turns a running :class:`~ucwa_flow.runtime.instance.FlowInstance` (with
the webhooks it waits on and the tracker's view of its conversation) into a
:class:`~ucwa_flow.store.ConversationRecord`: the state, variables, no-match ladder, the
silence timer as an absolute deadline, pending webhooks as
:class:`~ucwa_flow.store.PendingWork` (which action, which places to resume: data, not
closures), the caller, and the conversation's links. :func:`outbox_entry_of` and
:func:`outgoing_of` do the same for what is to be sent. :func:`webhook_of` reads a pending
webhook back, :func:`action_at` finds the action a stored place names, and
:func:`without_secrets` cleans a transcript line of the values of the secrets of the
conversation's flow (:func:`secret_values`).

Nothing here performs anything; the durable bot (:mod:`ucwa_flow.runtime.durable`) decides
when records are written and what a restored conversation does next.

:func:`declined_record` is the record of an invitation the bot turned away
(:class:`~ucwa_flow.runtime.journal.Declined`): an ended conversation in which no flow ran
(state ``""``, no variables), whose ``ended_reason`` is ``declined`` (the flow's invitation
policy) or ``busy`` (the account's limits) and whose ``extra`` holds the decline (the
``declined`` transcript line's data), so that ``transcripts`` and the review app list it
with the conversations and retention prunes it with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ucwa_flow.flow import Action, Flow, UnknownActionList
from ucwa_flow.flow import ActionRef as FlowRef
from ucwa_flow.lifecycle import dump_conversation
from ucwa_flow.runtime.outbox import Outgoing
from ucwa_flow.runtime.pending_invite import PendingInvite, invitation_from_data
from ucwa_flow.runtime.services import Continuation
from ucwa_flow.runtime.webhooks import WebhookCall
from ucwa_flow.store import (
    ActionRef,
    ConversationRecord,
    OutboxEntry,
    PendingWork,
    Timer,
    scrub,
    secret_texts,
)

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance
    from ucwa_flow.runtime.journal import Declined

__all__ = [
    "action_at",
    "declined_record",
    "invite_of",
    "invite_work",
    "outbox_entry_of",
    "outgoing_of",
    "record_of",
    "secret_values",
    "webhook_of",
    "webhook_work",
    "without_secrets",
]


def record_of(
    instance: FlowInstance,
    *,
    account: str,
    version: str,
    secrets: frozenset[str],
    created_at: float,
    now: float,
    webhooks: Iterable[WebhookCall] = (),
    invites: Iterable[PendingWork] = (),
    extra: dict[str, Any] | None = None,
    ended_in: str | None = None,
) -> ConversationRecord:
    """``instance`` as it stands, as a record (``now``: the wall clock, epoch seconds);
    an ended one keeps the flow state it ended in (``ended_in``), when known."""
    data = instance.snapshot(now)
    due, silence = data["due"], data["silence"]
    timers = (Timer("silence", due, silence),) if due is not None else ()
    pending = tuple(map(webhook_work, webhooks)) if webhooks else ()
    if invites:
        pending += tuple(invites)
    kept = {
        "conversation": dump_conversation(instance.conv),
        "silence": silence,
        "facts": data["facts"],
    }
    if data.get("calls"):
        kept["calls"] = data["calls"]
    if extra:
        kept.update(extra)
    ended = instance.ended
    return ConversationRecord(
        account=account,
        conversation=instance.href,
        flow=instance.flow_name,
        flow_version=version,
        state=(ended_in or instance.state) if ended else instance.state,
        created_at=created_at,
        updated_at=now,
        variables=_own_variables(instance),
        misses=int(data["misses"]),
        timers=timers,
        pending=pending,
        caller_uri=instance.caller_uri,
        caller_name=instance.caller_name,
        status="ended" if ended else "active",
        ended_reason=instance.ended_by if ended else None,
        secrets=secrets,
        extra=kept,
    )


def declined_record(declined: Declined, *, account: str, at: float) -> ConversationRecord:
    """The record of the invitation ``declined``, turned away at ``at`` (epoch seconds)."""
    return ConversationRecord(
        account=account,
        conversation=declined.conversation,
        flow=declined.flow,
        flow_version=declined.version,
        state="",
        created_at=at,
        updated_at=at,
        caller_uri=declined.caller_uri,
        caller_name=declined.caller_name,
        status="ended",
        ended_reason="declined" if declined.decision == "decline" else "busy",
        secrets=declined.secrets,
        extra={"declined": declined.to_data()},
    )


def webhook_work(call: WebhookCall) -> PendingWork:
    """The webhook ``call`` a conversation waits on, as pending work (the request as
    rendered: the inverse of :func:`webhook_of`)."""
    return _work("webhook", call.key, call.rest, {"request": call.to_data()})


def _work(
    kind: Literal["invite", "webhook"],
    key: str,
    rest: Continuation,
    payload: dict[str, Any],
    due: float | None = None,
) -> PendingWork:
    """``rest`` (what a suspended action resumes with) as pending work: the inverse of
    :func:`_continuation`; ``payload`` gets its extras."""
    assert rest.at is not None
    return PendingWork(
        kind=kind,
        key=key,
        action=_ref(rest.at),
        rest=tuple(_ref(ref) for ref in rest.frames),
        payload={**payload, "extras": dict(rest.extras)},
        due=due,
        after_end=rest.after_end,
    )


def webhook_of(conversation: str, work: PendingWork) -> WebhookCall:
    """The pending webhook ``work`` of ``conversation``, to be sent again."""
    return WebhookCall.from_data(
        conversation, work.key, work.payload["request"], _continuation(work)
    )


def _continuation(work: PendingWork) -> Continuation:
    return Continuation(
        FlowRef(work.action.list_id, work.action.position),
        tuple(FlowRef(ref.list_id, ref.position) for ref in work.rest),
        dict(work.payload.get("extras") or {}),
        work.after_end,
    )


def invite_work(pending: PendingInvite, *, due: float, tracked: Any) -> PendingWork:
    """The invitation ``pending`` as pending work (``due``: its timeout, epoch seconds;
    ``tracked``: the tracker's data of the conversation the server named for it)."""
    rest = pending.rest
    assert isinstance(rest, Continuation)
    payload = {"request": pending.to_data(), "tracked": tracked}
    return _work("invite", pending.op, rest, payload, due)


def invite_of(work: PendingWork) -> PendingInvite:
    """The invitation ``work`` kept (its action and origin are for the caller to set)."""
    request = work.payload["request"]
    return PendingInvite(
        str(request["to"]),
        rest=_continuation(work),
        conversation=request.get("conversation"),
        cancel_href=request.get("cancel_href"),
        invitation=invitation_from_data(request),
    )


def outbox_entry_of(item: Outgoing, *, account: str, now: float) -> OutboxEntry:
    return OutboxEntry(
        account=account,
        conversation=item.conversation,
        kind=item.kind,
        payload=item.to_payload(),
        operation_context=item.operation_context,
        created_at=now,
    )


def outgoing_of(entry: OutboxEntry) -> Outgoing:
    return Outgoing.from_payload(
        entry.conversation, entry.kind, entry.payload, entry.operation_context
    )


def _ref(ref: FlowRef) -> ActionRef:
    return ActionRef(ref.list_id, ref.position)


def action_at(flow: Flow, list_id: str, position: int) -> Action | None:
    """The action at a stored place, if this version of the flow still has one there."""
    try:
        actions = flow.action_list(list_id)
    except UnknownActionList:
        return None
    return actions[position] if 0 <= position < len(actions) else None


def secret_values(instance: FlowInstance | None, *more: Mapping[str, Any]) -> list[str]:
    """The texts of the values the secret variables of the conversation's flow hold (3
    characters or more: shorter ones would blank out ordinary words), in every scope: the
    running flow's or sub-flow's, each caller's (a sub-flow has none of its own: its
    callers' stay secret), and the scopes ``more`` (what they held before)."""
    if instance is None:
        return []
    secrets = instance.flow.secrets
    if not secrets:
        return []
    scopes = [instance.variables, *(frame.variables for frame in instance.calls.frames), *more]
    return secret_texts(scopes, secrets)


def without_secrets(data: dict[str, Any], values: list[str]) -> dict[str, Any]:
    """A transcript line's data with the secret ``values`` (:func:`secret_values`)
    replaced by ``[redacted]``: a message's ``text`` and ``html``, a variable line's
    ``value`` (a parameter or a variable made from a secret is redacted by value), an
    outcome's ``result`` (a webhook's answer that repeats a secret it was sent), an
    error's ``message`` (a webhook's URL made from one)."""
    if not values:
        return data
    clean = dict(data)
    for part in ("text", "html", "value", "result", "message"):
        if part in clean:
            clean[part] = scrub(clean[part], values)
    return clean


def _own_variables(instance: FlowInstance) -> dict[str, Any]:
    """The flow's own variables: an ended conversation that ended inside a sub-flow keeps
    those of the flow (put aside at its outermost call), not the sub-flow's."""
    frames = instance.calls.frames
    if instance.ended and frames:
        return dict(frames[0].variables)
    return dict(instance.variables)

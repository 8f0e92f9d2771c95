"""Records to table rows and back: the column lists and the JSON shape of nested values."""

from __future__ import annotations

from typing import Any

from ucwa_flow.store._errors import StoreError
from ucwa_flow.store._records import (
    ActionRef,
    ApplicationRecord,
    ConversationRecord,
    OutboxEntry,
    PendingWork,
    Timer,
    TranscriptEntry,
)
from ucwa_flow.store._scrub import scrub_variables
from ucwa_flow.store._sql import dump, finite, load_json

__all__ = [
    "CONVERSATION_COLUMNS",
    "OUTBOX_COLUMNS",
    "TRANSCRIPT_COLUMNS",
    "application_of",
    "conversation_of",
    "conversation_params",
    "outbox_of",
    "outbox_params",
    "pending_json",
    "transcript_of",
]

CONVERSATION_COLUMNS = (
    "account",
    "conversation",
    "flow",
    "flow_version",
    "state",
    "variables",
    "misses",
    "timers",
    "pending",
    "caller_uri",
    "caller_name",
    "status",
    "ended_reason",
    "secrets",
    "extra",
    "created_at",
    "updated_at",
)
OUTBOX_COLUMNS = (
    "account",
    "conversation",
    "kind",
    "payload",
    "operation_context",
    "status",
    "attempts",
    "error",
    "created_at",
    "updated_at",
)
TRANSCRIPT_COLUMNS = ("account", "conversation", "at", "kind", "data", "outcome", "key")


def conversation_params(account: str, record: ConversationRecord) -> tuple[Any, ...]:
    href = record.conversation
    if record.account != account:
        raise StoreError(
            f"conversation {href} of account {record.account} was committed for account {account}"
        )
    variables = record.variables
    if record.status == "ended":
        secrets = record.secrets
        if secrets:  # redacted, by name and by value
            variables = scrub_variables(variables, frozenset(secrets))
        elif type(variables) is not dict:
            variables = dict(variables)
    elif type(variables) is not dict:
        variables = dict(variables)
    extra = record.extra
    return (
        record.account,
        href,
        record.flow,
        record.flow_version,
        record.state,
        dump(variables, "a variable of conversation %s", href),
        int(record.misses),
        dump([_timer(t, href) for t in record.timers], "a timer of conversation %s", href)
        if record.timers
        else "[]",
        pending_json(record.pending, href),
        record.caller_uri,
        record.caller_name,
        record.status,
        record.ended_reason,
        _secret_names(record.secrets, href),
        dump(
            extra if type(extra) is dict else dict(extra),
            "the runtime data of conversation %s",
            href,
        ),
        finite(record.created_at, "the creation time of conversation %s", href),
        finite(record.updated_at, "the update time of conversation %s", href),
    )


def _secret_names(names: frozenset[str], href: str) -> str:
    """The secret names as stored (a sorted JSON list), encoded once per set of names."""
    if type(names) is not frozenset:  # a record made by hand may hold a set or a list
        names = frozenset(names)
    text = _SECRET_NAMES.get(names)
    if text is None:
        text = dump(sorted(names), "the secret names of conversation %s", href)
        if len(_SECRET_NAMES) >= 64:  # one set per flow version, usually: never many
            _SECRET_NAMES.clear()
        _SECRET_NAMES[names] = text
    return text


_SECRET_NAMES: dict[frozenset[str], str] = {frozenset(): "[]"}


def conversation_of(row: tuple[Any, ...]) -> ConversationRecord:
    (account, conversation, flow, version, state, variables, misses, timers, pending,
     caller_uri, caller_name, status, reason, secrets, extra, created, updated) = row  # fmt: skip
    return ConversationRecord(
        account=account,
        conversation=conversation,
        flow=flow,
        flow_version=version,
        state=state,
        created_at=float(created),
        updated_at=float(updated),
        variables=load_json(variables),
        misses=int(misses),
        timers=tuple(Timer(t["name"], float(t["due"]), t.get("data")) for t in load_json(timers)),
        pending=tuple(_pending_of(p) for p in load_json(pending)),
        caller_uri=caller_uri,
        caller_name=caller_name,
        status=status,
        ended_reason=reason,
        secrets=frozenset(load_json(secrets)),
        extra=load_json(extra),
    )


def outbox_params(account: str, entry: OutboxEntry) -> tuple[Any, ...]:
    context = entry.operation_context
    if entry.account != account:
        raise StoreError(
            f"outbox entry {context} of account {entry.account} was committed for account {account}"
        )
    created = finite(entry.created_at, "the time of outbox entry %s", context)
    return (
        entry.account,
        entry.conversation,
        entry.kind,
        dump(entry.payload, "outbox entry %s", context),
        context,
        entry.status,
        int(entry.attempts),
        entry.error,
        created,
        created,
    )


def outbox_of(row: tuple[Any, ...]) -> OutboxEntry:
    account, conversation, kind, payload, context, status, attempts, error, created, _, id_ = row
    return OutboxEntry(
        account=account,
        conversation=conversation,
        kind=kind,
        payload=load_json(payload),
        operation_context=context,
        created_at=float(created),
        status=status,
        attempts=int(attempts),
        error=error,
        id=int(id_),
    )


def transcript_of(row: tuple[Any, ...]) -> TranscriptEntry:
    account, conversation, at, kind, data, outcome, key, seq = row
    return TranscriptEntry(
        account=account,
        conversation=conversation,
        at=float(at),
        kind=kind,
        data=load_json(data),
        outcome=outcome,
        key=key,
        seq=int(seq),
    )


def application_of(row: tuple[Any, ...]) -> ApplicationRecord:
    account, url, events_next, updated = row
    return ApplicationRecord(account, url, events_next, float(updated))


def _timer(timer: Timer, href: str) -> dict[str, Any]:
    due = finite(timer.due, "conversation %s", href)
    return {"name": timer.name, "due": due, "data": timer.data}


def pending_json(pending: tuple[PendingWork, ...], href: str) -> str:
    """Conversation ``href``'s pending work as its column holds it."""
    if not pending:
        return "[]"
    return dump([_pending(p) for p in pending], "pending work of conversation %s", href)


def _pending(work: PendingWork) -> dict[str, Any]:
    return {
        "kind": work.kind,
        "key": work.key,
        "action": [work.action.list_id, work.action.position],
        "rest": [[ref.list_id, ref.position] for ref in work.rest],
        "payload": work.payload,
        "due": work.due,
        "after_end": work.after_end,
    }


def _pending_of(data: dict[str, Any]) -> PendingWork:
    return PendingWork(
        kind=data["kind"],
        key=data["key"],
        action=ActionRef(data["action"][0], int(data["action"][1])),
        rest=tuple(ActionRef(ref[0], int(ref[1])) for ref in data["rest"]),
        payload=data["payload"],
        due=None if data["due"] is None else float(data["due"]),
        after_end=bool(data["after_end"]),
    )

"""The outcomes of sends, as one commit records them: each outbox entry's status and its
``message_out`` transcript line's outcome, kept telling the same story.

An update changes an entry only while it is still pending, so a replayed commit changes
nothing. On PostgreSQL a commit first locks every entry it records an outcome of, in the
order of their operation contexts (:data:`_LOCK_ENTRIES`): a second transaction recording
some of the same sends waits for the first, then finds them no longer pending, and two
such commits never wait for each other in a cycle. SQLite's write transactions take turns.
"""

from __future__ import annotations

from typing import Any

from ucwa_flow.store._changes import OutboxUpdate
from ucwa_flow.store._sql import Dialect, Program, Sql, finite

__all__ = ["record_outcomes"]


def record_outcomes(
    account: str, sent: tuple[OutboxUpdate, ...], dialect: Dialect
) -> Program[None]:
    """Record the outcomes ``sent`` (one commit's, in the order they happened)."""
    if dialect == "postgres":
        yield _lock_entries(account, sent)
    if len({u.operation_context for u in sent}) == len(sent):
        yield from _record_outcomes(account, sent, dialect)
    else:  # one send updated twice: in order, one at a time
        for update in sent:
            yield from _record_attempt(account, update)


_RECORD_ATTEMPT = (
    "UPDATE outbox SET status = %s, error = %s, attempts = attempts + 1, updated_at = %s "
    "WHERE account = %s AND operation_context = %s AND status = 'pending'"
)
#: the outcome on the send's ``message_out`` line, while its outbox entry is still pending;
#: on PostgreSQL the entry's row is locked (and re-checked, when another transaction has
#: it, once that one is done): a second transaction recording the same send waits, then
#: finds it no longer pending, so the line keeps the outcome the entry finished with
_RECORD_OUTCOME = (
    "UPDATE transcript SET outcome = %s WHERE account = %s AND key = %s AND conversation = "
    "(SELECT conversation FROM outbox WHERE account = %s AND operation_context = %s "
    "AND status = 'pending'{lock})"
)
_RECORD_OUTCOMES = {
    "sqlite": _RECORD_OUTCOME.format(lock=""),  # its write transactions take turns
    "postgres": _RECORD_OUTCOME.format(lock=" FOR UPDATE"),
}


#: every outbox entry a commit records an outcome of, locked up front in one order (the
#: rows are locked as the sort returns them): two commits recording some of the same sends
#: never wait for each other in a cycle, whatever their statements touch first after it
_LOCK_ENTRIES = (
    "SELECT 1 FROM outbox WHERE account = %s AND operation_context = ANY(%s) "
    "ORDER BY operation_context FOR UPDATE"
)


def _lock_entries(account: str, updates: tuple[OutboxUpdate, ...]) -> Sql:
    """PostgreSQL only (SQLite's write transactions take turns): see :data:`_LOCK_ENTRIES`."""
    return Sql(_LOCK_ENTRIES, (account, sorted({u.operation_context for u in updates})))


def _record_outcomes(
    account: str, updates: tuple[OutboxUpdate, ...], dialect: Dialect
) -> Program[None]:
    """The outcomes of sends, one update per send: two statements for all of them (the
    transcript lines first, while their entries are still pending), not two per send, in
    the order of their operation contexts (on PostgreSQL the entries are locked already:
    :data:`_LOCK_ENTRIES`)."""
    if len(updates) > 1:
        updates = tuple(sorted(updates, key=_context))
    attempts = tuple(_attempt_params(account, update) for update in updates)
    outcomes = tuple(
        (_outcome_text(u), account, u.operation_context, account, u.operation_context)
        for u in updates
        if u.status != "pending"
    )
    if outcomes:
        yield Sql(_RECORD_OUTCOMES[dialect], many=outcomes)
    yield Sql(_RECORD_ATTEMPT, many=attempts)


def _context(update: OutboxUpdate) -> str:
    return update.operation_context


def _record_attempt(account: str, update: OutboxUpdate) -> Program[None]:
    rows = yield Sql(_RECORD_ATTEMPT + " RETURNING conversation", _attempt_params(account, update))
    if rows and update.status != "pending":
        yield Sql(
            "UPDATE transcript SET outcome = %s "
            "WHERE account = %s AND conversation = %s AND key = %s",
            (_outcome_text(update), account, rows[0][0], update.operation_context),
        )


def _attempt_params(account: str, update: OutboxUpdate) -> tuple[Any, ...]:
    at = finite(update.at, "an outbox update's time")
    return (update.status, update.error, at, account, update.operation_context)


def _outcome_text(update: OutboxUpdate) -> str:
    return "sent" if update.status == "sent" else f"failed: {update.error or 'unknown'}"

"""Commit, load, query, prune and forget: the store's operations as :data:`Program` values.

Each function returns a generator the backend runs in one transaction (see ``_sql``).
Everything a commit writes is encoded (and checked to be JSON) before its first statement,
so a value that cannot be stored fails the commit with nothing written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ucwa_flow.store._after_end import (
    KEPT,
    after_end_params,
    waiting_after_end,
    write_after_end,
)
from ucwa_flow.store._campaigns import active_campaigns, campaign_params, upsert_campaigns
from ucwa_flow.store._changes import (
    Changes,
    CommitResult,
    ConversationQuery,
    Pruned,
    Snapshot,
)
from ucwa_flow.store._codec import (
    CONVERSATION_COLUMNS,
    OUTBOX_COLUMNS,
    TRANSCRIPT_COLUMNS,
    application_of,
    conversation_of,
    conversation_params,
    outbox_of,
    outbox_params,
    transcript_of,
)
from ucwa_flow.store._errors import StoreError
from ucwa_flow.store._outcomes import record_outcomes
from ucwa_flow.store._records import ConversationRecord, TranscriptEntry
from ucwa_flow.store._rotations import (
    prune_rotations,
    rotation_params,
    rotations,
    upsert_rotations,
)
from ucwa_flow.store._scrub import scrub_variables
from ucwa_flow.store._sql import (
    Dialect,
    Program,
    Sql,
    dump,
    finite,
    load_json,
    placeholders,
    redact,
)

__all__ = [
    "commit",
    "conversations",
    "endings",
    "forget_application",
    "load",
    "prune",
    "transcript",
    "transcript_counts",
]


def _turned_away(table: str) -> str:
    """Whether ``table``'s row is an invitation the bot turned away
    (``runtime.records.declined_record``): ended with no state, since no flow ran."""
    return (
        f"{table}.status = 'ended' AND {table}.state = '' "
        f"AND {table}.ended_reason IN ('declined', 'busy')"
    )


#: A conversation is upserted while it is active, and over an invitation turned away at its
#: href (the server invited the bot into the same conversation again: the new one replaces
#: it, with its own start); one that really ended stays ended (a late write of a step
#: replayed does not revive it), and an invitation turned away never replaces a
#: conversation under way (the bot follows it; its transcript has the line)
_UPSERT_CONVERSATION = (
    f"INSERT INTO conversations ({', '.join(CONVERSATION_COLUMNS)}) "
    f"VALUES ({placeholders(len(CONVERSATION_COLUMNS))}) "
    "ON CONFLICT (account, conversation) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in CONVERSATION_COLUMNS[2:] if c != "created_at")
    # an active conversation keeps when it started; one replacing a turned-away record
    # starts when it did
    + ", created_at = CASE WHEN conversations.status = 'active' "
    "THEN conversations.created_at ELSE excluded.created_at END"
    + f" WHERE (conversations.status = 'active' AND NOT ({_turned_away('excluded')}))"
    + f" OR ({_turned_away('conversations')})"
)
_INSERT_OUTBOX = (
    f"INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)}) "
    f"VALUES ({placeholders(len(OUTBOX_COLUMNS))}) ON CONFLICT (operation_context) DO NOTHING"
)
_INSERT_TRANSCRIPT = (
    f"INSERT INTO transcript ({', '.join(TRANSCRIPT_COLUMNS)}) "
    f"VALUES ({placeholders(len(TRANSCRIPT_COLUMNS))}) "
    "ON CONFLICT (account, conversation, key) DO NOTHING"
)
_UPSERT_APPLICATION = (
    "INSERT INTO applications (account, application_url, events_next, updated_at) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (account) DO UPDATE SET "
    "application_url = excluded.application_url, events_next = excluded.events_next, "
    "updated_at = excluded.updated_at"
)

_MOVE_POSITION = (
    "UPDATE applications SET application_url = %s, events_next = %s, updated_at = %s "
    "WHERE account = %s AND events_next = %s RETURNING events_next"
)


def commit(account: str, changes: Changes, dialect: Dialect) -> Program[CommitResult]:
    """Write ``changes`` for ``account`` (see :class:`Changes` for what makes it idempotent)."""
    position = changes.position
    position_params = (
        None
        if position is None
        else (
            account,
            position.application_url,
            position.events_next,
            finite(position.at, "the channel position's time"),
        )
    )
    secrets = {c.conversation: c.secrets for c in changes.conversations}
    upserts = [conversation_params(account, c) for c in changes.conversations]
    additions = [outbox_params(account, e) for e in changes.outbox]
    runs = [campaign_params(account, c) for c in changes.campaigns]
    turns = [rotation_params(account, r) for r in changes.rotations]
    later = [after_end_params(w) for w in changes.after_end] if changes.after_end else None
    for entry in changes.transcript:
        if entry.account != account:
            _same_account(account, entry.account, "a transcript entry")

    if changes.after is not None and position_params is not None:
        # the position moves only from where this batch was read: the UPDATE holds the
        # row, so a second process committing the same batch at the same time waits here
        # (PostgreSQL), then finds the position moved on and writes nothing
        rows = yield Sql(_MOVE_POSITION, (*position_params[1:], account, changes.after))
        if not rows:
            rows = yield Sql("SELECT events_next FROM applications WHERE account = %s", (account,))
            if rows:
                return CommitResult(applied=False, events_next=rows[0][0])
        else:
            position_params = None  # written
    elif changes.after is not None:
        # an UPDATE that changes nothing, to hold the row (see above)
        rows = yield Sql(
            "UPDATE applications SET updated_at = updated_at WHERE account = %s "
            "RETURNING events_next",
            (account,),
        )
        if rows and rows[0][0] != changes.after:
            return CommitResult(applied=False, events_next=rows[0][0])

    missing = (
        sorted({e.conversation for e in changes.transcript} - secrets.keys())
        if changes.transcript
        else None
    )
    if missing:
        rows = yield Sql(
            "SELECT conversation, secrets FROM conversations WHERE account = %s "
            f"AND conversation IN ({placeholders(len(missing))})",
            (account, *missing),
        )
        secrets.update({row[0]: frozenset(load_json(row[1])) for row in rows})
    lines = [_transcript_params(e, secrets.get(e.conversation, _NONE)) for e in changes.transcript]

    if position_params is not None:
        yield Sql(_UPSERT_APPLICATION, position_params)
    if upserts:
        yield Sql(_UPSERT_CONVERSATION, many=tuple(upserts))
    for ending in changes.ends:
        yield from _end(account, ending.conversation, ending.reason, ending.at)
    if later:  # over the records just written (a conversation's end keeps its first)
        yield from write_after_end(account, later)
    if additions:
        yield Sql(_INSERT_OUTBOX, many=tuple(additions))
    if changes.sent:
        yield from record_outcomes(account, changes.sent, dialect)
    if lines:
        yield Sql(_INSERT_TRANSCRIPT, many=tuple(lines))
    if runs:
        yield from upsert_campaigns(runs)
    if turns:
        yield from upsert_rotations(turns)
    return CommitResult(
        applied=True, events_next=None if position is None else position.events_next
    )


def load(account: str) -> Program[Snapshot]:
    """The application, the active conversations, the pending outbox, the campaign runs
    under way, the round-robin positions and the ended conversations whose work after the
    end still waits of ``account``."""
    rows = yield Sql(
        "SELECT account, application_url, events_next, updated_at FROM applications "
        "WHERE account = %s",
        (account,),
    )
    application = application_of(rows[0]) if rows else None
    rows = yield Sql(
        f"SELECT {', '.join(CONVERSATION_COLUMNS)} FROM conversations "
        "WHERE account = %s AND status = 'active' ORDER BY created_at, conversation",
        (account,),
    )
    active = tuple(conversation_of(row) for row in rows)
    rows = yield Sql(
        f"SELECT {', '.join(OUTBOX_COLUMNS)}, id FROM outbox "
        "WHERE account = %s AND status = 'pending' ORDER BY id",
        (account,),
    )
    outbox = tuple(outbox_of(row) for row in rows)
    campaigns = yield from active_campaigns(account)
    positions = yield from rotations(account)
    ended = yield from waiting_after_end(account)
    return Snapshot(account, application, active, outbox, campaigns, positions, ended)


def conversations(query: ConversationQuery) -> Program[list[ConversationRecord]]:
    """The stored conversations ``query`` selects, oldest (or newest) first."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("account", query.account),
        ("flow", query.flow),
        ("state", query.state),
        ("status", query.status),
    ):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if query.caller:
        pattern = _contains(query.caller)
        where.append(
            "(LOWER(COALESCE(caller_uri, '')) LIKE %s ESCAPE '\\' "
            "OR LOWER(COALESCE(caller_name, '')) LIKE %s ESCAPE '\\')"
        )
        params += [pattern, pattern]
    if query.conversation:
        where.append("LOWER(conversation) LIKE %s ESCAPE '\\'")
        params.append(_contains(query.conversation))
    if query.turned_away is not None:
        turned_away = _turned_away("conversations")
        where.append(turned_away if query.turned_away else f"NOT ({turned_away})")
    if query.since is not None:
        where.append("created_at >= %s")
        params.append(query.since)
    if query.until is not None:
        where.append("created_at < %s")
        params.append(query.until)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    order = " DESC" if query.newest_first else ""
    rows = yield Sql(
        f"SELECT {', '.join(CONVERSATION_COLUMNS)} FROM conversations{clause} "
        f"ORDER BY created_at{order}, account{order}, conversation{order} LIMIT %s OFFSET %s",
        (*params, max(0, query.limit), max(0, query.offset)),
    )
    return [conversation_of(row) for row in rows]


def transcript(account: str, conversation: str) -> Program[list[TranscriptEntry]]:
    """One conversation's transcript entries in the order they were committed."""
    rows = yield Sql(
        f"SELECT {', '.join(TRANSCRIPT_COLUMNS)}, seq FROM transcript "
        "WHERE account = %s AND conversation = %s ORDER BY seq",
        (account, conversation),
    )
    return [transcript_of(row) for row in rows]


def transcript_counts(
    keys: Iterable[tuple[str, str]],
) -> Program[dict[tuple[str, str], dict[str, int]]]:
    """How many transcript entries of each kind the ``(account, conversation)`` keys have."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for account, chunk in _chunks(keys):
        rows = yield Sql(
            "SELECT conversation, kind, COUNT(*) FROM transcript WHERE account = %s "
            f"AND conversation IN ({placeholders(len(chunk))}) GROUP BY conversation, kind",
            (account, *chunk),
        )
        for conversation, kind, count in rows:
            counts.setdefault((account, conversation), {})[kind] = int(count)
    return counts


def endings(keys: Iterable[tuple[str, str]]) -> Program[dict[tuple[str, str], TranscriptEntry]]:
    """The last ``ended`` transcript entry of each of the ``(account, conversation)`` keys
    that has one: who ended it and why (``stop``, ``shutdown``...), which the record's
    ``ended_reason`` does not say."""
    found: dict[tuple[str, str], TranscriptEntry] = {}
    for account, chunk in _chunks(keys):
        rows = yield Sql(
            f"SELECT {', '.join(TRANSCRIPT_COLUMNS)}, seq FROM transcript WHERE account = %s "
            f"AND kind = 'ended' AND conversation IN ({placeholders(len(chunk))}) ORDER BY seq",
            (account, *chunk),
        )
        for row in rows:  # in order: the last one of a conversation stays
            entry = transcript_of(row)
            found[(account, entry.conversation)] = entry
    return found


#: keys per ``IN (...)`` list: far below every backend's limit on parameters
_CHUNK = 500


def _chunks(keys: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """The ``(account, conversation)`` keys (once each) as an account and a list of at most
    :data:`_CHUNK` of its conversations, as many times as it takes."""
    by_account: dict[str, list[str]] = {}
    for account, conversation in dict.fromkeys(keys):
        by_account.setdefault(account, []).append(conversation)
    for account, hrefs in by_account.items():
        for start in range(0, len(hrefs), _CHUNK):
            yield account, hrefs[start : start + _CHUNK]


def prune(before: float) -> Program[Pruned]:
    """Delete ended conversations last updated before ``before`` (not one whose work after
    the end still waits: see ``_after_end``), with their transcripts and
    outbox entries, finished outbox entries, finished campaign runs, transcripts of unknown
    conversations and round-robin positions older than that (an agent who has not accepted
    since loses their place: see ``_rotations``); returns how many conversations and
    positions went."""
    kept, pattern = KEPT  # an ended conversation whose work after the end still waits
    old = (
        "SELECT account, conversation FROM conversations WHERE status = 'ended' "
        f"AND updated_at < %s AND {kept}"
    )
    yield Sql(f"DELETE FROM transcript WHERE (account, conversation) IN ({old})", (before, pattern))
    yield Sql(f"DELETE FROM outbox WHERE (account, conversation) IN ({old})", (before, pattern))
    yield Sql("DELETE FROM outbox WHERE status <> 'pending' AND updated_at < %s", (before,))
    yield Sql(
        "DELETE FROM transcript WHERE at < %s AND NOT EXISTS (SELECT 1 FROM conversations c "
        "WHERE c.account = transcript.account AND c.conversation = transcript.conversation)",
        (before,),
    )
    yield Sql("DELETE FROM campaigns WHERE status = 'finished' AND updated_at < %s", (before,))
    rows = yield Sql(
        f"DELETE FROM conversations WHERE status = 'ended' AND updated_at < %s AND {kept} "
        "RETURNING conversation",
        (before, pattern),
    )
    return Pruned(len(rows), (yield from prune_rotations(before)))


def forget_application(account: str, reason: str, at: float) -> Program[int]:
    """The application is gone: end its active conversations with ``reason``, give up its
    pending outbox entries, finish its campaign runs (they cannot carry on) and drop the
    application record; returns how many ended."""
    rows = yield Sql(
        "SELECT conversation FROM conversations WHERE account = %s AND status = 'active' "
        "ORDER BY created_at, conversation",
        (account,),
    )
    for (conversation,) in rows:
        yield from _end(account, conversation, reason, at)
    yield Sql(
        "UPDATE outbox SET status = 'failed', error = %s, updated_at = %s "
        "WHERE account = %s AND status = 'pending'",
        (reason, at, account),
    )
    yield Sql(
        "UPDATE campaigns SET status = 'finished', updated_at = %s "
        "WHERE account = %s AND status = 'active'",
        (at, account),
    )
    yield Sql("DELETE FROM applications WHERE account = %s", (account,))
    return len(rows)


# -- pieces ---------------------------------------------------------------------------------


def _end(account: str, conversation: str, reason: str, at: float) -> Program[bool]:
    """End one active conversation: its secret variables are redacted from now on."""
    rows = yield Sql(
        "SELECT variables, secrets FROM conversations "
        "WHERE account = %s AND conversation = %s AND status = 'active'",
        (account, conversation),
    )
    if not rows:
        return False
    names = frozenset(load_json(rows[0][1]))
    variables = scrub_variables(load_json(rows[0][0]), names)
    yield Sql(
        "UPDATE conversations SET status = 'ended', ended_reason = %s, updated_at = %s, "
        "variables = %s WHERE account = %s AND conversation = %s AND status = 'active'",
        (
            reason,
            finite(at, "an ending's time"),
            dump(variables, "variables"),
            account,
            conversation,
        ),
    )
    yield Sql(
        _INSERT_TRANSCRIPT,
        (account, conversation, at, "ended", dump({"reason": reason}, "a reason"), None, "ended"),
    )
    return True


def _transcript_params(entry: TranscriptEntry, secrets: frozenset[str]) -> tuple[Any, ...]:
    data = entry.data
    return (
        entry.account,
        entry.conversation,
        finite(entry.at, "a transcript entry's time"),
        entry.kind,
        dump(
            redact(data, secrets) if secrets else data,
            "transcript data of %s",
            entry.conversation,
        ),
        entry.outcome,
        entry.key,
    )


_NONE: frozenset[str] = frozenset()


def _same_account(account: str, other: str, what: str) -> None:
    if other != account:
        raise StoreError(f"{what} of account {other} was committed for account {account}")


def _contains(text: str) -> str:
    """A ``LIKE`` pattern matching ``text`` (lowered) anywhere, its wildcards escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"

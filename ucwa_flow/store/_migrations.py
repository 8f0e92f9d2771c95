"""The schema, as numbered migrations applied in order when a store is opened.

``schema_migrations`` lists the versions applied. Opening a store runs :func:`migrate` in one
transaction: it applies the migrations the store lacks (a store written by an older
ucwa-flow opens, its data kept) and refuses a store whose version is newer than
:data:`LATEST` with :class:`~ucwa_flow.store.StoreTooNew`. On PostgreSQL a transaction-scoped
advisory lock keeps two processes from migrating the same schema at once.

Only a bot migrates (``run``, ``serve``). The commands that read a store (and ``transcripts
prune``) open it as it is: :func:`stored_version` reads its version and
:func:`require_latest` refuses any other than :data:`LATEST`, an older one with
:class:`~ucwa_flow.store.StoreTooOld`: a bot of that older version may still run on it, and
a schema changed under it would stop it at its next start.

A migration is never edited once released: a change to the schema is a new migration with
the next number. Both dialects get the same tables, columns and keys; only the spelling of
types and auto-numbered keys differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ucwa_flow.store._errors import StoreError, StoreTooNew, StoreTooOld
from ucwa_flow.store._sql import Dialect, Program, Sql

__all__ = ["LATEST", "MIGRATIONS", "migrate", "require_latest", "stored_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]  # with {serial} and {real} to spell per dialect


_TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "real": "REAL",
        "int": "INTEGER",
        "bigint": "INTEGER",
        "time": "TEXT",
    },
    "postgres": {
        "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "real": "DOUBLE PRECISION",
        "int": "INTEGER",
        "bigint": "BIGINT",
        "time": "TIMESTAMPTZ",
    },
}

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "applications, conversations, outbox, transcript",
        (
            """CREATE TABLE applications (
                account TEXT PRIMARY KEY,
                application_url TEXT NOT NULL,
                events_next TEXT,
                updated_at {real} NOT NULL)""",
            """CREATE TABLE conversations (
                account TEXT NOT NULL,
                conversation TEXT NOT NULL,
                flow TEXT NOT NULL,
                flow_version TEXT NOT NULL,
                state TEXT NOT NULL,
                variables TEXT NOT NULL,
                misses {int} NOT NULL,
                timers TEXT NOT NULL,
                pending TEXT NOT NULL,
                caller_uri TEXT,
                caller_name TEXT,
                status TEXT NOT NULL CHECK (status IN ('active', 'ended')),
                ended_reason TEXT,
                secrets TEXT NOT NULL,
                extra TEXT NOT NULL,
                created_at {real} NOT NULL,
                updated_at {real} NOT NULL,
                PRIMARY KEY (account, conversation))""",
            """CREATE TABLE outbox (
                id {serial},
                account TEXT NOT NULL,
                conversation TEXT NOT NULL,
                kind TEXT NOT NULL,
                payload TEXT NOT NULL,
                operation_context TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
                attempts {int} NOT NULL,
                error TEXT,
                created_at {real} NOT NULL,
                updated_at {real} NOT NULL)""",
            "CREATE INDEX outbox_pending ON outbox (account, status, id)",
            """CREATE TABLE transcript (
                seq {serial},
                account TEXT NOT NULL,
                conversation TEXT NOT NULL,
                at {real} NOT NULL,
                kind TEXT NOT NULL,
                data TEXT NOT NULL,
                outcome TEXT,
                key TEXT)""",
            "CREATE UNIQUE INDEX transcript_key ON transcript (account, conversation, key)",
            "CREATE INDEX transcript_order ON transcript (account, conversation, seq)",
        ),
    ),
    Migration(
        2,
        "indexes for transcript listings and retention",
        (
            "CREATE INDEX conversations_created ON conversations (created_at, conversation)",
            "CREATE INDEX conversations_status ON conversations (account, status, updated_at)",
            "CREATE INDEX transcript_at ON transcript (at)",
        ),
    ),
    Migration(
        3,
        "workers, account leases with fencing tokens, account configurations",
        (
            # times are the database's (now()); SQLite, single-process, never writes them
            """CREATE TABLE workers (
                id TEXT PRIMARY KEY,
                host TEXT NOT NULL,
                pid {int} NOT NULL,
                started_at {time} NOT NULL,
                seen_at {time} NOT NULL)""",
            """CREATE TABLE leases (
                account TEXT PRIMARY KEY,
                worker TEXT,
                token {bigint} NOT NULL,
                expires_at {time} NOT NULL,
                acquired_at {time} NOT NULL,
                renewed_at {time} NOT NULL)""",
            "CREATE INDEX leases_worker ON leases (worker)",
            """CREATE TABLE account_configs (
                account TEXT PRIMARY KEY,
                digest TEXT NOT NULL,
                worker TEXT NOT NULL,
                registered_at {time} NOT NULL)""",
        ),
    ),
    Migration(
        4,
        "campaign runs",
        (
            """CREATE TABLE campaigns (
                account TEXT NOT NULL,
                id TEXT NOT NULL,
                flow TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('active', 'finished')),
                data TEXT NOT NULL,
                created_at {real} NOT NULL,
                updated_at {real} NOT NULL,
                PRIMARY KEY (account, id))""",
            "CREATE INDEX campaigns_status ON campaigns (account, status, created_at)",
        ),
    ),
    Migration(
        5,
        "round-robin handoff positions",
        (
            """CREATE TABLE handoff_rotations (
                account TEXT NOT NULL,
                flow TEXT NOT NULL,
                agent TEXT NOT NULL,
                turn {bigint} NOT NULL,
                updated_at {real} NOT NULL,
                PRIMARY KEY (account, flow, agent))""",
        ),
    ),
    Migration(
        6,
        "workers that left (a late heartbeat of theirs must not record them again), workers "
        "kept away from the accounts (their store cannot be opened for good)",
        (
            "ALTER TABLE workers ADD COLUMN left_at {time}",
            "ALTER TABLE workers ADD COLUMN away_until {time}",
        ),
    ),
    Migration(
        7,
        "invitations given up before the server named them (withdrawn if it does later)",
        (
            """CREATE TABLE abandoned_invitations (
                account TEXT NOT NULL,
                operation_id TEXT NOT NULL,
                at {real} NOT NULL,
                PRIMARY KEY (account, operation_id))""",
        ),
    ),
)

LATEST = MIGRATIONS[-1].version

_LOCK_KEY = 0x75637761_666C6F77 & 0x7FFFFFFFFFFFFFFF  # "ucwaflow": the migration lock


def migrate(dialect: Dialect, target: str, upto: int = LATEST) -> Program[int]:
    """Bring the schema to version ``upto`` (default: the latest); returns how many
    migrations it applied."""
    if dialect == "postgres":
        yield Sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    types = _TYPES[dialect]
    yield Sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        f"version {types['int']} PRIMARY KEY, description TEXT NOT NULL, "
        f"applied_at {types['real']} NOT NULL)"
    )
    rows = yield Sql("SELECT MAX(version) FROM schema_migrations")
    columns = yield Sql(_COLUMNS_PG if dialect == "postgres" else _COLUMNS_SQLITE)
    names = {str(row[0]) for row in columns}
    if rows[0][0] is not None or not names >= _OURS:  # a table there already: ucwa-flow's?
        yield from _ours(dialect, target, names)
    current = int(rows[0][0] or 0)
    if current > LATEST:
        raise _too_new(target, current)
    for migration in MIGRATIONS[current:upto]:
        for statement in migration.statements:
            yield Sql(statement.format(**types))
        yield Sql(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (%s, %s, %s)",
            (migration.version, migration.description, time.time()),
        )
    return len(MIGRATIONS[current:upto])


def stored_version(dialect: Dialect, target: str) -> Program[int | None]:
    """The store's schema version, read without changing anything; ``None`` when the
    database (its ``search_path``) holds no ``schema_migrations`` table: no store. Another
    program's ``schema_migrations`` (Rails', a migration tool's) is refused with a
    :class:`~ucwa_flow.store.StoreError`: see :func:`_ours`."""
    if dialect == "postgres":
        rows = yield Sql(_COLUMNS_PG)
    else:
        rows = yield Sql(_COLUMNS_SQLITE)
    if not rows:
        return None
    yield from _ours(dialect, target, {str(row[0]) for row in rows})
    rows = yield Sql("SELECT MAX(version) FROM schema_migrations")
    return int(rows[0][0] or 0)


#: the columns of the ``schema_migrations`` table first on the search path / in the file
_COLUMNS_PG = (
    "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('schema_migrations') "
    "AND attnum > 0 AND NOT attisdropped"
)
_COLUMNS_SQLITE = "SELECT name FROM pragma_table_info('schema_migrations')"
_OURS = frozenset(("version", "description", "applied_at"))


def _ours(dialect: Dialect, target: str, columns: set[str]) -> Program[None]:
    """Refuse a ``schema_migrations`` table that is not ucwa-flow's. Other programs name
    their table of migrations the same (Rails: one ``version`` column of strings such as
    ``20240101120000``; others ``001_init``); ucwa-flow's has a ``description`` and an
    ``applied_at`` beside each version, and its migration 1, never edited, is described
    as :data:`MIGRATIONS`'s first: a store of any ucwa-flow version has that row."""
    first = MIGRATIONS[0]
    if columns >= _OURS:
        rows = yield Sql(
            "SELECT description FROM schema_migrations WHERE CAST(version AS TEXT) = %s",
            (str(first.version),),
        )
        if [tuple(row) for row in rows] == [(first.description,)]:
            return
    where = (
        "check the database name and the search_path"
        if dialect == "postgres"
        else "check the file name"
    )
    raise StoreError(
        f"the store {target} is not a ucwa-flow store: its schema_migrations table is "
        f"another program's (no ucwa-flow migration 1 in it); {where}"
    )


def require_latest(target: str, current: int) -> None:
    """Refuse a store of schema version ``current`` unless it is :data:`LATEST`: for a
    command that opens a store as it is (one that reads it, or prunes it)."""
    if current > LATEST:
        raise _too_new(target, current)
    if current < LATEST:
        raise StoreTooOld(
            f"the store {target} has schema version {current}, older than this ucwa-flow's "
            f"{LATEST}: start this version's bot on it (ucwa-flow run or serve) to migrate "
            "it; a command that reads or prunes a store never migrates it (a bot of the "
            "older version may still run on it)"
        )


def _too_new(target: str, current: int) -> StoreTooNew:
    return StoreTooNew(
        f"the store {target} was written by a newer ucwa-flow (schema version {current}; this "
        f"version knows up to {LATEST}): upgrade ucwa-flow to use it"
    )

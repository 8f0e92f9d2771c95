"""Choosing and opening a store: :func:`open_store` and :func:`default_state_path`."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from ucwa_flow.store._errors import StoreError
from ucwa_flow.store._migrations import LATEST
from ucwa_flow.store._store import Store

__all__ = [
    "default_state_path",
    "describe_target",
    "is_postgres_url",
    "open_store",
    "postgres_url_problem",
]

_POSTGRES = ("postgresql://", "postgres://")


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.lower().startswith(_POSTGRES)


def postgres_url_problem(url: str) -> str | None:
    """What is wrong with a ``postgresql://`` URL that cannot even be parsed (a bad host
    in brackets, a port that is not a number), or ``None``."""
    try:
        urlsplit(url).port  # noqa: B018 - parsing the port is what checks it
    except ValueError as exc:
        return f"the store URL is not a valid URL ({exc}); write postgresql://user@host/db"
    return None


async def open_store(
    target: str | Path,
    *,
    schema: str | None = None,
    busy_timeout: float = 5.0,
    connect_timeout: float = 10.0,
    existing: bool = False,
    read_only: bool = False,
    exclusive: bool = False,
    _upto: int = LATEST,
) -> Store:
    """Open the store at ``target``, migrating its schema to the current version.

    A ``postgresql://`` or ``postgres://`` URL opens a PostgreSQL store (tables in
    ``schema`` when given); anything else is the path of a SQLite file, created with its
    folder if missing. ``busy_timeout`` (SQLite) is how long to wait for another process's
    write lock; ``connect_timeout`` (PostgreSQL) how long to wait for the server.
    ``existing``: open the store as it is, for ``transcripts prune``: refuse a database
    (or SQLite file) that holds no store yet rather than create one (nor its PostgreSQL
    schema), another program's ``schema_migrations`` table, and a store of an older schema
    version (:class:`~ucwa_flow.store.StoreTooOld`) rather than migrate it, since a bot of
    that version may still run on it (only a bot, ``run`` or ``serve``, migrates). A SQLite
    file is looked at read-only first, so one refused is left as it was, and a missing one
    is not created; one accepted is then opened read-write (a prune deletes).
    ``read_only``: ``existing``, for the commands that only read a store (``transcripts
    list/show/export``, ``replay``, ``review``, ``workers``): nothing is written, ever. A
    SQLite file is only ever opened read-only (``ucwa_flow.store._sqlite_readonly``: no
    journal mode set, no checkpoint, no folder, file or lock file created), so a read-only
    file or folder can be read; a PostgreSQL session is read-only
    (``default_transaction_read_only``), so a role allowed only to ``SELECT`` can read.
    ``exclusive`` (SQLite): the store of a running bot, held against other processes until
    closed: :class:`~ucwa_flow.store.StoreInUse` when another process holds the file
    (``ucwa_flow.store._holder``). Leave it off to read a store a bot is running on.
    """
    if is_postgres_url(target):
        from ucwa_flow.store._postgres import PostgresStore

        problem = postgres_url_problem(str(target))
        if problem is not None:
            raise StoreError(problem)

        return await PostgresStore(
            str(target), schema=schema, connect_timeout=connect_timeout
        ).open(_upto, existing=existing or read_only, read_only=read_only)
    from ucwa_flow.store._sqlite import SqliteStore

    return await SqliteStore(
        target, busy_timeout, exclusive=exclusive and not read_only, read_only=read_only
    ).open(_upto, existing=existing or read_only)


def default_state_path(account: str) -> Path:
    """Where the SQLite store of ``account`` lives by default:
    ``$XDG_STATE_HOME/ucwa-flow/<account>.sqlite3``, else ``~/.local/state/ucwa-flow/...``.

    The account (a SIP URI or a user name) becomes a file name: characters other than
    letters, digits, ``.``, ``@``, ``-`` and ``_`` become ``_``.
    """
    base = os.environ.get("XDG_STATE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    name = re.sub(r"[^A-Za-z0-9.@_-]", "_", account.removeprefix("sip:")).strip(".") or "bot"
    return root / "ucwa-flow" / f"{name}.sqlite3"


def describe_target(target: str | Path) -> str:
    """``target`` as a person may see it in a log line: a URL without its password."""
    if is_postgres_url(target):
        from ucwa_flow.store._postgres import public_url

        return public_url(str(target))
    return str(target)

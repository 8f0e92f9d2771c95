"""The PostgreSQL backend: psycopg 3, asynchronous, one connection per store.

Operations take turns on the connection (an ``asyncio.Lock``), each in its own transaction.
A connection that breaks (the server restarts, ``pg_terminate_backend``, the network goes)
turns the operation into a retryable :class:`~ucwa_flow.store.StoreUnavailable`; the next
operation connects again, so the runtime's retry with backoff is all recovery takes.

A server that cannot be reached (refused, not resolving yet, timing out, starting up, full)
is retryable at the first connection too (``serve`` waits for it). Until the store has
connected once, a server that answers and refuses this URL for good (no such database or
role, failed authentication, no ``pg_hba.conf`` entry, an SSL mode it cannot meet, an invalid
parameter in the URL) is a :class:`~ucwa_flow.store.StoreError` that is not retryable: a
mistake in the URL, refused at once. Later, the same answer (a fail-over, a server that
restarts with new rules) is retried like a lost connection.

``schema`` puts the store's tables in a schema of their own (created if missing, then first on
the ``search_path``; a store opened ``existing`` creates nothing: a schema missing holds no
store, and a ``read_only`` store's session is read-only, so a role that may only ``SELECT``
can read a store); without it the URL's defaults apply (a ``search_path`` can also be given
in the URL as ``?options=-csearch_path%3Dname``). The URL's password never appears in errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

from ucwa_flow.store._errors import (
    StoreConflict,
    StoreError,
    StoreFull,
    StoreUnavailable,
    first_line,
)
from ucwa_flow.store._migrations import LATEST, migrate, require_latest, stored_version
from ucwa_flow.store._sql import Program
from ucwa_flow.store._store import Store

__all__ = ["PostgresStore", "public_url"]

T = TypeVar("T")

#: what a server (or libpq) says when it refuses a URL for good: trying again cannot help
#: (a server's messages in another language than English are not recognised: retried)
_REFUSED_FOR_GOOD = re.compile(
    r"does not exist|authentication failed|no pg_hba\.conf entry|permission denied"
    r"|is not permitted to log in|no such database"  # the latter: PgBouncer's
    r"|no password supplied|ssl was required|does not support ssl|invalid \w+ value"
    r"|invalid value for parameter|unrecognized configuration parameter",
    re.IGNORECASE,
)


class PostgresStore(Store):
    """A store in a PostgreSQL database (``postgresql://`` or ``postgres://`` URL)."""

    backend = "postgres"

    def __init__(self, url: str, *, schema: str | None, connect_timeout: float) -> None:
        where = public_url(url) + (f" (schema {schema})" if schema else "")
        super().__init__(where)
        self._url = url
        self._schema = schema
        self._connect_timeout = max(1, round(connect_timeout))
        self._lock = asyncio.Lock()
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._closed = False
        self._reached = False  # a connection succeeded once: refusals are passing now
        self._creates = True  # the schema, when missing (not for a store opened existing)
        self._read_only = False  # sessions with default_transaction_read_only

    async def open(
        self, upto: int = LATEST, *, existing: bool = False, read_only: bool = False
    ) -> PostgresStore:
        """Connect and migrate the schema to ``upto``. ``existing``: open the store as it
        is, for a command that reads it: refuse (a :class:`StoreError`) a database whose
        ``search_path`` holds no store yet, instead of creating its tables (pointed at the
        wrong database) or its schema, and a store of another schema version than this
        one's, instead of migrating it (a bot of an older version may still run on it).
        ``read_only`` (with ``existing``): every transaction is read-only."""
        self._creates = not existing
        self._read_only = read_only
        return await self._open(upto, existing=existing)

    async def _open(self, upto: int, *, existing: bool) -> PostgresStore:
        try:
            if existing:
                version = await self._run(stored_version("postgres", self.target), write=False)
                if version is None:
                    raise StoreError(
                        f"the store {self.target} holds no ucwa-flow tables (no "
                        "schema_migrations on its search_path): check the database name "
                        "and the search_path"
                    )
                require_latest(self.target, version)
            elif await self._run(migrate("postgres", self.target, upto), write=True):
                await self._disconnect()  # the next operation connects again, see below
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        async with self._lock:
            self._closed = True
            await self._disconnect()

    async def _disconnect(self) -> None:
        """Close the connection. After a migration too: psycopg forgets its prepared
        statements when a result says ``ALTER`` (or ``DROP``) and deallocates them on the
        server later, in a pipeline after a statement of the next operation was prepared,
        which then was missing (*prepared statement "_pg3_1" does not exist*)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):  # it was going anyway
                await conn.close()

    async def _run(self, program: Program[T], *, write: bool, rows: int | None = None) -> T:
        async with self._lock:
            try:
                conn = await self._connection()
                try:
                    async with conn.transaction():
                        return await _steps(conn, program)
                except psycopg.Error as exc:
                    raise self._translate(exc, connected=True) from None
            finally:
                program.close()

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._closed:
            raise StoreError(f"the store {self.target} is closed")
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._conn = None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):  # already broken
                await conn.close()
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout
            )
        except psycopg.Error as exc:
            raise self._translate(exc, connected=False) from None
        self._reached = True
        try:
            if self._read_only:  # before anything else: nothing this session does writes
                await conn.execute("SET default_transaction_read_only = on")
            if self._schema:
                name = sql.Identifier(self._schema)
                if self._creates:
                    await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
                await conn.execute(sql.SQL("SET search_path TO {}").format(name))
        except psycopg.Error as exc:
            await conn.close()
            raise self._translate(exc, connected=True) from None
        self._conn = conn
        return conn

    def _translate(self, exc: psycopg.Error, *, connected: bool) -> StoreError:
        """A driver error as one line naming the server (never its password)."""
        detail = first_line(exc)
        where = f"the store {self.target}"
        if isinstance(exc, psycopg.errors.IntegrityError):
            return StoreConflict(f"{where} refused a write ({detail}); nothing was written")
        if isinstance(exc, psycopg.errors.DiskFull | psycopg.errors.OutOfMemory):
            return StoreFull(f"{where} is out of space ({detail})")
        if isinstance(exc, psycopg.errors.InvalidSchemaName):  # search_path: none that exists
            return StoreError(
                f"{where} has no schema to keep its tables in ({detail}): the URL's "
                "search_path names no schema that exists; create it (CREATE SCHEMA name) "
                "or correct the URL"
            )
        if not connected:
            if not isinstance(exc, psycopg.OperationalError):  # before any connection
                return StoreError(f"{where}: the URL cannot be used ({detail})")
            if not self._reached and _REFUSED_FOR_GOOD.search(str(exc)):
                return StoreError(f"{where} refused the connection ({detail}); check the URL")
            return StoreUnavailable(f"{where} cannot be reached ({detail})")
        if isinstance(exc, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure):
            return StoreUnavailable(
                f"{where} rolled back a write that raced another one ({detail}); "
                "nothing was written"
            )
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return StoreUnavailable(f"{where} lost its connection ({detail})")
        return StoreError(f"{where} failed ({detail})")


async def _steps(conn: psycopg.AsyncConnection[tuple[object, ...]], program: Program[T]) -> T:
    """Run ``program`` pipelined: a statement whose rows it does not need is sent without
    waiting for the server; its errors surface at the next result or at the commit.

    psycopg hands a cursor the results of its statements as they arrive, and reads rows from
    the last that did. The server sends results when its buffer fills, so an unread
    statement's may arrive while a later one runs: the unread statements share one cursor,
    and each statement whose rows are read gets a cursor of its own."""
    result: T
    async with conn.pipeline(), conn.cursor() as unread:
        try:
            statement = next(program)
            while True:
                rows: list[tuple[object, ...]] = []
                if statement.many is not None:
                    await unread.executemany(statement.text, statement.many)
                elif not statement.returns_rows:
                    await unread.execute(statement.text, statement.params)
                else:
                    async with conn.cursor() as cursor:
                        await cursor.execute(statement.text, statement.params)
                        rows = await cursor.fetchall()
                statement = program.send(rows)
        except StopIteration as done:
            result = done.value
    # leaving the pipeline waited for every statement: a failed one has raised by now
    return result


def public_url(url: str) -> str:
    """``url`` without its password (``postgresql://user:***@host/db``, and ``password=***``
    or ``sslpassword=***`` in its query) and without the ``application_name`` that ``serve``
    adds to name a worker's connections; all of it but the scheme when it cannot be parsed
    (it may hold a password anywhere)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        return url.partition("://")[0] + "://***"
    query = "&".join(
        f"{key}=***" if unquote(key).endswith("password") else f"{key}{eq}{value}"
        for key, eq, value in (item.partition("=") for item in parts.query.split("&") if item)
        if unquote(key) != "application_name"
    )
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
    # by hand: urlunsplit drops the "//" of a URL with no host (postgresql:///db?host=/tmp)
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )

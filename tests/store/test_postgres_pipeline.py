"""The PostgreSQL backend's pipeline: each statement whose rows an operation reads gets its own
rows, even when the server sent results of earlier, unread statements before them.

The server keeps results in an 8 KB buffer and sends them when it fills (on a busy machine,
while it works through statements queued behind each other). A result that arrived early was
once taken for the next read statement's, and the store failed with "the last operation
didn't produce records (command status: INSERT 0 1)".
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest

from tests.guards import WAIT
from tests.store.conftest import Target, postgres_url
from ucwa_flow.store import StoreConflict
from ucwa_flow.store._postgres import PostgresStore
from ucwa_flow.store._sql import Program, Rows, Sql


@pytest.fixture
async def pg_store(pg_target: Target) -> AsyncIterator[PostgresStore]:
    assert pg_target.url is not None
    store = PostgresStore(pg_target.url, schema=pg_target.schema, connect_timeout=5)
    await store._run(table(), write=True)
    try:
        yield store
    finally:
        await store.aclose()


def table() -> Program[None]:
    yield Sql("CREATE TABLE numbers (n integer PRIMARY KEY)")


def one_insert() -> Program[None]:
    yield Sql("INSERT INTO numbers VALUES (%s)", (1,))


def many_inserts() -> Program[None]:
    yield Sql("INSERT INTO numbers VALUES (%s)", many=tuple((n,) for n in range(1, 301)))


@pytest.mark.parametrize(("earlier", "count"), [(one_insert, 1), (many_inserts, 300)])
async def test_read_rows_are_the_statements_own_when_earlier_results_came_early(
    pg_store: PostgresStore, pg_target: Target, earlier: Callable[[], Program[None]], count: int
) -> None:
    def program() -> Program[Rows]:
        ((pid,),) = yield Sql("SELECT pg_backend_pid()")
        yield from earlier()
        with psycopg.connect(postgres_url(), autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (pid,))  # a key no other test uses
            # a notice bigger than the server's buffer: the server sends all it holds, the
            # earlier results included, then waits for the lock, before the next statement
            # is even sent
            yield Sql(
                "DO $$ BEGIN RAISE NOTICE USING MESSAGE = repeat('x', 20000); "
                f"PERFORM pg_advisory_xact_lock({int(pid)}); END $$"
            )
            waits_for_lock(other, pid)
            other.execute("SELECT pg_advisory_unlock(%s)", (pid,))
        return (yield Sql("SELECT count(*) FROM numbers"))

    assert await pg_store._run(program(), write=True) == [(count,)]
    assert len(pg_target.raw("SELECT n FROM numbers")) == count


async def test_a_failed_unread_statement_fails_the_next_read_and_writes_nothing(
    pg_store: PostgresStore, pg_target: Target
) -> None:
    read: list[Rows] = []

    def program() -> Program[None]:
        yield Sql("INSERT INTO numbers VALUES (%s)", (1,))
        yield Sql("INSERT INTO numbers VALUES (%s)", (1,))  # a duplicate key
        read.append((yield Sql("SELECT count(*) FROM numbers")))
        yield Sql("INSERT INTO numbers VALUES (%s)", (2,))

    with pytest.raises(StoreConflict, match="duplicate key"):
        await pg_store._run(program(), write=True)

    assert read == []
    assert pg_target.raw("SELECT n FROM numbers") == []


async def test_a_failed_last_statement_fails_the_operation(
    pg_store: PostgresStore, pg_target: Target
) -> None:
    def program() -> Program[str]:
        yield Sql("INSERT INTO numbers VALUES (%s)", many=((1,), (2,)))
        yield Sql("INSERT INTO numbers VALUES (%s)", (2,))  # a duplicate key, never read
        return "done"

    with pytest.raises(StoreConflict, match="duplicate key"):
        await pg_store._run(program(), write=True)

    assert pg_target.raw("SELECT n FROM numbers") == []


def waits_for_lock(conn: psycopg.Connection[tuple[object, ...]], pid: int) -> None:
    """Wait until the server process ``pid`` waits for the lock ``conn`` holds."""
    deadline = time.monotonic() + WAIT
    while not conn.execute(
        "SELECT 1 FROM pg_locks WHERE pid = %s AND locktype = 'advisory' AND NOT granted",
        (pid,),
    ).fetchone():
        assert time.monotonic() < deadline, "the store's server never waited for the lock"
        time.sleep(0.001)

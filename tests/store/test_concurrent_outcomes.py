"""Two transactions recording outcomes of the same send at once, on a real PostgreSQL server.

The interleaving is forced, not timed: the first transaction runs its commit's statements up
to a chosen point and stops there (still open); the second runs as the store runs it, until
the server shows it waiting for a lock the first one holds; then the first commits. Either
order of outcomes ("sent" first, "failed" first) must leave the outbox entry and its
``message_out`` line's outcome telling the same story: that of the first to commit. (Before
the fix the second commit wrote its outcome on the line, and the entry kept the first's;
with several sends in opposite orders, or one send updated twice in the second commit (its
statements lock the entry before the line, the first commit's the line before the entry),
the two commits deadlocked; so they did, until every entry was locked up front in one
order, when each commit's first statement took the other send first.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import psycopg
import pytest
from psycopg import sql

from tests.guards import WAIT
from tests.store.builders import ACCOUNT, conversation, line, outbox
from tests.store.conftest import Target
from ucwa_flow.store import Changes, OutboxUpdate, Store
from ucwa_flow.store import _operations as ops
from ucwa_flow.store._sql import Program, Rows

SENT = OutboxUpdate("op-1", "sent", 1001.0)
FAILED = OutboxUpdate("op-1", "failed", 1001.0, "gone")
RETRY = OutboxUpdate("op-1", "pending", 1001.0, "503 from the server")
OTHER_SENT = OutboxUpdate("op-2", "sent", 1001.0)
OTHER_FAILED = OutboxUpdate("op-2", "failed", 1001.0, "late")
OTHER_RETRY = OutboxUpdate("op-2", "pending", 1001.0, "503 from the server")


@pytest.mark.parametrize(
    ("first", "second", "ends"),
    [
        ((SENT,), (FAILED,), [("sent", "sent"), ("pending", None)]),
        ((FAILED,), (SENT,), [("failed", "failed: gone"), ("pending", None)]),
        ((RETRY,), (SENT,), [("sent", "sent"), ("pending", None)]),
        ((SENT, OTHER_SENT), (OTHER_FAILED, FAILED), [("sent", "sent"), ("sent", "sent")]),
        # one send twice in the second commit: the path that updates one at a time
        ((SENT,), (RETRY, FAILED), [("sent", "sent"), ("pending", None)]),
        # each commit's first statement (the lines of the finished sends) takes the other
        # send first: without locking every entry up front, in one order, a cycle
        ((RETRY, OTHER_SENT), (SENT, OTHER_RETRY), [("sent", "sent"), ("sent", "sent")]),
        # one send twice in the second commit, against the other send's order
        ((SENT, OTHER_SENT), (OTHER_RETRY, SENT, OTHER_FAILED), [("sent", "sent")] * 2),
    ],
)
async def test_two_commits_of_one_send_leave_outbox_and_transcript_agreeing(
    pg_target: Target,
    first: tuple[OutboxUpdate, ...],
    second: tuple[OutboxUpdate, ...],
    ends: list[tuple[str, str | None]],
) -> None:
    """``ends``: each entry's (outbox status, transcript outcome) afterwards."""
    store = await pg_target.open()
    try:
        await store.commit(
            ACCOUNT,
            Changes(
                conversations=(conversation(),),
                outbox=(outbox("op-1"), outbox("op-2")),
                transcript=(
                    line("message_out", {"text": "hi"}, entry="op-1"),
                    line("message_out", {"text": "there"}, entry="op-2"),
                ),
            ),
        )
        await _interleaved(pg_target, store, Changes(sent=first), Changes(sent=second))
    finally:
        await store.aclose()

    found = pg_target.raw(
        "SELECT o.status, t.outcome FROM outbox o JOIN transcript t "
        "ON t.key = o.operation_context ORDER BY o.operation_context"
    )
    assert found == ends


async def _interleaved(target: Target, store: Store, first: Changes, second: Changes) -> None:
    """``first`` on a connection of the test's own, stopped after its first row written;
    ``second`` through ``store`` until it waits for a lock; then ``first`` goes on and
    commits."""
    assert target.url is not None
    assert target.schema is not None
    schema = target.schema
    url = target.url.replace(f"application_name={schema}", "application_name=first")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        others: list[asyncio.Task[object]] = []

        async def pause() -> None:
            others.append(asyncio.create_task(store.commit(ACCOUNT, second)))
            await _blocked(conn, schema, others[0])

        async with conn.transaction():
            await _run_paused(conn, ops.commit(ACCOUNT, first, "postgres"), pause)
        await asyncio.wait_for(others[0], WAIT)


async def _run_paused(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    program: Program[object],
    pause: Callable[[], Awaitable[None]],
) -> None:
    """Run ``program``'s statements one row at a time (a statement for many rows too),
    with ``pause`` after the first."""
    paused = False
    async with conn.cursor() as cursor:
        with contextlib.suppress(StopIteration):
            statement = next(program)
            while True:
                rows: Rows = []
                for params in (statement.params,) if statement.many is None else statement.many:
                    await cursor.execute(statement.text, params)
                    if statement.returns_rows:
                        rows = await cursor.fetchall()
                    if not paused:
                        paused = True
                        await pause()
                statement = program.send(rows)


async def _blocked(
    conn: psycopg.AsyncConnection[tuple[object, ...]], name: str, other: asyncio.Task[object]
) -> None:
    """Until the store's session (``application_name`` ``name``) waits for a lock."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        async with conn.cursor() as cursor:
            await cursor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s "
                "AND wait_event_type = 'Lock'",
                (name,),
            )
            if await cursor.fetchall():
                return
        assert not other.done(), f"the second commit did not wait: {other}"
        assert loop.time() < deadline, "the second commit never waited for the first"
        await asyncio.sleep(0.01)

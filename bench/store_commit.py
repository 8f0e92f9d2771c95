"""Store commit throughput: ``python -m bench.store_commit`` from the repository root.

Measures commits per second through :meth:`ucwa_flow.store.Store.commit` for

* a typical step: 1 conversation upsert, 1 outbox entry, 2 transcript entries, and the
  channel position;
* an event batch of 50 conversations (each with its outbox entry and 2 transcript lines).

on SQLite (a file in a temporary folder, WAL, ``synchronous=NORMAL``) and on PostgreSQL when a
server answers (``--postgres URL``, else ``UCWA_FLOW_TEST_POSTGRES``, else
``postgresql://postgres@127.0.0.1:5432/test``; a schema of its own, dropped afterwards). Each
case runs ``--runs`` times; the median and the spread are printed. Commits are sequential, one
at a time, as the runtime's event loop would make them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
from psycopg import sql

from ucwa_flow.store import (
    Changes,
    ChannelPosition,
    ConversationRecord,
    OutboxEntry,
    Store,
    Timer,
    TranscriptEntry,
    open_store,
)

ACCOUNT = "sip:bench@contoso.com"
APP = "/ucwa/oauth/v1/applications/1"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def batch(n: int, size: int) -> Changes:
    """Commit number ``n``: ``size`` conversations, each with an outbox entry and 2 lines."""
    now = time.time()
    records, outbox, lines = [], [], []
    for i in range(size):
        conv = f"/ucwa/conversations/{i}"
        op = f"op-{n}-{i}"
        records.append(
            ConversationRecord(
                account=ACCOUNT,
                conversation=conv,
                flow="helpdesk",
                flow_version="sha256:0123456789abcdef",
                state=f"state{n % 7}",
                created_at=now,
                updated_at=now,
                variables={"name": "Ann", "ticket": n, "topic": "printer"},
                misses=n % 3,
                timers=(Timer("silence", now + 60),),
                caller_uri=f"sip:caller{i}@contoso.com",
                caller_name=f"Caller {i}",
                extra={"silence_cursor": 0},
            )
        )
        outbox.append(OutboxEntry(ACCOUNT, conv, "message", {"text": f"reply {n}"}, op, now))
        lines.append(TranscriptEntry(ACCOUNT, conv, now, "message_in", {"text": f"msg {n}"}))
        lines.append(TranscriptEntry(ACCOUNT, conv, now, "message_out", {"text": "r"}, key=op))
    return Changes(
        position=ChannelPosition(APP, f"{APP}/events?ack={n}", now),
        conversations=tuple(records),
        outbox=tuple(outbox),
        transcript=tuple(lines),
    )


async def rate(store: Store, size: int, commits: int) -> float:
    """Commits per second over ``commits`` sequential commits of ``size`` conversations."""
    work = [batch(n, size) for n in range(commits)]
    started = time.perf_counter()
    for changes in work:
        await store.commit(ACCOUNT, changes)
    return commits / (time.perf_counter() - started)


async def measure(
    name: str, opener: Callable[[], Awaitable[Store]], runs: int, commits: int
) -> None:
    for size, count in ((1, commits), (50, max(10, commits // 10))):
        rates = []
        for _ in range(runs):
            store = await opener()
            try:
                rates.append(await rate(store, size, count))
            finally:
                await store.aclose()
        median = statistics.median(rates)
        print(
            f"{name:<10} {size:>3} conv/commit  {median:>9.0f} commits/s"
            f"  ({min(rates):.0f}-{max(rates):.0f})  {median * size:>9.0f} conversations/s"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store_commit")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("UCWA_FLOW_TEST_POSTGRES", DEFAULT_PG))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        counter = iter(range(1_000_000))

        async def sqlite() -> Store:
            return await open_store(Path(folder) / f"bench{next(counter)}.sqlite3")

        await measure("sqlite", sqlite, args.runs, args.commits)

    try:
        with psycopg.connect(args.postgres, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        print(f"postgres   skipped: {str(exc).strip().splitlines()[0]}")
        return
    schemas: list[str] = []

    async def postgres() -> Store:
        schemas.append(f"bench_{uuid.uuid4().hex[:12]}")
        return await open_store(args.postgres, schema=schemas[-1])

    try:
        await measure("postgres", postgres, args.runs, args.commits)
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    asyncio.run(main())

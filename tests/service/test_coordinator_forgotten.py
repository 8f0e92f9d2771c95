"""A worker the others forgot comes back into the fair shares once it renews again
(``service/_coordinator.py``, ``store/leases.py``), on a real PostgreSQL server.

A worker not seen for ten lease times (a minute at least) is deleted by the others'
heartbeats. One frozen that long (``SIGSTOP``, a virtual machine paused) and then resumed
renewed by updating its row, which was gone: it was never listed again, neither by
``ucwa-flow workers`` nor among the live workers, and the others kept its fair share for
good while it served nothing.

The rounds are run by the test, one at a time (no heartbeat task, no renewer): what each
worker does is decided by the order of the rounds, not by the machine's speed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import psycopg
import pytest

from tests.service.test_coordinator_stall import _Bot
from tests.service.world import until
from ucwa_flow.deploy import WorkersSpec
from ucwa_flow.service import Coordinator
from ucwa_flow.service._account import AccountRunner
from ucwa_flow.store import open_store
from ucwa_flow.store.leases import LeaseBook, WorkerInfo

#: long enough that no lease lapses between two rounds of the test on a slow machine
WORKERS = WorkersSpec(lease=60.0, heartbeat=1.0)


def _bot(name: str) -> AccountRunner:
    bot = _Bot()
    bot.user = f"sip:{name}@contoso.com"
    return cast(AccountRunner, bot)


@pytest.fixture
async def pair(pg_store: str) -> AsyncIterator[tuple[Coordinator, Coordinator]]:
    """Workers ``a`` and ``b`` sharing two accounts, each on a store of its own, joined."""
    made = []
    for worker in (WorkerInfo("a", "host-a", 1), WorkerInfo("b", "host-b", 2)):
        book = LeaseBook(await open_store(pg_store))
        runners = {name: _bot(name) for name in ("one", "two")}
        made.append(Coordinator(book, runners, WORKERS, worker=worker))
        await book.join(worker)
    a, b = made
    try:
        yield a, b
    finally:
        for coordinator in made:
            await coordinator.stop()
            await coordinator.leave()
            await coordinator.book.store.aclose()


async def test_a_worker_forgotten_while_frozen_gets_its_share_again(
    pg_store: str, pair: tuple[Coordinator, Coordinator]
) -> None:
    a, b = pair
    await a.round()  # a alone is live: it takes both accounts
    await b.round()  # b is live now, but finds both taken
    await a.round()  # a's share is one: it hands one over
    await until(lambda: len(a.held) == 1, "an account handed over")
    await b.round()
    assert len(a.held) == len(b.held) == 1

    # b is frozen for ten lease times: its lease lapsed, the others forget it
    with psycopg.connect(pg_store, autocommit=True) as conn:
        conn.execute("UPDATE workers SET seen_at = now() - interval '1 hour' WHERE id = 'b'")
        conn.execute("UPDATE leases SET expires_at = now() WHERE worker = 'b'")
    await a.round()  # b forgotten: a serves both
    assert [w.id for w in await a.book.workers()] == ["a"]
    assert len(a.serving) == 2

    await b.round()  # resumed: its lease is gone (revoked), and it is recorded again
    assert b.held == {}
    assert [w.id for w in await a.book.workers()] == ["a", "b"]
    assert [w.id for w in await a.book.workers(live_within=WORKERS.lease)] == ["a"]
    await b.round()  # renewed again: live
    assert [w.id for w in await a.book.workers(live_within=WORKERS.lease)] == ["a", "b"]

    await a.round()  # a's share is one again: it hands one over, and b takes it
    assert len(a.serving) == 1
    await until(lambda: len(a.held) == 1, "an account handed over")
    await b.round()
    assert len(b.held) == 1

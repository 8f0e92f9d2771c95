"""A round still under way when its worker leaves takes nothing any more
(``service/_coordinator.py``), on a real PostgreSQL server.

``pause`` gives up waiting for a round whose store hangs, and the stop goes on to
:meth:`Coordinator.leave`. The round went on after the leave: a worker that left is in no
share, so it took every account again, started their bots after the service had stopped,
and held them until the leases expired. The order is made by the server's locks and the
store's turns (no sleeps): the round's renewal waits for the worker's row, locked from
another connection; the leave queues behind it on the worker's connection; the lock goes,
the renewal ends, the leave runs, then the rest of the round.
"""

from __future__ import annotations

import asyncio
from typing import cast

import psycopg

from tests.guards import WAIT
from tests.service.test_coordinator_stall import _Bot
from tests.service.world import until
from ucwa_flow.deploy import WorkersSpec
from ucwa_flow.service import Coordinator
from ucwa_flow.service._account import AccountRunner
from ucwa_flow.store import open_store
from ucwa_flow.store._sql import Program, Sql
from ucwa_flow.store.leases import LeaseBook, WorkerInfo

#: long enough that no lease lapses during the test on a slow machine
WORKERS = WorkersSpec(lease=60.0, heartbeat=1.0)


class _Counted(_Bot):
    def __init__(self) -> None:
        super().__init__()
        self.starts = 0

    def start(self) -> None:
        self.starts += 1


def _pid() -> Program[int]:
    rows = yield Sql("SELECT pg_backend_pid()")
    return int(str(rows[0][0]))


async def test_a_round_under_way_when_the_worker_leaves_takes_nothing(pg_store: str) -> None:
    bot = _Counted()
    book = LeaseBook(await open_store(pg_store))
    worker = WorkerInfo("a", "host-a", 1)
    coordinator = Coordinator(book, {"helpdesk": cast(AccountRunner, bot)}, WORKERS, worker=worker)
    await coordinator.start()
    await coordinator.pause()  # the test runs the rounds
    await coordinator.round()
    assert list(coordinator.held) == ["helpdesk"]
    assert bot.starts == 1
    pid = await book.store._run(_pid(), write=False)
    original = book.leave
    leaving = asyncio.Event()

    async def leave(worker: str) -> int:
        leaving.set()  # then queued behind the round's renewal on the worker's connection
        return await original(worker)

    book.leave = leave  # type: ignore[method-assign]
    try:
        async with (
            await psycopg.AsyncConnection.connect(pg_store) as hold,
            await psycopg.AsyncConnection.connect(pg_store, autocommit=True) as watch,
        ):
            await hold.execute("SELECT 1 FROM workers WHERE id = 'a' FOR UPDATE")
            late = asyncio.create_task(coordinator.round())  # its renewal waits for the row

            async def waiting() -> bool:
                cursor = await watch.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
                )
                return await cursor.fetchone() == ("Lock",)

            deadline = asyncio.get_running_loop().time() + WAIT
            while not await waiting():
                assert asyncio.get_running_loop().time() < deadline, "the renewal never waited"
                await asyncio.sleep(0.01)
            left = asyncio.create_task(coordinator.leave())
            await asyncio.wait_for(leaving.wait(), WAIT)
            await hold.rollback()  # the renewal ends, the leave runs, then the rest of the round
            await asyncio.wait_for(asyncio.gather(late, left), WAIT)
        await until(lambda: not coordinator._stops, "nothing left under way")
        assert coordinator.held == {}
        assert bot.starts == 1  # no bot started after the leave
        owners = await book.owners()
        assert [(lease.worker, lease.valid) for lease in owners] == [(None, False)]
    finally:
        await book.store.aclose()

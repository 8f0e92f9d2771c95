"""A coordinator takes an account whose lease row another worker, frozen in the middle of
its own acquire, keeps locked (``service/_coordinator.py``, ``store/leases.py``), on a real
PostgreSQL server.

Found by tests/e2e/test_failover.py (the third scene): a worker freezes in the middle of a
reply while its coordinator is taking an account just handed over to it; the other worker
takes the frozen one's accounts over once their leases expire, but never that one: its row
has no owner (it was released), so the sessions ended to free it were nobody's, and every
acquire skipped the locked row, round after round.
"""

from __future__ import annotations

import contextlib
from typing import cast

import psycopg
import pytest

from tests.service.test_coordinator_stall import ACCOUNT, WORKERS, _Bot
from tests.service.world import until
from ucwa_flow.service import Coordinator
from ucwa_flow.service._account import AccountRunner
from ucwa_flow.service._stores import named
from ucwa_flow.store import open_store
from ucwa_flow.store._lease_taking import acquire_program
from ucwa_flow.store.leases import LeaseBook, WorkerInfo, application_name


async def test_an_account_handed_over_to_a_worker_frozen_taking_it_is_taken_by_another(
    pg_store: str,
) -> None:
    book = LeaseBook(await open_store(pg_store))
    bot = _Bot()
    coordinator = Coordinator(
        book,
        {"helpdesk": cast(AccountRunner, bot)},
        WORKERS,
        worker=WorkerInfo("b", "host-b", 2),
    )
    handing = await book.acquire(ACCOUNT, "a", 30)  # worker a's, then handed over
    assert handing is not None
    assert await book.release(ACCOUNT, "a", handing.token)
    url = named(pg_store, application_name("c"))  # worker c's session
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as frozen:
        with pytest.raises(psycopg.OperationalError):  # its session is ended
            await _taken_while_c_is_frozen(frozen, coordinator)
    assert bot.lease_token == handing.token + 1  # c's acquire was rolled back


async def _taken_while_c_is_frozen(
    frozen: psycopg.AsyncConnection[tuple[object, ...]], coordinator: Coordinator
) -> None:
    """Worker c takes the account and freezes before its commit (pipelined, as the store
    runs it): ``coordinator`` must take the account meanwhile."""
    async with frozen.transaction(), frozen.pipeline():
        program = acquire_program(ACCOUNT, "c", 30)
        statement = next(program)
        with contextlib.suppress(StopIteration):
            while True:
                async with frozen.cursor() as cursor:
                    await cursor.execute(statement.text, statement.params)
                    rows = await cursor.fetchall() if statement.returns_rows else []
                statement = program.send(rows)
        await coordinator.start()
        try:
            await until(lambda: coordinator.held, "the account taken over")
        finally:
            await coordinator.stop()
            await coordinator.leave()
            await coordinator.book.store.aclose()

"""The coordinator's wiring of its lease renewer (``service/_coordinator.py``) on a real
PostgreSQL server: the renewer renews while the service's loop runs, and while it runs late;
once the loop has not run for ``stalled`` it stops renewing and the lease lapses; once the
loop runs again, it renews again.

The coordinator's monotonic clock is the test's: it stands still unless the test moves it,
so "the loop has not run for N seconds" is decided by the test, not by how fast the machine
is. The loop is really blocked meanwhile (the test waits in it without yielding), while the
renewer's thread goes on; the lease row says what it did, by the database's clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import psycopg

from tests.guards import WAIT
from tests.service.world import until
from ucwa_flow.deploy import AccountSpec, SecretSource, WorkersSpec
from ucwa_flow.service import Coordinator
from ucwa_flow.service._account import AccountRunner
from ucwa_flow.service._coordinator import LOOP_STUCK
from ucwa_flow.store import open_store
from ucwa_flow.store.leases import Lease, LeaseBook

ACCOUNT = "sip:helpdesk@contoso.com"
#: a short lease (real seconds, the database's clock), renewed often
WORKERS = WorkersSpec(lease=2.0, heartbeat=0.1)


class _Clock:
    """A monotonic clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Bot:
    """What a coordinator uses of an :class:`AccountRunner`, with no server behind it."""

    def __init__(self) -> None:
        self.spec = AccountSpec("helpdesk", ACCOUNT, SecretSource(env="UNUSED"), (), "helpdesk")
        self.user = ACCOUNT
        self.busy = False
        self.error: str | None = None
        self.lease_token: int | None = None
        self.on_fenced: Callable[[AccountRunner], None] | None = None
        self.lease_valid: Callable[[], bool] | None = None
        self.revoked: list[str] = []

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def abandon(self) -> None:
        pass

    def revoke(self, why: str) -> None:
        self.revoked.append(why)


@dataclass(frozen=True)
class _Row:
    token: int
    renewed_at: datetime
    valid: bool


def _row(conn: psycopg.Connection[tuple[object, ...]]) -> _Row:
    found = conn.execute(
        "SELECT token, renewed_at, expires_at > now() FROM leases WHERE account = %s",
        (ACCOUNT,),
    ).fetchone()
    assert found is not None
    token, renewed_at, valid = found
    return _Row(cast(int, token), cast(datetime, renewed_at), bool(valid))


def _blocked_until(
    conn: psycopg.Connection[tuple[object, ...]], ready: Callable[[_Row], bool], what: str
) -> _Row:
    """Poll the lease row without ever yielding to the event loop: the service's loop is
    blocked for as long as this waits (``WAIT`` real seconds at most)."""
    deadline = time.monotonic() + WAIT
    while not ready(row := _row(conn)):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return row


async def _lease(book: LeaseBook, ready: Callable[[Lease], bool], what: str) -> Lease:
    """The account's lease once ``ready`` (polled while the loop runs, ``WAIT`` at most)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        for lease in await book.owners():
            if lease.account == ACCOUNT and ready(lease):
                return lease
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_a_loop_is_stuck_after_30_seconds_or_three_leases() -> None:
    book = cast(LeaseBook, None)  # not used before start()
    assert Coordinator(book, {}, WORKERS).stalled == LOOP_STUCK == 30
    assert Coordinator(book, {}, WorkersSpec(lease=20.0, heartbeat=5.0)).stalled == 60


async def test_the_renewer_renews_while_the_loop_runs_and_stops_while_it_is_stuck(
    pg_store: str,
) -> None:
    clock, bot = _Clock(), _Bot()
    book, watch = LeaseBook(await open_store(pg_store)), LeaseBook(await open_store(pg_store))
    coordinator = Coordinator(
        book,
        {"helpdesk": cast(AccountRunner, bot)},
        WORKERS,
        monotonic=clock,
        renew_from=pg_store,
    )
    await coordinator.start()
    try:
        await until(lambda: coordinator.held, "the lease")
        first = coordinator.held["helpdesk"].token

        # the loop runs: the lease outlives two leases' time, renewed, never taken again
        lease = await _lease(watch, lambda x: x.held_for > 2 * WORKERS.lease, "two leases' time")
        assert lease.valid
        assert lease.token == first == coordinator.held["helpdesk"].token
        assert not bot.revoked

        with psycopg.connect(pg_store, autocommit=True) as conn:  # the loop blocked from here
            seen = _row(conn)
            clock.now += coordinator.stalled - 1  # late, not yet stuck: renewals go on
            _blocked_until(conn, lambda x: x.renewed_at > seen.renewed_at, "a renewal (late)")
            clock.now += 2  # stuck: no more renewals, the lease lapses (database's clock)
            lapsed = _blocked_until(conn, lambda x: not x.valid, "the lease to lapse (stuck)")
            assert lapsed.token == first

        # the loop runs again: the account is taken again, and its new lease renewed (by
        # the renewer: the coordinator's rounds only read while it runs)
        await until(
            lambda: (held := coordinator.held.get("helpdesk")) is not None and held.token > first,
            "the account taken again",
        )
        second = coordinator.held["helpdesk"].token
        assert bot.revoked  # lost meanwhile: not relied on once stuck past its lease
        renewed = await _lease(
            watch, lambda x: x.token == second and x.renewed_ago < x.held_for, "a renewal"
        )
        assert renewed.valid
        assert coordinator.renewer is not None
        assert coordinator.renewer.running
    finally:
        await coordinator.stop()
        await coordinator.leave()
        await book.store.aclose()
        await watch.store.aclose()

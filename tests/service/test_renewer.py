"""The lease renewer's own thread (``service/_renewer.py``) on a real PostgreSQL server: it
renews while the service's loop runs, even late, and stops renewing while that loop is
stuck, so a stuck worker's leases expire and the other workers take its accounts over."""

from __future__ import annotations

import threading
import time

from tests.service.world import until
from ucwa_flow.service._renewer import Renewer
from ucwa_flow.store import open_store
from ucwa_flow.store.leases import Lease, LeaseBook, new_worker

ACCOUNT = "sip:helpdesk@contoso.com"


class _Loop:
    """The service's loop as the renewer sees it: seconds since it last ran (``stuck``
    makes it long), and how many times the renewer looked (each of its rounds looks once)."""

    def __init__(self) -> None:
        self.stuck = False
        self.looks = 0
        self._lock = threading.Lock()

    def alive(self) -> float:
        with self._lock:
            self.looks += 1
        return 3600.0 if self.stuck else 0.0


async def test_the_renewer_renews_until_the_loop_is_stuck_and_again_once_it_runs(
    pg_store: str,
) -> None:
    url = pg_store
    book = LeaseBook(await open_store(url))
    worker = new_worker()
    await book.join(worker)
    lease = await book.acquire(ACCOUNT, worker.id, 30)
    assert lease is not None
    loop, renewals = _Loop(), list[tuple[float, list[Lease]]]()
    renewer = Renewer(
        url,
        worker,
        ttl=30,
        heartbeat=0.02,
        stalled=30,
        monotonic=time.monotonic,
        alive=loop.alive,
        renewed=lambda sent, leases: renewals.append((sent, leases)),
    )
    renewer.start()
    try:
        await until(lambda: renewals, "a renewal")
        assert [(x.account, x.token) for x in renewals[-1][1]] == [(ACCOUNT, lease.token)]

        loop.stuck = True
        looks = loop.looks + 1  # a round may be between its look and its renewal
        await until(lambda: loop.looks >= looks, "the renewer's look at a stuck loop")
        count = len(renewals)
        await until(lambda: loop.looks >= looks + 3, "three more rounds of the renewer")
        assert len(renewals) == count  # no renewal while the loop is stuck

        loop.stuck = False
        await until(lambda: len(renewals) > count, "a renewal once the loop runs")
    finally:
        await renewer.stop()
        assert not renewer.running
        await book.store.aclose()

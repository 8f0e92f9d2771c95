"""A worker whose account store cannot be opened for good gives the account up and keeps
away from the accounts for a while, longer with each refusal in a row
(``service/_coordinator.py``, ``store/leases.py``), on a real PostgreSQL server.

The rounds are run by the test, one at a time, on a monotonic clock that moves only when the
test moves it (no heartbeat task, no renewer): how long a worker keeps away is decided by
the test, not by the machine's speed. The leases themselves are long (real seconds, the
database's clock), so none lapses meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import cast

import pytest

from tests.service.test_coordinator_stall import _Bot, _Clock
from tests.service.world import until
from ucwa_flow.deploy import WorkersSpec
from ucwa_flow.service import Backoff, Coordinator
from ucwa_flow.service._account import AccountRunner
from ucwa_flow.store import StoreError, open_store
from ucwa_flow.store.leases import LeaseBook, WorkerInfo

WORKERS = WorkersSpec(lease=60.0, heartbeat=1.0)
REFUSAL = "cannot open the conversation store: the store ... refused the connection"


class _Runner(_Bot):
    """A runner whose store may be refused: ``forgive`` and ``signed_in`` as a runner's."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.user = f"sip:{name}@contoso.com"
        self.spec = replace(self.spec, id=name, user=self.user)
        self.signed_in = False
        self.forgiven = 0

    def forgive(self) -> None:
        self.forgiven += 1


@pytest.fixture
async def pair(pg_store: str) -> AsyncIterator[tuple[Coordinator, Coordinator, _Clock]]:
    """Workers ``a`` and ``b`` sharing accounts ``one`` and ``two``, joined; ``a`` keeps away
    for a lease (60 s) after its first refusal, doubling with each in a row."""
    made, clock = [], _Clock()
    for worker in (WorkerInfo("a", "host-a", 1), WorkerInfo("b", "host-b", 2)):
        book = LeaseBook(await open_store(pg_store))
        runners = {name: cast(AccountRunner, _Runner(name)) for name in ("one", "two")}
        away = Backoff(first=60.0, cap=300.0, jitter=0.0)
        made.append(Coordinator(book, runners, WORKERS, worker=worker, monotonic=clock, away=away))
        await made[-1].start()
        await made[-1].pause()  # the test runs the rounds
    a, b = made
    try:
        yield a, b, clock
    finally:
        for coordinator in made:
            await coordinator.leave()
            await coordinator.book.store.aclose()


async def _refuse(coordinator: Coordinator, account: str) -> None:
    """``account``'s runner found its store refused for good (as AccountRunner does)."""
    runner = coordinator.runners[account]
    runner.error = REFUSAL
    on_refused = runner.on_refused
    assert on_refused is not None
    on_refused(runner)
    await until(lambda: account not in coordinator.held, f"{account} given up")


async def test_a_refused_account_goes_to_a_worker_at_its_share_and_the_time_away_grows(
    pair: tuple[Coordinator, Coordinator, _Clock],
) -> None:
    a, b, clock = pair
    await a.round()  # a alone is live: it takes both accounts
    await b.round()  # b is live now, but finds both taken
    await a.round()  # a's share is one: it hands one over
    await until(lambda: len(a.held) == 1, "an account handed over")
    await b.round()
    (mine,) = a.held
    assert len(b.held) == 1

    await _refuse(a, mine)  # released at once, and a is kept away: b takes it, at its share
    assert a.kept_away() == {mine: REFUSAL}
    assert [w.id for w in await b.book.workers(live_within=60.0, taking=True)] == ["b"]
    await b.round()
    assert sorted(b.serving) == ["one", "two"]
    lease = {lease.account: lease for lease in await b.book.owners()}[f"sip:{mine}@contoso.com"]
    assert (lease.worker, lease.token) == ("b", 2)  # taken by a, then by b

    await b.leave()  # both free now: a takes nothing while it keeps away
    clock.now += 59
    await a.round()
    assert a.held == {}
    assert cast(_Runner, a.runners[mine]).forgiven == 0  # not ready on a meanwhile
    clock.now += 2  # a lease later: forgiven (not reported not ready), takes both again
    await a.round()
    assert cast(_Runner, a.runners[mine]).forgiven == 1
    assert sorted(a.serving) == ["one", "two"]

    await _refuse(a, mine)  # the second refusal in a row: two leases away
    clock.now += 119
    assert a.kept_away() == {mine: REFUSAL}
    await a.round()
    assert mine not in a.held
    clock.now += 2
    assert a.kept_away() == {}
    await a.round()  # away no more: forgiven, and taken again
    assert cast(_Runner, a.runners[mine]).forgiven == 2
    assert mine in a.serving

    cast(_Runner, a.runners[mine]).signed_in = True  # served at last: the count starts over
    await a.round()
    assert a.away.refused == {}
    await _refuse(a, mine)
    clock.now += 61
    assert a.kept_away() == {}


async def _taking(coordinator: Coordinator) -> list[str]:
    """The workers the store counts in the fair shares (live, not marked away)."""
    return [w.id for w in await coordinator.book.workers(live_within=60.0, taking=True)]


async def _shared(a: Coordinator, b: Coordinator) -> str:
    """Both live, one account each; the one ``a`` holds."""
    await a.round()
    await b.round()
    await a.round()
    await until(lambda: len(a.held) == 1, "an account handed over")
    await b.round()
    (mine,) = a.held
    return mine


async def test_a_refusal_of_an_account_lost_meanwhile_is_marked_in_the_store_and_cleared(
    pair: tuple[Coordinator, Coordinator, _Clock],
) -> None:
    """The refused account's lease was lost (or being handed over) when the refusal came:
    the worker kept away, but the store never knew it, and the others counted it in their
    fair shares. The mark goes when the time away ends: it stayed until it expired, and the
    others left out a worker that served again."""
    a, b, clock = pair
    mine = await _shared(a, b)
    a._lose(mine, "taken meanwhile")  # as a round finding the lease gone does
    await _refuse(a, mine)
    assert a.kept_away() == {mine: REFUSAL}
    await a.round()
    assert await _taking(b) == ["b"]
    clock.now += 61  # the time away is over: a counts again
    await a.round()
    assert await _taking(b) == ["a", "b"]


async def test_a_mark_that_could_not_be_written_is_written_at_the_next_round(
    pair: tuple[Coordinator, Coordinator, _Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, clock = pair
    mine = await _shared(a, b)

    async def unreachable(*_: object) -> bool:
        raise StoreError("the store went away", retryable=True)

    monkeypatch.setattr(a.book, "give_up", unreachable)
    await _refuse(a, mine)  # neither released nor marked
    assert await _taking(b) == ["a", "b"]
    monkeypatch.undo()
    await a.round()
    assert await _taking(b) == ["b"]
    await b.round()  # the lease a could not give up was released by its round: b takes it
    assert sorted(b.serving) == ["one", "two"]
    clock.now += 61
    await a.round()
    assert await _taking(b) == ["a", "b"]


async def test_the_mark_goes_when_the_time_away_ends(
    pair: tuple[Coordinator, Coordinator, _Clock],
) -> None:
    """Given up the usual way (the mark written with the lease given up, for a lease by the
    database's clock): once the worker's own time away ends, the others count it again at
    once, not when the mark expires."""
    a, b, clock = pair
    mine = await _shared(a, b)
    await _refuse(a, mine)
    assert await _taking(b) == ["b"]
    clock.now += 30
    await a.round()
    assert await _taking(b) == ["b"]
    clock.now += 31
    await a.round()
    assert await _taking(b) == ["a", "b"]

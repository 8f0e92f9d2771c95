"""Account leases and fencing on a real PostgreSQL server (a schema per test)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from tests.guards import WAIT
from tests.store.builders import ACCOUNT, conversation, position
from tests.store.conftest import Target
from ucwa_flow.cli import cli
from ucwa_flow.service._stores import named
from ucwa_flow.store import Changes, FencedStore, Store, StoreError, StoreFenced, open_store
from ucwa_flow.store._fencing import fenced
from ucwa_flow.store._lease_taking import _NOT_LEFT, acquire_program
from ucwa_flow.store._sql import Program, Sql
from ucwa_flow.store.leases import (
    ConfigConflict,
    Lease,
    LeaseBook,
    LeaseLost,
    WorkerInfo,
    application_name,
)

A, B = WorkerInfo("a", "host-a", 1), WorkerInfo("b", "host-b", 2)


@pytest.fixture
async def books(pg_target: Target) -> AsyncIterator[tuple[LeaseBook, LeaseBook, Target]]:
    """Two workers' lease books, each on a connection of its own."""
    one, two = await pg_target.open(), await pg_target.open()
    try:
        yield LeaseBook(one), LeaseBook(two), pg_target
    finally:
        await one.aclose()
        await two.aclose()


async def test_only_one_of_many_concurrent_acquirers_gets_a_free_lease(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    one, two, _ = books
    for round_ in range(10):
        account = f"sip:bot{round_}@contoso.com"
        got = await asyncio.gather(one.acquire(account, "a", 30), two.acquire(account, "b", 30))
        winners = [lease for lease in got if lease is not None]
        assert len(winners) == 1
        assert winners[0].token == 1
        assert winners[0].valid
    owners = await one.owners()
    assert len(owners) == 10
    assert all(lease.worker in {"a", "b"} for lease in owners)


async def test_a_held_lease_is_refused_and_renewals_keep_it(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    one, two, _ = books
    lease = await one.acquire(ACCOUNT, "a", 30)
    assert lease is not None
    assert await two.acquire(ACCOUNT, "b", 30) is None
    renewed = await one.renew(ACCOUNT, "a", lease.token, 30)
    assert renewed.token == lease.token
    with pytest.raises(LeaseLost):
        await two.renew(ACCOUNT, "b", lease.token, 30)


async def test_expiry_is_decided_by_the_database_clock_and_tokens_grow(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    one, two, target = books
    first = await one.acquire(ACCOUNT, "a", 30)
    assert first is not None
    assert first.token == 1
    # the database's clock says the lease expired (no worker clock involved)
    target.raw(
        "UPDATE leases SET expires_at = now() - interval '1 second' WHERE account = %s",
        (ACCOUNT,),
    )
    with pytest.raises(LeaseLost):
        await one.renew(ACCOUNT, "a", 1, 30)
    assert [lease.account for lease in await one.heartbeat(A, 30)] == []
    second = await two.acquire(ACCOUNT, "b", 30)
    assert second is not None
    assert second.token == 2
    assert second.worker == "b"
    assert await two.release(ACCOUNT, "b", 2)
    third = await one.acquire(ACCOUNT, "a", 30)
    assert third is not None
    assert third.token == 3


async def test_heartbeat_renews_every_lease_and_leave_releases_them_at_once(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    one, two, target = books
    await one.join(A)
    await two.join(B)
    accounts = [f"sip:bot{i}@contoso.com" for i in range(3)]
    for account in accounts:
        assert await one.acquire(account, "a", 30) is not None
    renewed = await one.heartbeat(A, 30)
    assert sorted(lease.account for lease in renewed) == accounts
    assert await two.heartbeat(B, 30) == []
    assert [w.id for w in await two.workers(live_within=30)] == ["a", "b"]
    await two.join(WorkerInfo("killed", "host-c", 3))
    target.raw("UPDATE workers SET seen_at = now() - interval '1 hour' WHERE id = 'killed'")
    assert [w.id for w in await two.workers(live_within=30)] == ["a", "b"]
    assert len(await two.workers()) == 3
    await two.heartbeat(B, 30)  # a worker killed long ago is forgotten
    assert await one.leave("a") == 3
    assert [w.id for w in await two.workers()] == ["b"]
    for account in accounts:
        lease = await two.acquire(account, "b", 30)
        assert lease is not None
        assert lease.token == 2


async def test_a_stale_token_is_fenced_in_the_same_transaction(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    one, two, target = books
    old = await one.acquire(ACCOUNT, "a", 30)
    assert old is not None
    stale: Store = FencedStore(one.store, old.token)
    await stale.commit(ACCOUNT, Changes(position=position(1), conversations=(conversation(),)))
    target.raw("UPDATE leases SET expires_at = now() WHERE account = %s", (ACCOUNT,))
    new = await two.acquire(ACCOUNT, "b", 30)
    assert new is not None
    assert new.token == old.token + 1
    later = conversation(state="paid")
    with pytest.raises(StoreFenced) as caught:
        await stale.commit(ACCOUNT, Changes(position=position(2), conversations=(later,)))
    assert not caught.value.retryable
    assert "token 1" in str(caught.value)
    assert "worker b" in str(caught.value)
    with pytest.raises(StoreFenced):
        await stale.forget_application(ACCOUNT, "gone", 2000.0)
    # nothing of the stale writes is there
    assert target.raw("SELECT state FROM conversations") == [("greeting",)]
    assert target.raw("SELECT events_next FROM applications")[0][0].endswith("ack=1")
    # the new owner writes
    await FencedStore(two.store, new.token).commit(
        ACCOUNT, Changes(position=position(2), conversations=(later,))
    )
    assert target.raw("SELECT state FROM conversations") == [("paid",)]


async def test_a_fenced_write_waits_for_no_one_and_an_acquire_skips_a_checked_write(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """Commits and a takeover racing: every commit either lands before the new token
    (accepted) or is refused; none with the old token lands after it. An acquire that
    finds a checked write under way does not wait for it: it tries again later."""
    one, two, target = books
    old = await one.acquire(ACCOUNT, "a", 30)
    assert old is not None
    stale = FencedStore(one.store, old.token)
    target.raw("UPDATE leases SET expires_at = now() WHERE account = %s", (ACCOUNT,))
    taken: list[Lease] = []

    async def writes() -> list[bool]:
        outcomes = []
        n = 0
        while len(outcomes) < 30 or not taken or outcomes[-1]:
            n += 1
            try:
                await stale.commit(ACCOUNT, Changes(position=position(n)))
                outcomes.append(True)
            except StoreFenced:
                outcomes.append(False)
        return outcomes

    async def take() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while (lease := await two.acquire(ACCOUNT, "b", 30)) is None:
            assert loop.time() < deadline, "never taken"
            await asyncio.sleep(0)
        taken.append(lease)

    outcomes, _ = await asyncio.gather(writes(), take())
    assert taken[0].token == old.token + 1
    # once refused, always refused
    assert outcomes == sorted(outcomes, reverse=True)
    assert outcomes[-1] is False


async def test_disagreeing_account_configs_are_refused(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    one, two, _ = books
    await one.join(A)
    await two.join(B)
    await one.heartbeat(A, 30)
    await two.heartbeat(B, 30)
    await one.claim_config(ACCOUNT, "a", "digest-1", 30)
    await two.claim_config(ACCOUNT, "b", "digest-1", 30)
    with pytest.raises(ConfigConflict) as caught:
        await two.claim_config(ACCOUNT, "b", "digest-2", 30)
    assert "configured differently by worker b" in str(caught.value)
    # the worker that registered it left: a new configuration may take over
    await two.leave("b")
    await one.claim_config(ACCOUNT, "a", "digest-1", 30)
    await one.leave("a")
    await two.join(B)
    await two.claim_config(ACCOUNT, "b", "digest-2", 30)


async def test_a_worker_that_died_before_its_first_renewal_does_not_hold_its_configs(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """A worker killed after it registered its configuration, before it renewed (its
    connections gone with it), refused a worker with another deployment file for a lease
    time: :meth:`LeaseBook.claim_config` counted it live by ``seen_at`` alone, where
    :meth:`LeaseBook.workers` (the fair shares) did not."""
    one, two, _ = books
    # an id of this test's own: pg_stat_activity is the server's, and a test running beside
    # this one (on another xdist worker) has a session named after worker a
    await one.join(WorkerInfo("died-early", "host-d", 4))
    await one.claim_config(ACCOUNT, "died-early", "digest-1", 30)  # then killed: no session
    await two.join(B)
    await two.heartbeat(B, 30)
    await two.claim_config(ACCOUNT, "b", "digest-2", 30)


async def test_a_worker_starting_with_another_config_holds_its_configs_before_it_renews(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """Two workers with different deployment files starting at once: the first has joined
    and registered, not renewed yet. Counted as not live, the second took its registrations
    over, and both served with their own files. Its session on the server (named after it,
    as ``serve``'s are) says it is starting, not dead."""
    one, two, target = books
    assert target.url is not None
    starting = await open_store(named(target.url, application_name("c")), schema=target.schema)
    try:
        book = LeaseBook(starting)
        await book.join(WorkerInfo("c", "host-c", 3))
        await book.claim_config(ACCOUNT, "c", "digest-1", 30)
        await two.join(B)
        await two.heartbeat(B, 30)
        with pytest.raises(ConfigConflict, match="configured differently by worker c"):
            await two.claim_config(ACCOUNT, "b", "digest-2", 30)
        await one.join(A)  # one with the same file is welcome
        await one.claim_config(ACCOUNT, "a", "digest-1", 30)
    finally:
        await starting.aclose()


async def test_workers_of_one_long_host_name_are_told_apart_on_the_server(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """The server cuts a session's name at 63 bytes, and a worker id starts with its host
    name: two workers of one long pod name were called the same, so a dead one's
    registration was held by its live sibling's session (and the owner's stalled-session
    ending could hit the sibling's sessions)."""
    one, two, target = books
    assert target.url is not None
    host = "helpdesk-bot-7f9c8d6b5-" + "x" * 40  # 63 characters
    dead, alive = f"{host}:11:aaaaaa", f"{host}:12:bbbbbb"
    assert application_name(dead) != application_name(alive)
    assert len(application_name(dead).encode()) <= 63
    sibling = await open_store(named(target.url, application_name(alive)), schema=target.schema)
    try:
        await one.join(WorkerInfo(dead, host, 11))
        await one.claim_config(ACCOUNT, dead, "digest-1", 30)  # then killed
        await two.join(B)
        await two.heartbeat(B, 30)
        await two.claim_config(ACCOUNT, "b", "digest-2", 30)  # the sibling is no proof of it
    finally:
        await sibling.aclose()


async def test_sqlite_has_no_lease_book(target: Target) -> None:
    store = await target.open()
    try:
        if target.backend == "sqlite":
            with pytest.raises(StoreError, match="PostgreSQL"):
                LeaseBook(store)
        # an unfenced commit works on both backends
        await store.commit(ACCOUNT, Changes(position=position(1)))
    finally:
        await store.aclose()


async def test_the_workers_command_lists_workers_leases_and_unowned_accounts(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    one, two, target = books
    await one.join(A)
    await two.join(B)
    assert await one.acquire("sip:x@contoso.com", "a", 30) is not None
    assert await one.acquire("sip:y@contoso.com", "a", 30) is not None
    assert await two.acquire("sip:z@contoso.com", "b", 30) is not None
    target.raw("UPDATE leases SET expires_at = now() WHERE account = %s", ("sip:z@contoso.com",))
    assert target.url is not None
    assert target.schema is not None
    url = f"{target.url}&options=-csearch_path%3D{target.schema}"
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, cli, ["workers", "--store", url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("a  host host-a  pid 1  seen ")
    assert lines[0].endswith("2 account(s)")
    assert lines[1].startswith("  sip:x@contoso.com  token 1  held ")
    assert lines[3].startswith("b  host host-b  pid 2")
    assert lines[4:6] == ["unowned: 1 account(s)", lines[5]]
    assert lines[5].startswith("  sip:z@contoso.com  token 1  expired (was b)")
    result = await asyncio.to_thread(runner.invoke, cli, ["workers", "--store", url, "--json"])
    document = json.loads(result.output)
    assert [w["id"] for w in document["workers"]] == ["a", "b"]
    assert [a["account"] for a in document["workers"][0]["accounts"]] == [
        "sip:x@contoso.com",
        "sip:y@contoso.com",
    ]
    assert document["unowned"][0]["last_worker"] == "b"


async def test_the_workers_command_shows_a_worker_kept_away_from_the_accounts(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """A worker that gave an account up because its store could not be opened there takes
    no account for a while (``workers.away_until``): the listing said nothing of it, so an
    operator saw a live worker with no account and the others over their shares."""
    one, two, target = books
    await one.join(A)
    await two.join(B)
    lease = await one.acquire("sip:x@contoso.com", "a", 30)
    assert lease is not None
    assert await one.give_up("sip:x@contoso.com", "a", lease.token, 120)
    assert target.url is not None
    assert target.schema is not None
    url = f"{target.url}&options=-csearch_path%3D{target.schema}"
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, cli, ["workers", "--store", url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("a  host host-a  pid 1  seen ")
    assert lines[0].endswith("0 account(s)")
    assert lines[1].startswith("  takes no new account for ")
    assert "a store could not be opened there" in lines[1]
    assert lines[2].startswith("b  host host-b  pid 2")
    assert not any(line.startswith("  takes no new account") for line in lines[2:])
    result = await asyncio.to_thread(runner.invoke, cli, ["workers", "--store", url, "--json"])
    document = json.loads(result.output)
    away = {w["id"]: w["away_for"] for w in document["workers"]}
    assert 60 < away["a"] <= 120
    assert away["b"] is None
    # its time away over, it takes accounts again and the listing says nothing more
    target.raw("UPDATE workers SET away_until = now() - interval '1 second' WHERE id = 'a'")
    result = await asyncio.to_thread(runner.invoke, cli, ["workers", "--store", url])
    assert "takes no new account" not in result.output


def test_the_workers_command_needs_a_postgresql_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["workers", "--store", str(tmp_path / "x.sqlite3")])
    assert result.exit_code == 2
    assert "PostgreSQL" in result.output


async def test_a_writer_frozen_in_a_fenced_write_neither_blocks_nor_keeps_the_account(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """A worker paused between a fenced write's check and its commit holds the lease row's
    lock: another worker's acquire must not wait for it (its heartbeat would stall
    and it would lose its own leases), and, the lease expired, it ends the frozen session
    so that the account can be taken over (found by tests/e2e/test_failover.py)."""
    one, two, target = books
    lease = await one.acquire(ACCOUNT, "a", 0.2)
    assert lease is not None
    assert target.url is not None
    assert target.schema is not None
    program = fenced(ACCOUNT, lease.token, _write_nothing(), "postgres")
    url = named(target.url, application_name("a"))  # worker a's connection
    taken: list[Lease] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as frozen:
        await frozen.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema)))
        with pytest.raises(psycopg.OperationalError):  # the frozen session is ended
            await _frozen_while_taken(frozen, program, two, taken)
    assert taken[0].token == lease.token + 1


async def _frozen_while_taken(
    frozen: psycopg.AsyncConnection[tuple[object, ...]],
    program: Program[object],
    two: LeaseBook,
    taken: list[Lease],
) -> None:
    """Run ``program`` as the store does (pipelined: the server sees a busy session, not
    an idle one) up to its commit, and, frozen there, let ``two`` take the account."""
    async with frozen.transaction(), frozen.pipeline(), frozen.cursor() as unread:
        statement = next(program)
        with contextlib.suppress(StopIteration):
            while True:
                rows: list[tuple[object, ...]] = []
                if not statement.returns_rows:
                    await unread.execute(statement.text, statement.params)
                else:  # a cursor of its own, as in the store (see _postgres._steps)
                    async with frozen.cursor() as cursor:
                        await cursor.execute(statement.text, statement.params)
                        rows = await cursor.fetchall()
                statement = program.send(rows)
        assert await asyncio.wait_for(two.acquire(ACCOUNT, "b", 30), WAIT) is None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while (lease := await two.acquire(ACCOUNT, "b", 30)) is None:
            assert loop.time() < deadline, "the frozen transaction was never ended"
            await asyncio.sleep(0.2)
        taken.append(lease)


def _write_nothing() -> Program[None]:
    yield Sql("SELECT 1")


async def test_a_renewal_does_not_wait_for_its_own_workers_checked_write(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """A write checked and not yet committed (its worker's loop runs late in the middle of
    it: a loaded machine) must not hold the worker's own renewal back: with the check's
    ``FOR SHARE`` the renewal waited for the commit, and a worker busy committing lost its
    leases to its own writes (tests/e2e/test_failover.py at a load average of 10). A
    takeover still cannot happen meanwhile (the acquire skips the row)."""
    one, two, target = books
    lease = await one.acquire(ACCOUNT, "a", 30)
    assert lease is not None
    assert target.url is not None
    assert target.schema is not None
    program = fenced(ACCOUNT, lease.token, _write_nothing(), "postgres")
    async with await psycopg.AsyncConnection.connect(target.url, autocommit=True) as late:
        await late.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema)))
        async with late.transaction():
            check = next(program)
            await late.execute(check.text, check.params)  # checked: the row is locked
            # WAIT only bounds the old code's hang: the renewal waited for this commit
            renewed = await asyncio.wait_for(one.heartbeat(A, 30), WAIT)
            assert [(r.account, r.token) for r in renewed] == [(ACCOUNT, lease.token)]
            target.raw("UPDATE leases SET expires_at = now() WHERE account = %s", (ACCOUNT,))
            assert await asyncio.wait_for(two.acquire(ACCOUNT, "b", 30), WAIT) is None
        program.close()


async def test_a_worker_that_only_joined_is_not_live_yet(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """A worker counts as live once it renewed after joining: one refused at start (its
    deployment file disagrees) joins and leaves at once, and counted meanwhile it made the
    live workers hand accounts over to nobody (tests/service/test_workers.py, loaded)."""
    one, two, _target = books
    await one.join(A)
    await one.heartbeat(A, 30)
    await two.join(B)
    assert [w.id for w in await one.workers(live_within=30)] == ["a"]
    assert [w.id for w in await one.workers()] == ["a", "b"]  # listed all the same
    await two.heartbeat(B, 30)
    assert [w.id for w in await one.workers(live_within=30)] == ["a", "b"]


async def test_a_worker_that_joins_again_is_not_live_until_it_renews(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """``serve`` joins again with the same worker id when its first join was cut short (the
    store went away before the join finished: ``open_coordinator`` tries again). The second
    join set ``seen_at`` past ``started_at``: a worker that never renewed counted as live,
    and, killed there, stayed live to the others for a lease time, which they handed
    accounts over to (a ghost's fair share)."""
    one, two, _target = books
    await one.join(A)
    await one.heartbeat(A, 30)
    await two.join(B)  # cut short here: the store went away before the configs were claimed
    await asyncio.sleep(0.01)  # two statements' now() differ (a real retry waits seconds)
    await two.join(B)  # the retry, with the same id; then killed before its first renewal
    assert [w.id for w in await one.workers(live_within=30)] == ["a"]
    await two.heartbeat(B, 30)
    assert [w.id for w in await one.workers(live_within=30)] == ["a", "b"]


@pytest.mark.parametrize("freed", ["released", "expired", "never leased"])
async def test_a_worker_frozen_in_the_middle_of_an_acquire_does_not_keep_the_account(
    books: tuple[LeaseBook, LeaseBook, Target], freed: str
) -> None:
    """A worker paused in the middle of its own acquire of a free lease (between the row's
    lock and its commit) holds the row: once it has been in its transaction for STALLED,
    the next worker's acquire ends that session, whoever the lease's last owner was: the
    worker that handed the account over (the row has no owner), or one whose lease expired.
    Only the last owner's sessions were ended, and the account stayed nobody's for good
    (tests/e2e/test_failover.py: frozen in the middle of a reply while its coordinator was
    taking the account handed over to it). An account never leased has no row to skip:
    the frozen acquire's uncommitted INSERT made the next worker's INSERT wait, its
    heartbeat round with it, for as long as the first stayed frozen."""
    one, two, target = books
    token = 0
    if freed != "never leased":
        lease = await one.acquire(ACCOUNT, "a", 30)
        assert lease is not None
        token = lease.token
    if freed == "released":  # a hand-over
        assert await one.release(ACCOUNT, "a", token)
    elif freed == "expired":
        target.raw("UPDATE leases SET expires_at = now() WHERE account = %s", (ACCOUNT,))
    assert target.url is not None
    assert target.schema is not None
    url = named(target.url, application_name("c"))  # worker c's connection
    taken: list[Lease] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as frozen:
        await frozen.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema)))
        with pytest.raises(psycopg.OperationalError):  # the frozen session is ended
            await _frozen_while_taken(frozen, acquire_program(ACCOUNT, "c", 30), two, taken)
    assert taken[0].token == token + 1  # c's acquire was rolled back
    assert taken[0].worker == "b"


async def test_a_forgotten_worker_that_renews_is_recorded_again_and_live_from_its_next_renewal(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """A worker frozen for ten lease times is forgotten by the others' heartbeats; resumed,
    its renewals updated a row that was gone, and it stayed unlisted and not live for good
    (tests/service/test_coordinator_forgotten.py: its share stayed the others')."""
    one, two, target = books
    await one.join(A)
    await one.heartbeat(A, 30)
    await two.join(B)
    await two.heartbeat(B, 30)
    target.raw("UPDATE workers SET seen_at = now() - interval '1 hour' WHERE id = 'a'")
    await two.heartbeat(B, 30)  # a is forgotten
    assert [w.id for w in await two.workers()] == ["b"]
    await one.heartbeat(A, 30)  # resumed: recorded again, as a worker that joins again
    assert [(w.id, w.host, w.pid) for w in await two.workers()] == [
        ("b", "host-b", 2),
        ("a", "host-a", 1),
    ]
    assert [w.id for w in await two.workers(live_within=30)] == ["b"]
    await one.heartbeat(A, 30)
    assert [w.id for w in await two.workers(live_within=30)] == ["b", "a"]


def _pid() -> Program[int]:
    rows = yield Sql("SELECT pg_backend_pid()")
    return int(str(rows[0][0]))


async def _waiting(watch: psycopg.AsyncConnection[tuple[object, ...]], pid: int, what: str) -> None:
    """Until the server session ``pid`` waits for a lock (``WAIT`` at most)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        cursor = await watch.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        )
        if await cursor.fetchone() == ("Lock",):
            return
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_a_heartbeat_that_reaches_the_server_after_the_leave_does_not_bring_it_back(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """A worker's heartbeat still on its way when the worker leaves (it hung, the stop
    went on without it; or a connection given up whose statement arrives later) ran after
    the leave's DELETE and inserted the row again: the worker that left was listed, a ghost
    (ucwa-flow workers, the shares) for up to a minute. The order is made here by the
    server's locks: the leave is held in its transaction (after its statement on the
    worker's row) by a lease row locked from a third connection, the heartbeat is sent and
    waits for the leave; the leave then commits, and the heartbeat runs after it."""
    renewer, other, target = books  # worker a's renewer connection; worker b's
    await renewer.join(A)
    await renewer.heartbeat(A, 30)
    await other.join(B)
    await other.heartbeat(B, 30)
    assert await renewer.acquire(ACCOUNT, "a", 30) is not None
    coordinator = LeaseBook(await target.open())  # worker a's own connection, which leaves
    assert target.url is not None
    assert target.schema is not None
    path = sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema))
    try:
        async with (
            await psycopg.AsyncConnection.connect(target.url) as hold,
            await psycopg.AsyncConnection.connect(target.url, autocommit=True) as watch,
        ):
            await hold.execute(path)
            await hold.execute("SELECT 1 FROM leases WHERE account = %s FOR UPDATE", (ACCOUNT,))
            leaving = asyncio.create_task(coordinator.leave("a"))
            await _waiting(watch, await coordinator.store._run(_pid(), write=False), "the leave")
            beat = asyncio.create_task(renewer.heartbeat(A, 30))
            await _waiting(watch, await renewer.store._run(_pid(), write=False), "the heartbeat")
            await hold.rollback()  # the leave commits, then the heartbeat runs
            assert await asyncio.wait_for(leaving, WAIT) == 1
            assert await asyncio.wait_for(beat, WAIT) == []  # nothing renewed
        assert [w.id for w in await other.workers()] == ["b"]
        await renewer.heartbeat(A, 30)  # a later one, and a join, do not bring it back either
        await renewer.join(A)
        await other.heartbeat(B, 30)
        assert [w.id for w in await other.workers()] == ["b"]
        assert [w.id for w in await other.workers(live_within=30)] == ["b"]
        lease = await other.acquire(ACCOUNT, "b", 30)  # released by the leave
        assert lease is not None
        assert lease.token == 2
    finally:
        await coordinator.store.aclose()


async def test_a_worker_that_left_acquires_nothing(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """An acquire whose answer came after the process exited (sent before the leave, run
    after it) took the lease for a worker that had left: nobody served the account until
    the lease expired."""
    late, _, _ = books
    await late.join(A)
    await late.heartbeat(A, 30)
    await late.leave("a")
    assert await late.acquire(ACCOUNT, "a", 30) is None
    assert await late.owners() == []


async def test_an_acquire_sent_while_the_leave_is_under_way_waits_for_it_and_takes_nothing(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """The leave is held in its transaction (after its statements on the worker's row) by
    a lease row locked from a third connection; the worker's acquire of another account,
    sent meanwhile, waits for the worker row the leave holds, then reads the mark. Before,
    it read the row as it was before the leave (not left) and took the lease, after the
    leave's release had run: held by a worker that left until it expired."""
    renewer, _, target = books
    await renewer.join(A)
    await renewer.heartbeat(A, 30)
    assert await renewer.acquire(ACCOUNT, "a", 30) is not None
    leaving_book = LeaseBook(await target.open())
    other_account = "sip:other@contoso.com"
    assert target.url is not None
    assert target.schema is not None
    path = sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema))
    try:
        async with (
            await psycopg.AsyncConnection.connect(target.url) as hold,
            await psycopg.AsyncConnection.connect(target.url, autocommit=True) as watch,
        ):
            await hold.execute(path)
            await hold.execute("SELECT 1 FROM leases WHERE account = %s FOR UPDATE", (ACCOUNT,))
            leaving = asyncio.create_task(leaving_book.leave("a"))
            await _waiting(watch, await leaving_book.store._run(_pid(), write=False), "the leave")
            taking = asyncio.create_task(renewer.acquire(other_account, "a", 30))
            await _waiting(watch, await renewer.store._run(_pid(), write=False), "the acquire")
            await hold.rollback()
            assert await asyncio.wait_for(leaving, WAIT) == 1
            assert await asyncio.wait_for(taking, WAIT) is None
        assert [lease.worker for lease in await renewer.owners()] == [None]
    finally:
        await leaving_book.store.aclose()


async def test_a_renewal_does_not_wait_for_its_own_workers_acquire(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """The acquire's lock on the worker row (FOR KEY SHARE, until its commit) lets the
    renewer's update of the row through: a round late in the middle of an acquire does not
    make the renewals late."""
    renewer, _, target = books
    await renewer.join(A)
    await renewer.heartbeat(A, 30)
    assert target.url is not None
    assert target.schema is not None
    async with await psycopg.AsyncConnection.connect(target.url) as acquiring:
        await acquiring.execute(
            sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema))
        )
        await acquiring.execute(f"SELECT {_NOT_LEFT}", ("a",))  # the lock, until the commit
        assert await asyncio.wait_for(renewer.heartbeat(A, 30), WAIT) == []
        await acquiring.rollback()


async def test_a_workers_acquire_of_its_own_expired_lease_and_its_leave_do_not_deadlock(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """A worker taking back a lease of its own that expired (its store hung) while it
    leaves: the acquire locked the lease's row, then the worker's; the leave the worker's,
    then its leases'. The server ended one of them as a deadlock; when it was the leave, no
    lease was released and the worker was not marked left. The acquire is stepped here on a
    connection of its own, the leave sent once the lease's row is the acquire's."""
    book, _, target = books
    await book.join(A)
    await book.heartbeat(A, 30)
    assert await book.acquire(ACCOUNT, "a", 30) is not None
    leaving_book = LeaseBook(await target.open())
    assert target.url is not None
    assert target.schema is not None
    path = sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema))
    try:
        async with (
            await psycopg.AsyncConnection.connect(target.url) as acquiring,
            await psycopg.AsyncConnection.connect(target.url, autocommit=True) as watch,
        ):
            await acquiring.execute(path)
            await watch.execute(path)
            await watch.execute("UPDATE leases SET expires_at = now() - interval '1 second'")
            program = acquire_program(ACCOUNT, "a", 30)
            statement = next(program)
            leaving: asyncio.Task[int] | None = None
            with contextlib.suppress(StopIteration):
                while True:
                    rows = await (
                        await acquiring.execute(statement.text, statement.params)
                    ).fetchall()
                    if "FOR UPDATE SKIP LOCKED" in statement.text:  # the lease's row is ours
                        leaving = asyncio.create_task(leaving_book.leave("a"))
                        pid = await leaving_book.store._run(_pid(), write=False)
                        await _waiting(watch, pid, "the leave")
                    statement = program.send(rows)
            await acquiring.commit()
            assert leaving is not None
            assert await asyncio.wait_for(leaving, WAIT) == 1  # the lease taken back, released
        assert [lease.worker for lease in await book.owners()] == [None]
        assert await book.acquire(ACCOUNT, "a", 30) is None  # marked left
    finally:
        await leaving_book.store.aclose()


async def test_the_heartbeats_clean_up_does_not_wait_for_a_frozen_acquire(
    books: tuple[LeaseBook, LeaseBook, Target],
) -> None:
    """A worker frozen in the middle of an acquire holds its row's lock (``_NOT_LEFT``);
    once it counts as forgotten, every other worker's heartbeat deleted its row and waited
    for that lock, for as long as the freeze lasted. The row is skipped now, and deleted by
    a later heartbeat."""
    frozen, other, target = books
    await frozen.join(A)
    await frozen.heartbeat(A, 30)
    await other.join(B)
    assert target.url is not None
    assert target.schema is not None
    path = sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema))
    async with await psycopg.AsyncConnection.connect(target.url) as acquiring:
        await acquiring.execute(path)
        await acquiring.execute(
            "UPDATE workers SET seen_at = now() - interval '1 hour' WHERE id = 'a'"
        )
        await acquiring.commit()
        await acquiring.execute(f"SELECT {_NOT_LEFT}", ("a",))  # the acquire, frozen here
        assert await asyncio.wait_for(other.heartbeat(B, 30), WAIT) == []
        assert [w.id for w in await other.workers()] == ["a", "b"]  # not deleted: skipped
    await other.heartbeat(B, 30)
    assert [w.id for w in await other.workers()] == ["b"]

"""Several workers (Service instances) sharing four accounts through leases on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import Person
from tests.guards import WAIT
from tests.service.world import HELPDESK, HR, World, advance_until, until, world
from ucwa_flow.deploy import Deployment, WorkersSpec
from ucwa_flow.errors import OperationalError
from ucwa_flow.service import Service
from ucwa_flow.store import Changes, FencedStore, StoreFenced
from ucwa_flow.store._postgres import PostgresStore
from ucwa_flow.store.leases import LeaseBook

pytestmark = pytest.mark.asyncio

IT, PAY = "sip:it@contoso.com", "sip:pay@contoso.com"
BOTS = {"helpdesk": HELPDESK, "hr": HR, "it": IT, "pay": PAY}
CALLERS = {name: f"sip:caller-{name}@contoso.com" for name in BOTS}
#: short leases: a takeover waits for an expiry (real time, the database's clock)
FAST = WorkersSpec(lease=3.0, heartbeat=0.5)


def _deployment(w: World, store: str) -> Deployment:
    accounts = [w.account(name, user) for name, user in BOTS.items()]
    return replace(w.deployment(*accounts, store=store), workers=FAST)


def _held(service: Service) -> set[str]:
    assert service.coordinator is not None
    return set(service.coordinator.held)


def _ready(service: Service, count: int) -> bool:
    return len(_held(service)) == count and service.readiness().ready


def _leases(service: Service) -> dict[str, float]:
    body, _ = service.metrics.exposition()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "ucwa_flow_leases_total":
                found[sample.labels["event"]] = sample.value
            if sample.name == "ucwa_flow_accounts_owned":
                found["owned"] = sample.value
            if sample.name == "ucwa_flow_store_errors_total":
                found[f"{sample.labels['operation']} {sample.labels['error']}"] = sample.value
    return found


async def _start_conversations(w: World) -> dict[str, Person]:
    people = {}
    for name, bot in BOTS.items():
        person = people[name] = await w.person(CALLERS[name], bot)
        await person.say("hello")
        assert await person.hear() == [f"{name} v1: your name?"]
    return people


@contextlib.asynccontextmanager
async def _chatting(
    folder: Path, store: str, *more: str
) -> AsyncIterator[tuple[World, Service, Person]]:
    """A worker serving the helpdesk account (and the accounts of ``more``, names of
    :data:`BOTS`) on ``store``, and Lene in a chat with it, its first question heard."""
    async with world(folder, (CALLERS["helpdesk"],)) as w:
        accounts = [w.account(name, BOTS[name]) for name in ("helpdesk", *more)]
        service = await w.service(replace(w.deployment(*accounts, store=store), workers=FAST))
        await until(lambda: _ready(service, len(accounts)), "the accounts")
        lene = await w.person(CALLERS["helpdesk"], HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]
        yield w, service, lene


async def test_two_workers_balance_and_a_graceful_stop_hands_everything_over(
    tmp_path: Path, pg_store: str
) -> None:
    async with world(tmp_path, (IT, PAY, *CALLERS.values())) as w:
        deployment = _deployment(w, pg_store)
        first = await w.service(deployment)
        await until(lambda: _ready(first, 4), "the only worker to take all four accounts")
        people = await _start_conversations(w)

        second = await w.service(deployment)
        await until(lambda: _ready(first, 2) and _ready(second, 2), "the accounts to be shared 2/2")
        assert _held(first).isdisjoint(_held(second))
        assert _leases(first)["handover"] == 2
        for name, person in people.items():  # the moved conversations carried on
            await person.say(name.upper())
            assert await person.hear() == [f"v1 thanks {name.upper()}"]

        assert await first.stop() is True
        await until(lambda: _ready(second, 4), "the other worker to take all four")
        counts = _leases(second)
        # released at the stop, not left to expire: no takeover
        assert counts.get("takeover", 0) == 0
        assert counts["acquired"] == 4
        assert counts["owned"] == 4
        for person in people.values():
            await person.say("again")
            assert await person.hear() == ["v1 done: again"]
            await person.silence()


async def test_a_paused_worker_is_taken_over_and_its_stale_writes_are_fenced(
    tmp_path: Path, pg_store: str
) -> None:
    async with world(tmp_path, (IT, PAY, *CALLERS.values())) as w:
        deployment = _deployment(w, pg_store)
        first = await w.service(deployment)
        await until(lambda: _ready(first, 4), "the first worker to take all four accounts")
        second = await w.service(deployment)
        await until(lambda: _ready(first, 2) and _ready(second, 2), "a 2/2 share")
        people = await _start_conversations(w)

        moved = sorted(_held(first))
        stale = {}
        for name in moved:
            fenced = first.runners[name]._fenced
            assert fenced is not None
            stale[name] = FencedStore(fenced.inner, fenced.fence)
        assert first.coordinator is not None
        # a loop stalled past the margin before (a loaded machine) loses a lease: not counted
        lost = _leases(first).get("lost", 0)
        await first.coordinator.pause()  # frozen: no heartbeat, no guard (a GC pause, SIGSTOP)

        await until(lambda: len(_held(second)) == 4, "the expired leases to be taken over")
        assert _leases(second)["takeover"] == 2
        for name in moved:  # no request of the paused worker's bots goes out any more
            valid = first.runners[name].lease_valid
            assert valid is not None
            assert not valid()
        for name, store in stale.items():  # what the paused worker would still write
            with pytest.raises(StoreFenced, match="another worker"):
                await store.commit(BOTS[name], Changes())
        # while the other is paused: once it is live again, this one hands two accounts back
        # at its next round, and serves all four no more
        await advance_until(w.clock, lambda: _ready(second, 4), "the new owner to serve all four")

        first.coordinator.resume()  # SIGCONT: it finds its leases gone and stops serving
        await until(lambda: not _held(first), "the paused worker to drop its accounts")
        await until(
            lambda: not any(first.runners[name].busy for name in moved),
            "its bots to stop",
        )
        assert _leases(first)["lost"] == lost + 2
        for name, person in people.items():  # every conversation carries on, answered once
            await person.say(name)
            assert await person.hear() == [f"v1 thanks {name}"]
        for person in people.values():
            await person.silence()


async def test_a_deployment_that_disagrees_about_an_account_is_refused(
    tmp_path: Path, pg_store: str
) -> None:
    async with world(tmp_path, (IT, PAY)) as w:
        deployment = _deployment(w, pg_store)
        first = await w.service(deployment)
        await until(lambda: _ready(first, 4), "the first worker")
        other = w.flow("other")
        spec = replace(
            deployment.accounts[0], flows=(replace(deployment.accounts[0].flows[0], path=other),)
        )
        changed = replace(deployment, accounts=(spec, *deployment.accounts[1:]))
        service = Service(changed, clock=w.clock)
        with pytest.raises(OperationalError, match="configured differently by worker"):
            await service.start()
        assert _held(first) == set(BOTS)


async def test_a_fenced_commit_stops_the_bot_once_and_the_account_comes_back(
    tmp_path: Path, pg_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with _chatting(tmp_path, pg_store, "hr") as (_w, service, lene):
        coordinator = service.coordinator
        assert coordinator is not None
        await coordinator.pause()  # so that the database, not the heartbeat, notices first
        async with await psycopg.AsyncConnection.connect(pg_store, autocommit=True) as conn:
            await conn.execute(  # another worker took the account meanwhile
                "UPDATE leases SET worker = 'ghost', token = token + 1, "
                "expires_at = now() + interval '1 second' WHERE account = %s",
                (HELPDESK,),
            )
        runner = service.runners["helpdesk"]
        await lene.say("Lene")
        await until(lambda: "helpdesk" not in coordinator.held, "the fenced bot to give up")
        await until(lambda: not runner.busy, "the fenced bot to stop")
        assert runner.error is not None
        assert "fencing token" in runner.error
        counts = _leases(service)
        assert counts["lost"] == 1
        assert counts["commit StoreFenced"] == 1  # refused by the database, counted once
        fenced = [r for r in caplog.records if "stops serving" in r.getMessage()]
        assert len(fenced) == 2  # the runner's line and the coordinator's: no retry loop

        coordinator.resume()  # the ghost's lease expires: the worker takes the account back
        await until(lambda: _ready(service, 2), "the account to come back")
        assert _leases(service)["takeover"] == 1
        assert await lene.hear() == ["v1 thanks Lene"]  # the fenced batch, delivered again
        await lene.silence()


async def test_an_unreachable_store_stops_the_bots_once_the_leases_are_not_provably_valid(
    tmp_path: Path, pg_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with _chatting(tmp_path, pg_store, "hr") as (_w, service, lene):
        coordinator = service.coordinator
        assert coordinator is not None
        book = coordinator.book
        # the coordinator's connection goes to a port where nothing listens
        nowhere = PostgresStore(
            "postgresql://postgres@127.0.0.1:9/test", schema=None, connect_timeout=1
        )
        coordinator.book = LeaseBook(nowhere)
        renewer = coordinator.renewer  # its own connection: cut too
        assert renewer is not None
        await renewer.stop()
        await until(lambda: not coordinator.held, "the bots to stop serving")
        await until(lambda: not any(r.busy for r in service.runners.values()), "the bots to stop")
        # the guard drops the leases on its own schedule, the failed heartbeat that makes the
        # worker unreachable (and not ready) is logged on the round's: after a stalled loop,
        # the guard may have run first
        await until(lambda: "cannot renew its leases" in caplog.text, "the failed heartbeat")
        assert _leases(service)["lost"] == 2
        assert not service.readiness().ready
        said = [r.getMessage() for r in caplog.records]
        assert sum("could not be renewed in time" in line for line in said) == 2

        coordinator.book = book  # the store is back: the worker takes its accounts again
        renewer.start()
        await until(lambda: _ready(service, 2), "the accounts to come back")
        await lene.say("Lene")
        assert await lene.hear() == ["v1 thanks Lene"]
        await lene.silence()
        await nowhere.aclose()


async def test_a_send_refused_for_a_lease_not_provably_valid_is_sent_later_not_lost(
    tmp_path: Path, pg_store: str
) -> None:
    """A worker whose event loop stalls past its lease's safe time right after committing a
    reply (the database still has it as the owner) refuses to send it; the runtime must not
    record the reply as failed: the bot stops, the worker takes the account again and the
    reply goes out, once (found in a run of tests/e2e/test_failover.py)."""
    async with _chatting(tmp_path, pg_store) as (w, service, lene):
        coordinator = service.coordinator
        assert coordinator is not None
        await coordinator.pause()  # a stalled loop: no heartbeat, no guard
        fenced = service.runners["helpdesk"]._fenced
        assert fenced is not None
        commit = fenced.commit

        async def stall_after(account: str, changes: Changes, *, fence: int | None = None) -> Any:
            result = await commit(account, changes, fence=fence)
            if changes.outbox:  # the reply is committed: the lease stops being provable
                coordinator.held["helpdesk"].valid_until = 0.0
            return result

        fenced.commit = stall_after  # type: ignore[method-assign]
        await lene.say("Lene")
        await until(lambda: "helpdesk" not in coordinator.held, "the bot to give the account up")
        coordinator.resume()
        await advance_until(w.clock, lambda: _ready(service, 1), "the account back")
        # in doubt after the restart (sent or not?): sent once the event channel says not
        await advance_until(w.clock, lambda: lene.caller.heard[len(lene.seen) :], "the reply")
        assert await lene.hear() == ["v1 thanks Lene"]
        await lene.silence()


async def test_a_worker_whose_loop_stalls_past_the_safe_part_of_its_lease_keeps_it(
    tmp_path: Path, pg_store: str
) -> None:
    """A starved worker runs its event loop seconds late; its leases are renewed from a
    thread of their own meanwhile, so it keeps them, and its bot, once the loop runs again.
    Before, the guard found the lease past its safe time and dropped the account (then took
    it again, restarting its bot): on a loaded machine a busy worker went round in circles
    (tests/e2e/test_failover.py, load average 10 on two cores)."""
    async with world(tmp_path, (CALLERS["helpdesk"],)) as w:
        accounts = (w.account("helpdesk", HELPDESK),)
        service = await w.service(replace(w.deployment(*accounts, store=pg_store), workers=FAST))
        await until(lambda: _ready(service, 1), "the account")
        lene = await w.person(CALLERS["helpdesk"], HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]
        coordinator = service.coordinator
        assert coordinator is not None
        lost, held = _leases(service).get("lost", 0), coordinator.held["helpdesk"]
        safe_until, clock = held.valid_until, coordinator._monotonic
        # the loop stalls (nothing on it runs) until past the lease's safe time, and until a
        # renewal sent after that time has come back (WAIT at most: the old code never)
        give_up = time.monotonic() + WAIT
        while (clock() <= safe_until or held.valid_until <= clock()) and time.monotonic() < give_up:
            time.sleep(0.05)  # noqa: ASYNC251 (a stalled loop is the point)
        assert held.valid_until > safe_until, "no renewal while the loop stalled"
        await lene.say("Lene")
        assert await lene.hear() == ["v1 thanks Lene"]
        assert coordinator.held["helpdesk"] is held
        assert _leases(service).get("lost", 0) == lost
        await lene.silence()


@pytest.mark.parametrize("cut", ["mid-commit", "before the commit"])
async def test_a_reply_decided_as_the_account_is_handed_over_is_sent_before_the_hand_over(
    tmp_path: Path, pg_store: str, cut: str
) -> None:
    """The hand-over's graceful stop cancels the bot while it commits a batch with a reply,
    or once the reply is decided and before it is committed (found in a run of the
    paused-worker test: the account went back to the resumed worker just as the caller
    spoke). The stop must send that reply: left in the outbox, it is in doubt for the next
    owner, which waits for its event channel to settle it before it answers."""
    async with _chatting(tmp_path, pg_store) as (_w, service, lene):
        runner = service.runners["helpdesk"]
        fenced, bot = runner._fenced, runner.bot
        assert fenced is not None
        assert bot is not None
        assert bot.durable is not None
        journal, engine = bot.durable.journal, bot.engine
        commit, drained = fenced.commit, engine.drained
        holding, go = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            holding.set()
            await go.wait()

        async def held_commit(account: str, changes: Changes, *, fence: int | None = None) -> Any:
            if cut == "mid-commit" and changes.outbox and not go.is_set():
                await hold()
            return await commit(account, changes, fence=fence)

        async def held_drained() -> None:
            await drained()
            if cut == "before the commit" and journal.page.outgoing and not go.is_set():
                await hold()

        fenced.commit = held_commit  # type: ignore[method-assign]
        engine.drained = held_drained  # type: ignore[method-assign]
        await lene.say("Lene")
        await asyncio.wait_for(holding.wait(), WAIT)
        stopping = asyncio.create_task(runner.stop())  # what a hand-over does first
        # the bot is cancelled where it is held; the stop goes on once it closes the bot
        await until(lambda: runner._retiring is not None, "the stop to close the bot")
        go.set()
        await asyncio.wait_for(stopping, WAIT)
        snapshot = await fenced.inner.load(HELPDESK)
        assert snapshot.outbox == ()  # sent, and its answer committed: nothing in doubt
        assert await lene.hear() == ["v1 thanks Lene"]
        await lene.silence()

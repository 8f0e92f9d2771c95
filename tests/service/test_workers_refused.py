"""A worker whose account store cannot be opened for good gives the account up
(``service/_coordinator.py``, ``store/leases.py``), on a real PostgreSQL server.

Its bot stopped with one error line, but the worker kept the lease, its runner trying the
store again for ever: no other worker, however sound its store, ever served the account.
Now the worker releases the lease at once and keeps away from the accounts for a while
(marked in the store: the others leave it out of their fair shares), and the account
shows as not ready on it, with the error.

A worker's store is broken here by pointing its accounts' stores (not its leases') at a
database that does not exist: a refusal for good, as a wrong password or a store of a
newer ucwa-flow would be. The time away is made long (``AWAY_FIRST``), so that what the
test sees does not depend on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.guards import WAIT
from tests.service.test_workers import CALLERS, FAST, _held, _leases, _ready
from tests.service.world import HELPDESK, HR, World, until, world
from tests.store.conftest import postgres_url
from ucwa_flow.deploy import Deployment
from ucwa_flow.service import Backoff, Service, _away
from ucwa_flow.store import open_store
from ucwa_flow.store.leases import Lease, LeaseBook

pytestmark = pytest.mark.asyncio

NAMES = {"helpdesk": HELPDESK, "hr": HR}


@pytest.fixture(autouse=True)
def _long_away(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep away for five minutes from the first refusal: longer than any test."""
    monkeypatch.setattr(_away, "AWAY_FIRST", 1000.0)


def _nowhere() -> str:
    """The test server's URL with a database that does not exist (refused for good)."""
    parts = urlsplit(postgres_url())
    return urlunsplit(parts._replace(path="/ucwa_flow_no_such_database"))


async def _worker(w: World, deployment: Deployment, *, broken: bool = False) -> Service:
    service = Service(
        deployment, clock=w.clock, backoff=Backoff(first=1.0, cap=8.0, jitter=0.0), sinks=w.sink
    )
    if broken:  # its accounts' stores only: it joins the others on the right one
        service.stores._store = _nowhere()
    w.services.append(service)
    await service.start()
    return service


def _deployment(w: World, store: str) -> Deployment:
    accounts = [w.account(name, user) for name, user in NAMES.items()]
    return replace(w.deployment(*accounts, store=store), workers=FAST)


def _readiness(service: Service) -> dict[str, str | None]:
    return {a.id: a.error for a in service.readiness().accounts if not a.ready}


def _account_ready(service: Service) -> dict[str, float]:
    body, _ = service.metrics.exposition()
    return {
        sample.labels["account"]: sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "ucwa_flow_account_ready"
    }


async def _owners(store: str) -> dict[str, Lease]:
    book = LeaseBook(await open_store(store))
    try:
        return {lease.account: lease for lease in await book.owners()}
    finally:
        await book.store.aclose()


async def _until_owners(store: str, token: int, what: str) -> None:
    """Until both accounts' leases are free, each last taken with ``token``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    wanted = {HELPDESK: (None, token), HR: (None, token)}
    while {u: (lease.worker, lease.token) for u, lease in (await _owners(store)).items()} != wanted:
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_worker_whose_store_cannot_open_gives_the_account_back_to_one_whose_can(
    tmp_path: Path, pg_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ucwa_flow.service")
    async with world(tmp_path, (CALLERS["helpdesk"], CALLERS["hr"])) as w:
        deployment = _deployment(w, pg_store)
        sound = await _worker(w, deployment)
        await until(lambda: _ready(sound, 2), "the sound worker to serve both accounts")
        adriana = await w.person(CALLERS["hr"], HR)
        await adriana.say("hello")
        assert await adriana.hear() == ["hr v1: your name?"]

        # joins: the sound worker hands hr over to it (its share), it cannot open hr's
        # store, gives the account up and keeps away; the sound worker takes hr back,
        # though it has its share already (the other is left out of the shares)
        broken = await _worker(w, deployment, broken=True)
        coordinator = broken.coordinator
        assert coordinator is not None
        await until(lambda: _leases(sound).get("handover") == 1, "hr handed over")
        await until(lambda: _ready(sound, 2), "the sound worker to serve both again")
        assert not _held(broken)
        assert _leases(sound)["handover"] == 1
        assert _leases(broken)["handover"] == 1
        await adriana.say("Adriana")  # the conversation carried on
        assert await adriana.hear() == ["v1 thanks Adriana"]

        error = coordinator.kept_away()["hr"]
        assert error.startswith("cannot open the conversation store: ")
        assert "ucwa_flow_no_such_database" in error
        said = [(r.levelname, r.getMessage()) for r in caplog.records]
        assert ("ERROR", f"hr: stops serving: {error}") in said
        gave_up = [m for level, m in said if "gives it up" in m]
        assert len(gave_up) == 1
        assert gave_up[0].startswith(f"hr: worker {coordinator.worker.id} gives it up")
        assert not broken.readiness().ready  # on the broken worker: hr, with its error
        assert _readiness(broken) == {"hr": error}
        assert _account_ready(broken) == {"hr": 0.0}
        assert _account_ready(sound) == {"helpdesk": 1.0, "hr": 1.0}
        await adriana.silence()


async def test_when_every_worker_fails_on_an_account_nobody_holds_it_and_none_retries_at_once(
    tmp_path: Path, pg_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ucwa_flow.service")
    async with world(tmp_path) as w:
        deployment = _deployment(w, pg_store)
        first = await _worker(w, deployment, broken=True)
        one = first.coordinator
        assert one is not None
        await _until_owners(pg_store, 1, "the first to take both and give them up")
        second = await _worker(w, deployment, broken=True)
        two = second.coordinator
        assert two is not None
        # the first keeps away: the second takes both (its share alone), and fails too
        await _until_owners(pg_store, 2, "the second to take both and give them up")
        assert set(one.kept_away()) == set(two.kept_away()) == set(NAMES)
        rounds = one.rounds, two.rounds
        await until(lambda: one.rounds >= rounds[0] + 3, "three more rounds of the first")
        await until(lambda: two.rounds >= rounds[1] + 3, "three more rounds of the second")
        owners = await _owners(pg_store)
        # each took each account once: nobody holds them, nobody took them again
        assert {user: (lease.worker, lease.token) for user, lease in owners.items()} == {
            HELPDESK: (None, 2),
            HR: (None, 2),
        }
        for service in (first, second):
            assert not _held(service)
            assert not service.readiness().ready
            errors = _readiness(service)
            assert set(errors) == set(NAMES)
            assert all(
                e is not None and e.startswith("cannot open the conversation store: ")
                for e in errors.values()
            )
            assert _account_ready(service) == {"helpdesk": 0.0, "hr": 0.0}
        refusals = [m for r in caplog.records if ": stops serving: " in (m := r.getMessage())]
        assert sorted(line.split(":")[0] for line in refusals) == [
            "helpdesk",
            "helpdesk",
            "hr",
            "hr",
        ]

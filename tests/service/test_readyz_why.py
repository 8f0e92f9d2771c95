"""``/readyz`` says why it is not ready, as data, through a real admin endpoint on loopback.

During a store outage a worker answered ``{"ready": false, "store": false, "accounts": []}``
and nothing else: the operator could not tell why. Now every reason is a short code and a
sentence: the process's own (``store_unreachable`` since when, ``away`` until when), each
account's (``retrying``, ``store_refused`` ...) and, for a worker, the accounts it does
not answer for (``lease_lost``, ``held_elsewhere`` with the worker that holds it). The
old fields are as they were.

The store outage is the one ``test_workers`` makes: the coordinator's connections (its
lease book and its renewer's) go to a port where nothing listens.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service import test_workers_refused as refused
from tests.service.test_workers import CALLERS, FAST, _held, _ready
from tests.service.world import HELPDESK, HR, until, world
from ucwa_flow.deploy import AdminSpec, Deployment
from ucwa_flow.service import Service, _away
from ucwa_flow.store._postgres import PostgresStore
from ucwa_flow.store.leases import LeaseBook

pytestmark = pytest.mark.asyncio

#: ISO 8601, UTC, to the second
_ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


def _with_admin(deployment: Deployment) -> Deployment:
    return replace(deployment, admin=AdminSpec(port=0))


async def _readyz(service: Service) -> tuple[int, dict[str, Any]]:
    assert service.admin_address is not None
    host, port = service.admin_address
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
        answer = await http.get("/readyz")
    return answer.status_code, answer.json()


async def test_a_store_outage_says_since_when_and_what_became_of_each_account(
    tmp_path: Path, pg_store: str
) -> None:
    async with world(tmp_path) as w:
        accounts = [w.account("helpdesk", HELPDESK), w.account("hr", HR)]
        deployment = replace(w.deployment(*accounts, store=pg_store), workers=FAST)
        service = await w.service(_with_admin(deployment))
        await until(lambda: _ready(service, 2), "the worker to serve both accounts")
        status, body = await _readyz(service)
        assert status == 200
        assert (body["ready"], body["store"], body["reasons"], body["elsewhere"]) == (
            True,
            True,
            [],
            [],
        )
        assert sorted((a["id"], a["code"], a["error"]) for a in body["accounts"]) == [
            ("helpdesk", "ready", None),
            ("hr", "ready", None),
        ]
        [helpdesk] = [a for a in body["accounts"] if a["id"] == "helpdesk"]
        assert helpdesk["reason"] == f"signed in as {HELPDESK}, its event channel live"

        coordinator = service.coordinator
        assert coordinator is not None
        book = coordinator.book
        nowhere = PostgresStore(
            "postgresql://postgres@127.0.0.1:9/test", schema=None, connect_timeout=1
        )
        coordinator.book = LeaseBook(nowhere)
        renewer = coordinator.renewer
        assert renewer is not None
        await renewer.stop()
        await until(lambda: not coordinator.held, "the bots to stop serving")
        await until(lambda: coordinator.unreachable, "the failed heartbeat")

        status, body = await _readyz(service)
        assert status == 503, body
        assert (body["ready"], body["accounts"]) == (False, [])  # as before
        worker = coordinator.worker.id
        [why] = [r for r in body["reasons"] if r["code"] == "store_unreachable"]
        assert re.match(_ISO, why["since"])
        assert why["reason"].startswith(
            f"worker {worker} cannot reach the store since {why['since']} ("
        )
        assert "and takes accounts again once the store answers" in why["reason"]
        lost = {a["id"]: a for a in body["elsewhere"]}
        assert set(lost) == {"helpdesk", "hr"}
        for account in lost.values():
            assert account["code"] == "lease_lost"
            assert re.match(_ISO, account["since"])
            assert account["reason"] == (
                f"worker {worker} lost its lease at {account['since']}: "
                "its lease could not be renewed in time"
            )

        coordinator.book = book  # the store is back
        renewer.start()
        await until(lambda: _ready(service, 2), "the accounts to come back")
        status, body = await _readyz(service)
        assert (status, body["reasons"], body["elsewhere"]) == (200, [], [])
        await nowhere.aclose()


async def test_a_worker_kept_away_says_until_when_and_who_serves_the_rest(
    tmp_path: Path, pg_store: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ucwa_flow.service")
    monkeypatch.setattr(_away, "AWAY_FIRST", 1000.0)  # longer than the test
    async with world(tmp_path, (CALLERS["helpdesk"], CALLERS["hr"])) as w:
        deployment = _with_admin(refused._deployment(w, pg_store))
        sound = await refused._worker(w, deployment)
        await until(lambda: _ready(sound, 2), "the sound worker to serve both accounts")
        broken = await refused._worker(w, deployment, broken=True)
        coordinator = broken.coordinator
        assert coordinator is not None
        await until(lambda: "hr" in coordinator.kept_away(), "hr given up")
        await until(lambda: _ready(sound, 2), "the sound worker to serve both again")
        assert not _held(broken)
        await until(
            lambda: coordinator.sight.leases is not None, "the broken worker to read the leases"
        )

        status, body = await _readyz(broken)
        assert status == 503
        error = coordinator.kept_away()["hr"]
        [hr] = body["accounts"]
        assert (hr["id"], hr["signed_in"], hr["error"], hr["code"]) == (
            "hr",
            False,
            error,
            "store_refused",
        )
        assert re.match(_ISO, hr["until"])
        assert hr["reason"] == (
            f"its store cannot be opened here ({error}); this worker takes no account until "
            f"{hr['until']}, another whose store opens may take it"
        )
        store, away, account = body["reasons"]
        assert store == {  # its accounts' store: hr's could not be opened
            "code": "store_unhealthy",
            "reason": f"the conversation store of {HR} could not be opened or did not answer "
            "its last probe",
        }
        assert body["store"] is False
        assert (away["code"], away["until"]) == ("away", hr["until"])
        assert away["reason"].startswith(
            f"worker {coordinator.worker.id} takes no new account until {hr['until']} ("
        )
        assert away["reason"].endswith("s): the store of hr cannot be opened here")
        assert account == {"code": "store_refused", "account": "hr", "reason": hr["reason"]}
        assert sound.coordinator is not None
        theirs = sound.coordinator.worker.id
        [helpdesk] = body["elsewhere"]
        assert (helpdesk["id"], helpdesk["code"], helpdesk["worker"]) == (
            "helpdesk",
            "held_elsewhere",
            theirs,
        )
        assert helpdesk["reason"].startswith(f"served by worker {theirs} (lease token ")

        status, body = await _readyz(sound)
        assert (status, body["reasons"], body["elsewhere"]) == (200, [], [])


async def test_an_account_that_cannot_sign_in_says_it_is_trying_again(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        helpdesk = w.account("helpdesk", HELPDESK)
        hr = w.account("hr", HR, password="not-the-password")
        service = await w.service(_with_admin(w.deployment(helpdesk, hr)))
        await until(lambda: service.runners["helpdesk"].signed_in, "helpdesk signed in")
        await until(lambda: service.runners["hr"].error is not None, "hr's sign-in refused")
        status, body = await _readyz(service)
        assert status == 503
        accounts = {a["id"]: a for a in body["accounts"]}
        assert accounts["helpdesk"]["code"] == "ready"
        hr_now = accounts["hr"]
        assert (hr_now["code"], hr_now["signed_in"]) == ("retrying", False)
        assert hr_now["reason"].startswith(f"{hr_now['error']}; trying again (")
        assert body["reasons"] == [
            {"code": "retrying", "account": "hr", "reason": hr_now["reason"]}
        ]
        assert body["elsewhere"] == []


async def test_an_account_the_store_still_shows_as_this_workers_is_being_released() -> None:
    # between the round that stops serving an account and the release of its lease, the
    # store still shows the lease as this worker's: neither "unassigned" nor elsewhere
    from types import SimpleNamespace

    from ucwa_flow.service import _readiness
    from ucwa_flow.service._sight import Sight
    from ucwa_flow.store.leases import Lease

    sight = Sight()
    sight.saw([Lease(HELPDESK, "w1", 3, 20.0, 5.0, 1.0), Lease(HR, "w2", 4, 20.0, 5.0, 1.0)])
    coordinator = SimpleNamespace(
        worker=SimpleNamespace(id="w1"),
        sight=sight,
        serving={},
        held={},
        away=SimpleNamespace(kept=dict),
    )
    runners = {"helpdesk": SimpleNamespace(user=HELPDESK), "hr": SimpleNamespace(user=HR)}
    service = SimpleNamespace(runners=runners)
    found = _readiness._elsewhere(coordinator, service, 0.0)  # type: ignore[arg-type]
    assert [(a.id, a.code, a.worker) for a in found] == [
        ("helpdesk", "releasing", "w1"),
        ("hr", "held_elsewhere", "w2"),
    ]

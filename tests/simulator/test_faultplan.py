"""FaultPlan: random faults, seeded; which requests each kind hits; its report; --faults."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable

import httpx
import pytest

from tests.guards import WAIT
from tests.simulator.conftest import BASE, Session, sign_in
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import (
    FaultPlan,
    FaultSpecError,
    Simulator,
    SimulatorConfig,
    parse_spec,
)
from ucwa_flow.simulator.faultplan import KINDS, TOKEN_MIN_AGE

TOSH = "sip:toshm@contoso.com"
SPEC = "rate=5%,kinds=5xx,drop,slow,pget-replaced,resync,app-expired,token-expired,duplicate-batch"


def test_the_spec_of_the_issue_reads_as_every_kind() -> None:
    plan = parse_spec(SPEC + ",seed=7,user=toshm@contoso.com")
    assert plan.rate == pytest.approx(0.05)
    assert list(plan.weights) == list(KINDS)
    assert plan.seed == 7
    assert plan.user == TOSH


def test_spec_weights_fractions_and_defaults() -> None:
    plan = parse_spec("rate=0.1,kinds=5xx:5,resync")
    assert plan.rate == pytest.approx(0.1)
    assert plan.weights == {"5xx": 5.0, "resync": 1.0}
    assert plan.seed is None
    assert plan.user is None
    assert list(parse_spec("kinds=all,rate=1%").weights) == list(KINDS)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("kinds=5xx", "the fault spec needs a rate, e.g. rate=5%"),
        ("rate=5", "the fault rate '5' is not between 0% and 100% (write 5% or 0.05)"),
        ("rate=lots", "the fault rate 'lots' is not a number like 5% or 0.05"),
        ("rate=5%,kinds=5xx,boom", "unknown fault kind 'boom' (kinds: 5xx, drop, slow,"),
        ("rate=5%,kinds=slow:0", "the weight of 'slow' must be positive"),
        ("rate=5%,kinds=slow:x", "the weight of 'slow' is not a number: 'x'"),
        ("rate=5%,seed=x", "the fault seed 'x' is not an integer"),
        ("rate=5%,colour=red", "unknown fault setting 'colour' (settings: rate, kinds, seed,"),
        ("rate=5%,rate=6%", "fault setting 'rate' given twice"),
        ("rate=5%,,seed=1", "empty item in fault spec"),
        ("5xx,rate=5%", "'5xx' in fault spec '5xx,rate=5%' is not key=value"),
    ],
)
def test_bad_specs_say_what_is_wrong_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_spec(spec)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


async def _statuses(seed: int) -> list[int]:
    sim = Simulator(SimulatorConfig(seed=1), clock=ManualClock())
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        s = await sign_in(client, "toshm@contoso.com")
        sim.faults.plan = FaultPlan(0.3, ["5xx"], seed=seed)
        me = s.link("me", "self")
        return [(await s.get(me)).status_code for _ in range(40)]


async def test_the_same_seed_spoils_the_same_requests() -> None:
    first, again, other = await _statuses(5), await _statuses(5), await _statuses(6)
    assert first == again
    assert first != other
    assert set(first) == {200, 500, 503}


async def test_one_users_plan_leaves_the_others_alone(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    tosh = await sign_in(client, "toshm@contoso.com")
    lene = await sign_in(client, "lenea@contoso.com")
    plan = FaultPlan(1.0, ["5xx"], seed=1, user="toshm@contoso.com")
    sim.faults.plan = plan
    assert (await lene.get(lene.link("me", "self"))).status_code == 200
    assert (await client.get("/")).status_code == 200  # no token: not tosh's
    assert (await tosh.get(tosh.link("me", "self"))).status_code in (500, 503)
    assert plan.requests == 1
    assert [(i.user, i.kind) for i in plan.injections] == [(TOSH, "5xx")]


async def test_app_and_event_kinds_only_hit_requests_they_fit(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    plan = FaultPlan(1.0, ["app-expired", "pget-replaced", "resync", "duplicate-batch"], seed=3)
    sim.faults.plan = plan
    s = await sign_in(client, "toshm@contoso.com")  # discovery, token, application: untouched
    assert plan.injections == []
    plan.weights = {"pget-replaced": 1.0, "resync": 1.0, "duplicate-batch": 1.0}
    assert (await s.get(s.link("me", "self"))).status_code == 200  # not an event GET
    assert plan.injections == []
    plan.weights = {"app-expired": 1.0}
    gone = await s.get(s.link("me", "self"))
    assert (gone.status_code, gone.json()["subcode"]) == (410, "InactiveApplicationExpired")
    assert [i.kind for i in plan.injections] == ["app-expired"]
    token = await client.post(
        "/WebTicket/oauthtoken",
        data={"grant_type": "password", "username": "toshm@contoso.com", "password": "pass@word1"},
    )
    assert token.status_code == 200  # the token service is not below an application
    assert len(plan.injections) == 1


async def _answer(clock: ManualClock, request: Awaitable[httpx.Response]) -> httpx.Response:
    """The answer to a request that may be held (a P-GET), moving time on until it comes."""
    task = asyncio.ensure_future(request)
    for _ in range(400):
        if task.done():
            break
        await clock.advance(1)
    return await task


async def _one(sim: Simulator, s: Session, kind: str, clock: ManualClock) -> httpx.Response:
    """One event-channel GET through a plan that always injects ``kind``."""
    sim.faults.plan = FaultPlan(1.0, [kind], seed=1)
    try:
        return await _answer(clock, s.get(s.next_events))
    finally:
        sim.faults.plan = None


async def test_each_event_channel_kind_does_what_it_says(
    sim: Simulator, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    await s.make_me_available()
    await _answer(clock, s.events())  # batch 1 (me, presence ...)

    replaced = await _one(sim, s, "pget-replaced", clock)
    assert (replaced.status_code, replaced.json()["subcode"]) == (409, "PGetReplaced")

    resync = await _one(sim, s, "resync", clock)
    assert resync.status_code == 200
    assert list(resync.json()["_links"]) == ["resync"]
    assert resync.json()["_links"]["resync"]["href"].endswith("events?ack=1")

    app = sim.applications[0]
    duplicated = await _one(sim, s, "duplicate-batch", clock)  # batch 2: held, then empty
    assert duplicated.status_code == 200
    assert app.channel.duplicate_next == 1  # for the next batch that has events

    failed = await _one(sim, s, "5xx", clock)
    assert failed.status_code in (500, 503)
    assert failed.json()["code"] in ("ServiceFailure", "ServiceUnavailable")

    expired = await _one(sim, s, "token-expired", clock)
    assert expired.status_code == 401
    assert "MsRtcOAuth" in expired.headers["www-authenticate"]


async def test_duplicate_batch_and_slow_use_the_channel_and_the_clock(
    sim: Simulator, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    await s.make_me_available()
    sim.faults.plan = FaultPlan(1.0, ["duplicate-batch"], seed=1)
    first = await _answer(clock, s.events())
    sim.faults.plan = None
    second = await _answer(clock, s.events())
    assert first["sender"]
    assert first["sender"] == second["sender"]  # sent once more

    plan = FaultPlan(1.0, ["slow"], seed=1)
    sim.faults.plan = plan
    slow = asyncio.create_task(s.get(s.link("me", "self")))
    await clock.advance(0.5)
    assert not slow.done()
    await clock.advance(10)
    assert (await slow).status_code == 200
    delay = plan.injections[0].detail
    assert delay.endswith(" s")
    assert 1 <= float(delay[:-2]) <= 10


async def test_report_summary_and_the_control_api(
    sim: Simulator, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    assert (await client.get("/_sim/faults")).json() == {"plan": None}
    s = await sign_in(client, "toshm@contoso.com")
    plan = FaultPlan(1.0, {"5xx": 1.0, "token-expired": 1.0}, seed=4, cover=True)
    sim.faults.plan = plan
    await clock.advance(62.5)  # token-expired spares a token younger than a minute
    me = s.link("me", "self")
    await s.get(me)
    await s.get(me)
    assert sorted(plan.counts.values()) == [1, 1]  # cover: each kind once first
    report = (await client.get("/_sim/faults")).json()["plan"]  # the control API is not spoilt
    assert report["requests"] == 2
    assert report["injected"] == 2
    assert report["byKind"] == plan.counts
    assert report["log"][0]["at"] == 62.5
    assert report["log"][0]["user"] == TOSH
    assert report["log"][0]["method"] == "GET"
    assert report["log"][0]["path"] == me.split("contoso.com", 1)[-1]
    json.dumps(report)
    assert plan.summary() == (
        f"faults injected: 2 in 2 requests (rate 100.0%, seed 4): "
        f"5xx {plan.counts['5xx']}, token-expired {plan.counts['token-expired']}"
    )


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("rate=5%,x", "'x' in fault spec 'rate=5%,x' is not key=value"),
        ("rate=5%,user=nobody@contoso.com", "user sip:nobody@contoso.com is not a user of this"),
    ],
)
def test_cli_refuses_a_bad_fault_spec_as_a_usage_error(spec: str, error: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "simulate", "--port", "0", "--faults", spec],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.rstrip("\n").splitlines()[-1].startswith(f"Error: --faults: {error}")


def test_cli_injects_faults_and_reports_them_when_it_stops() -> None:
    spec = "rate=100%,kinds=5xx,seed=1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ucwa_flow", "simulate", "--port", "0", "--faults", spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.split(" at ", 1)[1].split()[0].rstrip("/")
        lines = [proc.stdout.readline() for _ in range(5)]
        assert "Injecting random faults into 100.0% of requests, seed 1, kinds 5xx:4\n" in lines
        assert httpx.get(url + "/", timeout=WAIT).status_code in (500, 503)
        report = httpx.get(url + "/_sim/faults", timeout=WAIT).json()["plan"]
        assert report["byKind"] == {"5xx": 1}
        assert report["log"][0]["path"] == "/"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert out.splitlines()[-2:] == [
            "faults injected: 1 in 1 requests (rate 100.0%, seed 1): 5xx 1",
            "Simulator stopped.",
        ]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


async def test_a_token_younger_than_a_minute_is_not_expired(
    sim: Simulator, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    s = await sign_in(client, "toshm@contoso.com")
    plan = FaultPlan(1.0, ["token-expired"], seed=1)
    sim.faults.plan = plan
    await clock.advance(TOKEN_MIN_AGE - 1)
    assert (await s.get(s.link("me", "self"))).status_code == 200
    assert plan.injections == []
    await clock.advance(1)
    assert (await s.get(s.link("me", "self"))).status_code == 401
    assert [i.kind for i in plan.injections] == ["token-expired"]

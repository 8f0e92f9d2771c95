"""The service's small parts on their own: back-off, store targets, error lines,
schedules, outbound starts refused."""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path

import pytest

from tests.service.world import HELPDESK, LENE, World, until, world
from ucwa_flow.clock import ManualClock
from ucwa_flow.deploy import (
    AccountSpec,
    Deployment,
    FlowSpec,
    ScheduleSpec,
    SecretSource,
    ServerSpec,
    SourceSpot,
)
from ucwa_flow.deploy import _loader as deploy_loader
from ucwa_flow.errors import OperationalError
from ucwa_flow.observe.logs import redact
from ucwa_flow.service import Backoff, FlowsRefused, describe_error, preflight, store_target
from ucwa_flow.service._flows import load_account_flows
from ucwa_flow.service._schedule import start_schedules
from ucwa_flow.store import default_state_path


def test_backoff_doubles_to_its_cap_with_bounded_jitter() -> None:
    exact = Backoff(first=1.0, cap=60.0, jitter=0.0)
    assert [exact.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    spread = Backoff(first=1.0, cap=60.0, jitter=0.2, rng=random.Random(3))
    for failures in range(1, 12):
        base = min(60.0, 2.0 ** (failures - 1))
        assert 0.8 * base <= spread.delay(failures) <= min(60.0, 1.2 * base)


def test_backoff_stays_at_its_cap_however_long_the_failures_go_on() -> None:
    # a store or server down for a weekend: 1,025 failures overflowed 2.0 ** n
    exact = Backoff(first=1.0, cap=60.0, jitter=0.0)
    assert {exact.delay(n) for n in (1_025, 100_000, 10**9)} == {60.0}


def test_store_targets() -> None:
    url = "postgresql://bots@db/ucwa"
    assert store_target(url, "sip:a@contoso.com") == url
    assert store_target("/var/lib/ucwa-flow", "sip:a@contoso.com") == "/var/lib/ucwa-flow/" + (
        default_state_path("sip:a@contoso.com").name
    )
    assert store_target(None, "sip:a@contoso.com") == str(default_state_path("sip:a@contoso.com"))


def test_error_lines_are_one_line_without_the_secret() -> None:
    assert describe_error(OperationalError("refused for pw123\nmore")) == "refused for pw123"
    assert describe_error(OperationalError("refused for pw123"), "pw123") == "refused for ***"
    assert describe_error(ConnectionError()) == "ConnectionError"
    assert describe_error(ConnectionError("reset")) == "ConnectionError: reset"


@pytest.mark.asyncio
async def test_a_schedule_starts_its_flow_every_period_and_survives_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    started: list[tuple[str, str]] = []

    def start(flow: str, invitee: str) -> None:
        started.append((flow, invitee))
        if len(started) == 2:
            raise OperationalError("helpdesk is not signed in")

    spot = SourceSpot("deploy.yaml", 9, 9)
    spec = ScheduleSpec("survey", "sip:lenea@contoso.com", every=3600.0, spot=spot)
    tasks = start_schedules("helpdesk", (spec,), start, clock)
    try:
        await clock.advance(3599.0)
        assert started == []
        for expected in (1, 2, 3):
            await clock.advance(3600.0 if expected > 1 else 1.0)
            assert len(started) == expected
        assert started[0] == ("survey", "sip:lenea@contoso.com")
        failed = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert failed == [
            "helpdesk: schedule (deploy.yaml:9:9): could not start survey with "
            "sip:lenea@contoso.com: helpdesk is not signed in"
        ]
    finally:
        for task in tasks:
            task.cancel()


@pytest.mark.asyncio
async def test_outbound_starts_say_what_is_wrong(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK)))
        with pytest.raises(LookupError, match="no account 'nobody'"):
            await service.start_outbound("nobody", "helpdesk", "sip:lenea@contoso.com")
        with pytest.raises(LookupError, match="has no flow 'survey'"):
            await service.start_outbound("helpdesk", "survey", "sip:lenea@contoso.com")
        with pytest.raises(ValueError, match="not a SIP address"):
            await service.start_outbound("helpdesk", "helpdesk", "lenea")
        await until(lambda: service.readiness().ready, "signed in")
        await service.stop()
        with pytest.raises(OperationalError, match="not signed in"):
            await service.start_outbound("helpdesk", "helpdesk", "sip:lenea@contoso.com")


SURVEY = """\
version: 1
name: survey
start: ask
outbound:
  to: [sip:someone@contoso.com]
  message: "survey: a minute for us?"
states:
  ask:
    enter:
      - say: "survey: a score from 1 to 5?"
    messages:
      - any: true
        say: "survey thanks for {{ message }}"
        do: [stop]
"""


@pytest.mark.asyncio
async def test_an_outbound_start_invites_the_person_with_the_flow(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        account = w.account("helpdesk", HELPDESK)
        survey = FlowSpec("survey", w.flow("survey", text=SURVEY))
        account = dataclasses.replace(account, flows=(*account.flows, survey))
        service = await w.service(w.deployment(account))
        await until(lambda: service.readiness().ready, "signed in")
        lene = await w.person(LENE, HELPDESK)
        await service.start_outbound("helpdesk", "survey", LENE)
        assert await lene.hear(2) == ["survey: a minute for us?", "survey: a score from 1 to 5?"]
        await lene.say("5")
        assert await lene.hear() == ["survey thanks for 5"]
        assert await lene.hear_end() == "the bot ended the conversation"


def test_the_values_a_deployment_gives_to_secret_variables_are_redacted(tmp_path: Path) -> None:
    key = f"key-{random.Random().getrandbits(64):x}"
    flow = tmp_path / "desk.flow.yaml"
    flow.write_text(
        "version: 1\nname: desk\nstart: ask\nvariables: {api_key: null, greeting: hi}\n"
        "secrets: [api_key]\nstates:\n  ask:\n    enter:\n      - say: '{{ greeting }}'\n"
        "      - stop\n",
        encoding="utf-8",
    )
    account = AccountSpec(
        id="desk",
        user=HELPDESK,
        password=SecretSource(env="UNUSED"),
        flows=(FlowSpec("desk", flow),),
        default_flow="desk",
        variables={"api_key": key, "greeting": "hello-there"},
    )
    flows = load_account_flows(account).flows
    assert flows["desk"].variables["api_key"] == key
    assert redact(f"calling with {key} and hello-there") == "calling with *** and hello-there"


@pytest.mark.asyncio
async def test_a_variable_no_flow_declares_is_refused_at_start(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        account = w.account("helpdesk", HELPDESK)
        account = dataclasses.replace(account, variables={"tiket_url": "https://tickets"})
        with pytest.raises(FlowsRefused, match=r"D114 error: vars\.tiket_url: no flow of account"):
            await w.service(w.deployment(account))


def test_a_password_in_the_store_url_is_redacted(tmp_path: Path) -> None:
    secret = f"pg-{random.Random().getrandbits(64):x}"
    flow = tmp_path / "desk.flow.yaml"
    flow.write_text(World.flow_text("desk"), encoding="utf-8")
    account = AccountSpec(
        id="desk",
        user=HELPDESK,
        password=SecretSource(file=flow),  # any readable file will do
        flows=(FlowSpec("desk", flow),),
        default_flow="desk",
    )
    store = f"postgresql://bots:{secret}@db.contoso.com/ucwa"
    deployment = Deployment(tmp_path / "deploy.yaml", ServerSpec(), (account,), store=store)
    preflight(deployment)
    assert redact(f"could not connect with {secret}") == "could not connect with ***"


def test_preflight_loads_a_flow_file_once_for_every_account_that_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = tmp_path / "desk.flow.yaml"
    flow.write_text(
        "version: 1\nname: desk\nstart: ask\nvariables: {greeting: hi}\nstates:\n"
        "  ask:\n    enter:\n      - say: '{{ greeting }}'\n      - stop\n",
        encoding="utf-8",
    )
    accounts = tuple(
        AccountSpec(
            id=name,
            user=f"sip:{name}@contoso.com",
            password=SecretSource(file=flow),  # any readable file will do
            flows=(FlowSpec("desk", flow),),
            default_flow="desk",
            variables={"greeting": name} if name == "two" else {},
        )
        for name in ("one", "two", "three")
    )
    loads: list[object] = []
    real = deploy_loader.load_flow
    monkeypatch.setattr(deploy_loader, "load_flow", lambda path: loads.append(path) or real(path))
    flows = preflight(Deployment(tmp_path / "deploy.yaml", ServerSpec(), accounts))
    assert loads == [flow]  # it was read twice per account: once checked, once loaded
    assert set(flows) == {"one", "two", "three"}
    assert flows["one"]["desk"] is flows["three"]["desk"]  # compiled flows are immutable
    assert flows["two"]["desk"].variables["greeting"] == "two"

"""Reload: a broken flow is refused with its location and the running version stays; a
valid changed one is taken."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.observe.scraped import Scraped
from tests.service.world import ADRIANA, HELPDESK, HR, LENE, until, world

pytestmark = pytest.mark.asyncio

INFO = "ucwa_flow_flow_version_info"


async def test_a_broken_flow_is_refused_and_a_good_one_is_taken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ucwa_flow.service")
    async with world(tmp_path) as w:
        service = await w.service(
            w.deployment(w.account("helpdesk", HELPDESK), w.account("hr", HR))
        )
        await until(lambda: service.readiness().ready, "signed in")
        runner = service.runners["helpdesk"]
        running = runner.flows["helpdesk"]

        report = await service.reload()
        assert report.ok
        assert report.lines == ["reload: no flow changed"]

        text = w.flow_text("helpdesk", "v2").replace("goto: done", "goto: nowhere")
        broken = w.flow("helpdesk", text=text)
        report = await service.reload()
        assert not report.ok
        located = [line for line in report.lines if line.startswith(f"{broken}:")]
        assert located
        spot = re.compile(rf"{re.escape(str(broken))}:\d+:\d+: [A-Z]+\d* ")
        assert all(spot.match(line) for line in located)
        assert "helpdesk: helpdesk: refused" in report.lines[-1]
        assert runner.flows["helpdesk"] is running  # the running version stays
        logged = [r.getMessage() for r in caplog.records]
        assert set(located) <= set(logged)

        w.flow("helpdesk", "v2")
        report = await service.reload()
        assert report.ok, report.lines
        assert len(report.lines) == 1
        assert report.lines[0].startswith("helpdesk: helpdesk: version ")
        assert runner.flows["helpdesk"].digest != running.digest
        assert service.runners["hr"].flows["hr"].name == "hr"  # untouched
        scraped = Scraped.of(service.metrics)
        versions = {(v["account"], v["flow"]): v["digest"] for v in scraped.labels(INFO)}
        assert versions == {
            ("helpdesk", "helpdesk"): runner.flows["helpdesk"].digest,
            ("hr", "hr"): service.runners["hr"].flows["hr"].digest,
        }
        assert scraped.value("ucwa_flow_reloads_total", result="ok") == 2
        assert scraped.value("ucwa_flow_reloads_total", result="refused") == 1
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v2: your name?"]


async def test_watch_reloads_when_a_flow_file_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ucwa_flow.service")
    async with world(tmp_path) as w:
        deployment = w.deployment(w.account("helpdesk", HELPDESK))
        service = await w.service(deployment, watch=True)
        await until(lambda: service.readiness().ready, "signed in")
        runner = service.runners["helpdesk"]
        running = runner.flows["helpdesk"].digest
        assert set(service.watched_files()) == {deployment.source, tmp_path / "helpdesk.flow.yaml"}
        (tmp_path / "unrelated.txt").write_text("not watched", encoding="utf-8")
        w.flow("helpdesk", "v2")
        await until(lambda: runner.flows["helpdesk"].digest != running, "the reload on change")
        deployment.source.write_text("accounts: []\n", encoding="utf-8")
        await until(
            lambda: any("change at the next start" in r.getMessage() for r in caplog.records),
            "the note on the deployment file",
        )


async def test_a_running_conversation_moves_to_a_compatible_version_only(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK)))
        await until(lambda: service.readiness().ready, "signed in")
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]

        w.flow("helpdesk", "v2")  # its state 'ask' is still there: Lene moves to v2
        report = await service.reload()
        v2 = service.runners["helpdesk"].flows["helpdesk"].digest
        assert report.lines == [
            f"helpdesk: helpdesk: version {v2[:12]}; 1 conversation(s) moved to it, "
            "0 kept their version"
        ]
        await lene.say("Lene")
        assert await lene.hear() == ["v2 thanks Lene"]

        text = w.flow_text("helpdesk", "v3").replace("done", "finished")
        w.flow("helpdesk", text=text)  # no state 'done' in v3: Lene keeps v2
        report = await service.reload()
        assert report.ok
        assert report.lines[0].endswith("0 conversation(s) moved to it, 1 kept their version")
        await lene.say("again")
        assert await lene.hear() == ["v2 done: again"]
        adriana = await w.person(ADRIANA, HELPDESK)  # a new conversation: v3
        await adriana.say("hi")
        assert await adriana.hear() == ["helpdesk v3: your name?"]
        assert await service.reload() == type(report)(True, ["reload: no flow changed"])


async def test_a_reload_while_the_account_signs_in_is_served_once_it_is_in(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        held = w.sim.faults.inject(method="POST", path="makeMeAvailable", delay=30.0)
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK)))
        await until(lambda: held.hits >= 1, "the sign-in under way")
        w.flow("helpdesk", "v2")
        report = await service.reload()
        assert report.lines[0].endswith(", from the next sign-in")
        await w.clock.advance(30.0)
        await until(lambda: service.readiness().ready, "signed in")
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v2: your name?"]
        assert await service.reload() == type(report)(True, ["reload: no flow changed"])

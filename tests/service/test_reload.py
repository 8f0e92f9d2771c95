"""Reload: a broken flow is refused with its location and the running version stays; a
valid changed one is taken."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from pathlib import Path

import pytest

from tests.guards import WAIT
from tests.observe.scraped import Scraped
from tests.service.world import ADRIANA, HELPDESK, HR, LENE, until, world
from ucwa_flow import logcontext

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


async def test_watch_reloads_when_a_file_the_flow_includes_changes(tmp_path: Path) -> None:
    """Only the flow files the deployment names were watched: an edit of the states a
    flow includes (or of a sub-flow it calls) waited for a SIGHUP."""
    async with world(tmp_path) as w:
        (tmp_path / "lib").mkdir()
        shared = tmp_path / "lib" / "shared.states.yaml"
        shared.write_text("states:\n  done:\n    enter:\n      - say: bye\n", encoding="utf-8")
        text = w.flow_text("helpdesk").split("  done:\n")[0]
        w.flow(
            "helpdesk",
            text=text.replace("states:\n", "include: [lib/shared.states.yaml]\nstates:\n"),
        )
        deployment = w.deployment(w.account("helpdesk", HELPDESK))
        service = await w.service(deployment, watch=True)
        await until(lambda: service.readiness().ready, "signed in")
        runner = service.runners["helpdesk"]
        running = runner.flows["helpdesk"].digest
        assert shared in set(service.watched_files())
        shared.write_text(shared.read_text("utf-8").replace("bye", "goodbye"), "utf-8")
        await until(lambda: runner.flows["helpdesk"].digest != running, "the reload on change")


async def test_watch_reloads_when_an_included_file_without_states_changes(
    tmp_path: Path,
) -> None:
    """Only the files states and commands came from were watched: an included file of
    ``variables`` only, or one that only includes another (the middle of a chain), was
    read at every load but its edits waited for a SIGHUP."""
    async with world(tmp_path) as w:
        for folder in ("lib", "lib2"):
            (tmp_path / folder).mkdir()
        names = tmp_path / "lib" / "vars.states.yaml"
        names.write_text("variables:\n  greeting: hello\n", encoding="utf-8")
        middle = tmp_path / "lib" / "mid.states.yaml"
        middle.write_text("include: [../lib2/leaf.states.yaml]\n", encoding="utf-8")
        leaf = tmp_path / "lib2" / "leaf.states.yaml"
        leaf.write_text("states:\n  done:\n    enter:\n      - say: bye\n", encoding="utf-8")
        text = w.flow_text("helpdesk").split("  done:\n")[0].replace("your name?", "{{ greeting }}")
        include = "include: [lib/vars.states.yaml, lib/mid.states.yaml]\nstates:\n"
        w.flow("helpdesk", text=text.replace("states:\n", include))
        deployment = w.deployment(w.account("helpdesk", HELPDESK))
        service = await w.service(deployment, watch=True)
        await until(lambda: service.readiness().ready, "signed in")
        runner = service.runners["helpdesk"]
        assert {names, middle, leaf} <= set(service.watched_files())
        names.write_text("variables:\n  greeting: welcome\n", encoding="utf-8")
        await until(
            lambda: runner.flows["helpdesk"].variables["greeting"] == "welcome",
            "the reload on the change of the variables",
        )
        running = runner.flows["helpdesk"].digest
        middle.write_text("# the leaf's states\n" + middle.read_text("utf-8"), "utf-8")
        await until(lambda: runner.flows["helpdesk"].digest != running, "the reload on mid")
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: welcome"]


@pytest.mark.parametrize("folder", [".", "lib"])
async def test_watch_follows_a_file_included_since_the_start(tmp_path: Path, folder: str) -> None:
    """The watch was of the files the flows included at the start: a file a flow included
    after a reload (in the flow's folder or another) was read at each reload but its own
    edits waited for a SIGHUP or a restart."""
    async with world(tmp_path) as w:
        (tmp_path / folder).mkdir(exist_ok=True)
        shared = tmp_path / folder / "shared.states.yaml"
        shared.write_text("states:\n  done:\n    enter:\n      - say: bye\n", encoding="utf-8")
        deployment = w.deployment(w.account("helpdesk", HELPDESK))
        service = await w.service(deployment, watch=True)
        await until(lambda: service.readiness().ready, "signed in")
        runner = service.runners["helpdesk"]
        running = runner.flows["helpdesk"].digest
        text = w.flow_text("helpdesk").split("  done:\n")[0]
        include = f"include: [{folder}/shared.states.yaml]\nstates:\n"
        w.flow("helpdesk", text=text.replace("states:\n", include))
        await until(lambda: runner.flows["helpdesk"].digest != running, "the reload on change")
        assert shared.resolve() in set(service.watched_files())
        including = runner.flows["helpdesk"].digest
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        round_ = 0
        while runner.flows["helpdesk"].digest == including:  # the new watch may not be on yet
            assert loop.time() < deadline, "timed out waiting for the reload on the include"
            round_ += 1
            shared.write_text(f"states:\n  done:\n    enter:\n      - say: bye {round_}\n", "utf-8")
            for _ in range(50):  # a while for the reload before writing again
                if runner.flows["helpdesk"].digest != including:
                    break
                await asyncio.sleep(0.01)
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]


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


class _Fields(logging.Handler):
    """Each line with the fields bound where it was logged (what a JSON line carries)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.getMessage(), logcontext.fields().get("account")))


async def test_the_lines_of_a_reload_carry_their_account(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The runtime's ``flow X is now version ...`` line had no account (one such line per
    account, alike, in JSON logs too), nor had the service's lines of each account."""
    seen = _Fields()
    for name in ("ucwa_flow.service", "ucwa_flow.runtime"):
        caplog.set_level(logging.INFO, logger=name)
        logging.getLogger(name).addHandler(seen)
    try:
        async with world(tmp_path) as w:
            service = await w.service(
                w.deployment(w.account("helpdesk", HELPDESK), w.account("hr", HR))
            )
            await until(lambda: service.readiness().ready, "signed in")
            w.flow("helpdesk", "v2")
            broken = w.flow("hr", text=w.flow_text("hr").replace("goto: done", "goto: nowhere"))
            seen.lines.clear()
            report = await service.reload()
            assert not report.ok
    finally:
        for name in ("ucwa_flow.service", "ucwa_flow.runtime"):
            logging.getLogger(name).removeHandler(seen)
    reloaded = [(line, account) for line, account in seen.lines if "helpdesk" in line]
    assert [account for _, account in reloaded] == ["helpdesk", "helpdesk"], reloaded
    assert reloaded[0][0].startswith("flow helpdesk is now version ")
    refused = [(line, account) for line, account in seen.lines if line.startswith(f"{broken}:")]
    refused.append(next(item for item in seen.lines if item[0].startswith("hr: hr: refused")))
    assert {account for _, account in refused} == {"hr"}, refused


async def test_a_shared_file_is_told_once_and_a_deleted_one_in_one_line(tmp_path: Path) -> None:
    """The errors of a file two accounts use were repeated for each account, and a deleted
    file was said to be 'refused (... has errors)', with no line saying why."""
    async with world(tmp_path) as w:
        helpdesk = w.account("helpdesk", HELPDESK)
        hr = dataclasses.replace(w.account("hr", HR), flows=helpdesk.flows, default_flow="helpdesk")
        service = await w.service(w.deployment(helpdesk, hr))
        await until(lambda: service.readiness().ready, "signed in")
        text = w.flow_text("helpdesk", "v2").replace("goto: done", "goto: nowhere")
        broken = w.flow("helpdesk", text=text)
        report = await service.reload()
        assert not report.ok
        located = [line for line in report.lines if line.startswith(f"{broken}:")]
        assert located
        assert len(located) == len(set(located)), report.lines  # once, not once per account
        refusals = [line for line in report.lines if line not in located]
        assert refusals == [
            f"{account}: helpdesk: refused ({broken} has errors); the running version stays"
            for account in ("helpdesk", "hr")
        ]

        broken.unlink()
        report = await service.reload()
        assert not report.ok
        assert report.lines == [
            f"{account}: helpdesk: refused ({broken}: no such flow file); the running version stays"
            for account in ("helpdesk", "hr")
        ]
        assert service.runners["hr"].flows["helpdesk"].name == "helpdesk"  # still served

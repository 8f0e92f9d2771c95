"""Reload and the account's ``vars``: a version that leaves one of them undeclared is
refused (the next start would stop on ``D114``), and only such a version."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.service.world import HELPDESK, World, until, world
from ucwa_flow.deploy import AccountSpec, FlowSpec
from ucwa_flow.service import Service

pytestmark = pytest.mark.asyncio


def _declaring(text: str, variables: str) -> str:
    """The flow ``text`` with ``variables: {variables}``."""
    return text.replace("states:\n", f"variables: {{{variables}}}\nstates:\n")


async def _desk(w: World, desk: str, faq: str, **variables: object) -> Service:
    """The account ``desk`` serving the flows ``desk`` and ``faq`` (their texts), with
    ``variables`` as its ``vars``, signed in."""
    account = w.account("desk", HELPDESK)
    flows = (account.flows[0], FlowSpec("faq", w.flow("faq", text=faq)))
    w.flow("desk", text=desk)
    spec: AccountSpec = dataclasses.replace(account, flows=flows, variables=variables)
    service = await w.service(w.deployment(spec))
    await until(lambda: service.readiness().ready, "signed in")
    return service


def _refusal(flow: str, why: str) -> str:
    return f"desk: {flow}: refused ({why}, D114 at the next start); the running version stays"


async def test_a_version_without_a_variable_the_deployment_sets_is_refused(
    tmp_path: Path,
) -> None:
    """It was taken (200, "ok"), the deployment's value dropped without a word, and the
    next start refused the file (D114, exit status 2): a restart did not come back."""
    async with world(tmp_path) as w:
        with_name = _declaring(w.flow_text("helpdesk"), "who: nobody")
        w.flow("helpdesk", text=with_name)
        account = dataclasses.replace(w.account("helpdesk", HELPDESK), variables={"who": "Lene"})
        service = await w.service(w.deployment(account))
        await until(lambda: service.readiness().ready, "signed in")
        runner = service.runners["helpdesk"]
        running = runner.flows["helpdesk"]
        w.flow("helpdesk", "v2")  # no `who` any more
        report = await service.reload()
        assert not report.ok
        assert report.lines == [
            "helpdesk: helpdesk: refused (vars.who: no flow of account 'helpdesk' would have "
            "a variable 'who', D114 at the next start); the running version stays"
        ]
        assert runner.flows["helpdesk"] is running
        w.flow("helpdesk", text=with_name.replace("v1", "v3"))  # declared again: taken
        assert (await service.reload()).ok
        assert runner.flows["helpdesk"].variables["who"] == "Lene"


async def test_only_the_version_that_drops_variables_is_refused_naming_each(
    tmp_path: Path,
) -> None:
    """Every changed version of the account was refused, the innocent one too (and blamed
    for the variable), each line naming the first missing variable only."""
    async with world(tmp_path) as w:
        desk = _declaring(w.flow_text("desk"), "who: nobody, topic: none")
        service = await _desk(w, desk, w.flow_text("faq"), who="Lene", topic="printers")
        runner = service.runners["desk"]
        running, faq = runner.flows["desk"], runner.flows["faq"]
        w.flow("desk", "v2")  # neither `who` nor `topic` any more
        w.flow("faq", "v2")  # an unrelated change
        report = await service.reload()
        assert not report.ok
        why = "vars.who, vars.topic: no flow of account 'desk' would have these variables"
        assert report.lines[0] == _refusal("desk", why)
        assert runner.flows["desk"] is running
        assert runner.flows["faq"].digest != faq.digest  # taken
        assert report.lines[1:] == [
            f"desk: faq: version {runner.flows['faq'].digest[:12]}; "
            "0 conversation(s) moved to it, 0 kept their version"
        ]


async def test_a_variable_moved_to_another_flow_in_one_reload_is_taken(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        desk = _declaring(w.flow_text("desk"), "who: nobody")
        service = await _desk(w, desk, w.flow_text("faq"), who="Lene")
        runner = service.runners["desk"]
        w.flow("desk", "v2")
        w.flow("faq", text=_declaring(w.flow_text("faq", "v2"), "who: nobody"))
        report = await service.reload()
        assert report.ok, report.lines
        assert "who" not in runner.flows["desk"].variables
        assert runner.flows["faq"].variables["who"] == "Lene"


async def test_the_versions_that_would_run_are_checked_again(tmp_path: Path) -> None:
    """``who`` moves from desk to faq, but faq's new version drops ``topic``: faq's is
    refused for ``topic``, so ``who`` would be declared by no flow and desk's is refused
    for it. Both were refused for ``topic``, desk's for a variable it never declared."""
    async with world(tmp_path) as w:
        desk = _declaring(w.flow_text("desk"), "who: nobody")
        faq = _declaring(w.flow_text("faq"), "topic: none")
        service = await _desk(w, desk, faq, who="Lene", topic="printers")
        runner = service.runners["desk"]
        running = dict(runner.flows)
        w.flow("desk", "v2")
        w.flow("faq", text=_declaring(w.flow_text("faq", "v2"), "who: nobody"))
        report = await service.reload()
        assert report.lines == [
            _refusal("desk", "vars.who: no flow of account 'desk' would have a variable 'who'"),
            _refusal("faq", "vars.topic: no flow of account 'desk' would have a variable 'topic'"),
        ]
        assert runner.flows == running

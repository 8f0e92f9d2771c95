"""Several accounts in one Service, on the real simulator: each serves its callers, and
one that cannot sign in is retried with back-off while the others serve."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.service.world import ADRIANA, HELPDESK, HR, LENE, advance_until, until, world

pytestmark = pytest.mark.asyncio


async def test_two_accounts_serve_their_callers(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        service = await w.service(
            w.deployment(w.account("helpdesk", HELPDESK), w.account("hr", HR))
        )
        await until(lambda: service.readiness().ready, "both accounts signed in")
        lene = await w.person(LENE, HELPDESK)
        adriana = await w.person(ADRIANA, HR)
        await lene.say("hello")
        await adriana.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]
        assert await adriana.hear() == ["hr v1: your name?"]
        await lene.say("Lene")
        await adriana.say("Adriana")
        assert await lene.hear() == ["v1 thanks Lene"]
        assert await adriana.hear() == ["v1 thanks Adriana"]
        readiness = service.readiness()
        assert readiness.store
        assert [(a.id, a.signed_in, a.channel_live, a.error) for a in readiness.accounts] == [
            ("helpdesk", True, True, None),
            ("hr", True, True, None),
        ]


async def test_a_wrong_password_is_retried_while_the_other_account_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ucwa_flow.service")
    async with world(tmp_path) as w:
        wrong = "not-the-pass@word-42"
        hr = w.account("hr", HR, password=wrong)
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK), hr))
        runner = service.runners["hr"]
        await until(lambda: runner.failures >= 1, "hr's sign-in to fail")
        await until(lambda: service.runners["helpdesk"].signed_in, "helpdesk signed in")

        readiness = service.readiness()
        assert not readiness.ready
        down = {a.id: a for a in readiness.accounts}["hr"]
        assert not down.signed_in
        assert down.error
        assert wrong not in down.error
        failures = [
            r.getMessage() for r in caplog.records if "hr: cannot sign in" in r.getMessage()
        ]
        assert failures
        assert all(len(line.splitlines()) == 1 and wrong not in line for line in failures)
        assert all(r.exc_info is None for r in caplog.records)

        lene = await w.person(LENE, HELPDESK)  # the other account serves meanwhile
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]

        # tried again after the back-off (1 s, 2 s, ... on the clock); fixed, it signs in
        before = runner.failures
        await w.clock.advance(1.0)
        await until(lambda: runner.failures > before, "a second attempt")
        assert hr.password.file is not None
        hr.password.file.write_text("pass@word1\n", encoding="utf-8")
        await advance_until(w.clock, lambda: runner.signed_in, "hr signed in")
        await until(lambda: service.readiness().ready, "every account ready")
        adriana = await w.person(ADRIANA, HR)
        await adriana.say("hello")
        assert await adriana.hear() == ["hr v1: your name?"]

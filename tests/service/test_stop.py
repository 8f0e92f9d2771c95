"""A graceful stop: new invitations are left ringing, the steps under way finish and are
committed, and a second Service on the same store carries the conversations on."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import settle
from tests.service.world import HELPDESK, HR, LENE, until, world
from ucwa_flow.runtime import trace as t

pytestmark = pytest.mark.asyncio


async def test_stop_then_a_second_service_carries_the_conversations_on(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        deployment = w.deployment(w.account("helpdesk", HELPDESK), w.account("hr", HR))
        first = await w.service(deployment)
        await until(lambda: first.readiness().ready, "both accounts signed in")
        lene, adriana = await w.greeted()
        await lene.say("Lene")  # now in state "done"
        assert await lene.hear() == ["v1 thanks Lene"]

        assert await first.stop() is True  # within stop_timeout: nothing cut short
        assert not first.readiness().ready
        assert all(runner.bot is None for runner in first.runners.values())

        second = await w.service(deployment)
        await until(lambda: second.readiness().ready, "signed in again")
        bot = second.runners["helpdesk"].bot
        assert bot is not None
        assert bot.reattached
        await lene.say("again")
        assert await lene.hear() == ["v1 done: again"]
        await adriana.say("Adriana")
        assert await adriana.hear() == ["v1 thanks Adriana"]


async def test_a_stopping_bot_leaves_new_invitations_ringing(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK)))
        await until(lambda: service.readiness().ready, "signed in")
        runner = service.runners["helpdesk"]
        bot = runner.bot
        assert bot is not None
        runner.stop_answering()  # the first step of stop()
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hello")
        await until(lambda: len(bot.engine.tracker) > 0, "the invitation to reach the bot")
        await settle()
        await bot.engine.idle()
        traces = w.traces["helpdesk"]
        assert not [r for r in traces if isinstance(r, t.InvitationDecided)]
        assert lene.caller.ended is None  # still ringing
        assert not lene.caller.heard


async def test_a_stop_past_its_bound_cancels_what_is_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with world(tmp_path) as w:
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK), stop_timeout=0.2))
        await until(lambda: service.readiness().ready, "signed in")
        runner = service.runners["helpdesk"]
        stuck = asyncio.Event()

        async def never_done() -> None:  # a step that does not finish
            await stuck.wait()

        runner.stop = never_done  # type: ignore[method-assign]
        assert await service.stop() is False
        warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert "stop: not done after 0.2 s; cancelled what was left" in warned
        assert runner.bot is None  # abandoned: its connections closed


async def test_a_stop_while_the_admin_endpoint_starts_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop ends what the start made after it too: the endpoint, and no account signs
    in. The endpoint's start is held (a seam in the test, not a timing) until the stop ran."""
    from ucwa_flow.admin import AdminServer
    from ucwa_flow.deploy import AdminSpec
    from ucwa_flow.service import Service

    listening, release = asyncio.Event(), asyncio.Event()
    real_start = AdminServer.start

    async def held_start(self: AdminServer) -> tuple[str, int]:
        listening.set()
        await release.wait()
        return await real_start(self)

    monkeypatch.setattr(AdminServer, "start", held_start)
    async with world(tmp_path) as w:
        deployment = w.deployment(w.account("helpdesk", HELPDESK))
        deployment = dataclasses.replace(deployment, admin=AdminSpec(host="127.0.0.1", port=0))
        service = Service(deployment, clock=w.clock, sinks=w.sink)
        starting = asyncio.create_task(service.start())
        await listening.wait()
        assert await service.stop() is True
        release.set()
        await starting
        assert service.runners == {}  # no account was started after the stop
        address = service.admin_address
        assert address is not None
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://{address[0]}:{address[1]}/healthz")

"""``/live`` after a restart: the conversations the bot carried on from its store are
listed at once, in their flow state and lifecycle states.

They emit no trace record until their next step, so a new process's live board (``serve``'s
``/live``, ``review --attach``) showed none of them, and counted none, while
``ucwa_flow_conversations_active`` counted them all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.service.world import HELPDESK, LENE, until, world
from ucwa_flow.deploy import AdminSpec
from ucwa_flow.runtime import trace as t
from ucwa_flow.service import Service

pytestmark = pytest.mark.asyncio


async def test_a_restarted_service_lists_the_conversations_it_carried_on(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        deployment = w.deployment(w.account("helpdesk", HELPDESK))
        deployment = replace(deployment, admin=AdminSpec(port=0))
        first = await w.service(deployment)
        await until(lambda: first.readiness().ready, "signed in")
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]
        await lene.say("Lene")
        assert await lene.hear() == ["v1 thanks Lene"]
        assert first.live is not None
        before = first.live.snapshot()
        assert before["active"] == 1
        assert await first.stop()

        second = await w.service(deployment)
        await until(lambda: second.readiness().ready, "signed in again")
        assert second.live is not None
        after = second.live.snapshot()
        assert after["active"] == 1
        assert after["flows"] == {"helpdesk": {"states": {"done": 1}}}
        assert after["lifecycle"]["conversation"]["Connected"] == 1
        assert after["lifecycle"]["messaging"]["Connected"] == 1
        [listed] = after["conversations"]
        expected = {k: before["conversations"][0][k] for k in ("id", "href", "flow", "state")}
        assert {k: listed[k] for k in expected} == expected
        assert (listed["active"], listed["lifecycle"], listed["caller"]) == (
            True,
            "Connected",
            "sip:lenea@contoso.com",
        )

        await lene.say("again")  # its next step: still one conversation, moved on
        assert await lene.hear() == ["v1 done: again"]
        assert second.live.snapshot()["active"] == 1


@contextlib.asynccontextmanager
async def _talking(tmp_path: Path) -> AsyncIterator[Service]:
    """A service of the helpdesk account, Lene's conversation with it in state ``ask``."""
    async with world(tmp_path) as w:
        deployment = replace(w.deployment(w.account("helpdesk", HELPDESK)), admin=AdminSpec(port=0))
        service = await w.service(deployment)
        await until(lambda: service.readiness().ready, "signed in")
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]
        yield service


async def test_a_stop_that_runs_out_of_time_takes_the_account_off_the_picture(
    tmp_path: Path,
) -> None:
    # a runner whose stop was cancelled (the coordinator's stop timeout) or that was
    # abandoned kept its conversations listed and counted on /live, while /metrics showed
    # none: a worker that lost the lease showed what another worker now served
    async with _talking(tmp_path) as service:
        assert service.live is not None
        assert service.live.snapshot()["active"] == 1
        runner = service.runners["helpdesk"]
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0):
                await runner.stop()
        assert service.live.snapshot()["active"] == 0
        await runner.abandon()
        assert service.live.snapshot()["active"] == 0


async def test_a_conversation_still_listed_is_shown_as_the_store_has_it(tmp_path: Path) -> None:
    # carried() left a conversation the board still listed as active as the board last saw
    # it: a step never committed (the bot then restarted in this process), or one another
    # worker took it on from (the account taken back), stayed shown
    async with _talking(tmp_path) as service:
        live = service.live
        assert live is not None
        [shown] = live.snapshot()["conversations"]
        bot = service.runners["helpdesk"].bot
        assert bot is not None
        instances = bot.engine.instances
        later = t.StateEntered(at=0.0, conversation=shown["href"], state="done", previous="ask")
        live.sink("helpdesk")(later)  # a step the store never got
        assert live.snapshot()["flows"] == {"helpdesk": {"states": {"done": 1}}}
        assert live.carried("helpdesk", instances) == 0  # none added: refreshed
        snapshot = live.snapshot()
        assert snapshot["flows"] == {"helpdesk": {"states": {"ask": 1}}}
        assert [c["state"] for c in snapshot["conversations"]] == ["ask"]

"""``/live`` after a restart: the conversations the bot carried on from its store are
listed at once, in their flow state and lifecycle states.

They emit no trace record until their next step, so a new process's live board (``serve``'s
``/live``, ``review --attach``) showed none of them, and counted none, while
``ucwa_flow_conversations_active`` counted them all.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.service.world import HELPDESK, LENE, until, world
from ucwa_flow.deploy import AdminSpec

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

"""What an on-call engineer reads in ``/metrics`` of a Service on the real simulator:
the flow of a conversation that ends after a restart, and whether each account serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.observe.scraped import Scraped
from tests.service.world import HELPDESK, HR, LENE, until, world

pytestmark = pytest.mark.asyncio


async def test_a_conversation_carried_on_and_ended_counts_under_its_flow(tmp_path: Path) -> None:
    """Ended before any other record after the restart, it was counted as flow="unknown"."""
    async with world(tmp_path) as w:
        deployment = w.deployment(w.account("helpdesk", HELPDESK))
        first = await w.service(deployment)
        await until(lambda: first.readiness().ready, "helpdesk signed in")
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]
        await first.stop()
        w.services.remove(first)

        again = await w.service(deployment)
        runner = again.runners["helpdesk"]
        await until(
            lambda: runner.bot is not None and len(runner.bot.engine.instances) == 1,
            "the conversation carried on",
        )
        await lene.caller.hang_up()

        def ended() -> list[dict[str, str]]:
            return Scraped.of(again.metrics).labels("ucwa_flow_conversations_ended_total")

        await until(ended, "the end counted")
        assert ended() == [{"account": "helpdesk", "flow": "helpdesk", "by": "caller"}]


async def test_an_account_that_cannot_sign_in_is_not_ready_in_the_metrics(tmp_path: Path) -> None:
    """A wrong password showed nowhere in /metrics (no channel, so no reconnects either)."""
    async with world(tmp_path) as w:
        hr = w.account("hr", HR, password="not-the-pass@word-42")
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK), hr))
        await until(lambda: service.runners["helpdesk"].signed_in, "helpdesk signed in")
        await until(lambda: service.runners["hr"].error, "hr's sign-in failed")

        def ready() -> list[tuple[dict[str, str], float]]:
            m = Scraped.of(service.metrics)
            return [(s[1], s[2]) for s in m.samples if s[0] == "ucwa_flow_account_ready"]

        assert ready() == [({"account": "helpdesk"}, 1.0), ({"account": "hr"}, 0.0)]

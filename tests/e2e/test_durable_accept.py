"""A durable bot accepts an invitation only once the batch that brought it is committed
(after that batch's messages); a restart in between accepts it again."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import LENE, stage
from tests.runtime.flows_for_routing import desk
from ucwa_flow.runtime import trace as t
from ucwa_flow.store import ConversationQuery, open_store


async def test_an_accept_committed_but_not_sent_before_a_crash_is_sent_after_it(
    tmp_path: Path,
) -> None:
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    try:
        async with stage(desk("helpdesk", "H"), store=store) as s:
            sent: list[str] = []

            async def dies_first(href: str, link: str, *, again: bool = False) -> None:
                sent.append(href)  # decided and committed; the process dies before the POST

            s.bot.engine.answers.accept = dies_first  # type: ignore[method-assign]
            lene = await s.person(LENE)
            await lene.say("hi")
            await s.until(lambda: sent, "the accept to be due", idle=False)
            await s.idle()
            (record,) = await store.conversations(ConversationQuery())
            assert record.state == "(new)"
            assert "accept" in record.extra["opening"]
            await s.crash()
            await s.restart()
            assert await lene.hear(2) == ["H hello", "H in menu: hi"]
            assert not s.of(t.FlowError)
    finally:
        await store.aclose()

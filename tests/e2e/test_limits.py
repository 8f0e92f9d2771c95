"""Overload: past its limits a bot sheds new invitations instead of starving everyone.

N + k simulator virtual users invite the bot at once; it is limited to N conversations.
N are served; the k others hear the busy message and are let go (``when_full: decline``),
or are left ringing for another instance of the bot (``when_full: ring``). The shed ones
never become conversations of the flow, and ``engine.shed`` counts them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import BOT, stage
from tests.guards import WAIT
from tests.runtime.flows_for_routing import desk
from ucwa_flow.runtime import Limits
from ucwa_flow.runtime import trace as t
from ucwa_flow.simulator import SimulatorUser, default_users
from ucwa_flow.simulator.control import VirtualUser
from ucwa_flow.store import ConversationQuery, open_store

SERVED, SHED = 4, 6
CALLERS = [SimulatorUser(f"sip:caller{i:02d}@contoso.com", f"Caller {i}") for i in range(10)]
BUSY = "Too many of you at once, sorry: try again in a minute."


async def _call_all(users: list[VirtualUser]) -> None:
    for vu in users:
        await vu.start_conversation(BOT, "hi")


@pytest.mark.parametrize("durable", [False, True], ids=["plain", "durable"])
async def test_past_the_limit_invitations_hear_the_busy_message_and_are_let_go(
    durable: bool, tmp_path: Path
) -> None:
    limits = Limits(max_conversations=SERVED, busy_message=BUSY)
    store = await open_store(str(tmp_path / "bot.sqlite3")) if durable else None
    users = [*default_users(), *CALLERS]
    async with stage(desk("helpdesk", "H"), users=users, limits=limits, store=store) as s:
        users = [s.sim.virtual_user(u.uri) for u in CALLERS]
        await _call_all(users)
        firsts = await asyncio.gather(*(vu.wait_for_message(WAIT) for vu in users))
        served = [vu for vu, first in zip(users, firsts, strict=True) if first.text == "H hello"]
        shed = [vu for vu, first in zip(users, firsts, strict=True) if first.text == BUSY]
        assert (len(served), len(shed)) == (SERVED, SHED), [m.text for m in firsts]
        for vu in shed:
            await vu.wait_for_state("ended", timeout=WAIT)
        for vu in served:  # the served ones carry on, answered
            assert (await vu.wait_for_message(WAIT)).text == "H in menu: hi"
            vu.send("more")
            assert (await vu.wait_for_message(WAIT)).text == "H in menu: more"
            assert vu.state() == "connected"
        await s.idle()
        engine = s.bot.engine
        assert engine.shed == SHED
        assert sum(engine.active().values()) == SERVED
        decided = [r.decision for r in s.of(t.InvitationDecided)]
        assert sorted(decided) == ["accept"] * SERVED + ["busy"] * SHED
        # once a served caller leaves, the next caller is served again
        served[0].hang_up()
        await s.until(lambda: sum(engine.active().values()) == SERVED - 1, "a caller to leave")
        again = shed[0]
        await again.start_conversation(BOT, "hi again")
        assert (await again.wait_for_message(WAIT)).text == "H hello"
        assert engine.shed == SHED
    if store is not None:
        records = await store.conversations(ConversationQuery())
        # the shed ones never were conversations: each is kept as an invitation turned away
        turned_away = [r for r in records if r.ended_reason == "busy"]
        assert [(r.status, r.state) for r in turned_away] == [("ended", "")] * SHED
        assert len(records) == SERVED + 1 + SHED
        await store.aclose()


async def test_with_when_full_ring_the_extra_invitations_are_left_ringing() -> None:
    limits = Limits(max_conversations=SERVED, when_full="ring")
    users = [*default_users(), *CALLERS]
    async with stage(desk("helpdesk", "H"), users=users, limits=limits) as s:
        vus = [s.sim.virtual_user(u.uri) for u in CALLERS]
        await _call_all(vus)
        engine = s.bot.engine
        await s.until(lambda: len(s.of(t.InvitationDecided)) == len(vus), "every decision")
        assert engine.shed == SHED
        served = [vu for vu in vus if vu.state() == "connected"]
        ringing = [vu for vu in vus if vu.state() == "connecting"]
        assert (len(served), len(ringing)) == (SERVED, SHED)
        assert all(vu.received == [] for vu in ringing)
        assert sum(engine.active().values()) == SERVED
        await s.clock.advance(31)  # nobody answered them: the server gives up on them
        for vu in ringing:
            await vu.wait_for_state("failed", timeout=WAIT)
        # nothing of the shed ones is kept, once the bot's own poll says they failed
        await s.until(lambda: len(engine.tracker) == SERVED, "the bot to forget the shed ones")

"""Operations the server did not perform are sent again; a half-done re-creation is finished.

Found by the soak test (tests/e2e/test_soak.py): a 503 on the bot's sendMessage lost the
answer, and an application re-created while makeMeAvailable failed stayed deaf.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar
from urllib.parse import urlsplit

import pytest

from tests.integration.harness import LENE, PASSWORD, TOSH, Party
from tests.integration.test_reliability import _chat
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator
from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa.errors import ServerUnreachable, UcwaHttpError

T = TypeVar("T")


async def _with_time(clock: ManualClock, operation: Awaitable[T]) -> T:
    """Run ``operation``, moving the clock on (its back-offs) until it is done."""
    task = asyncio.ensure_future(operation)
    for _ in range(100):
        if task.done():
            break
        await clock.advance(1)
    return await task


async def test_a_503_on_send_message_is_sent_again_and_said_once(
    tosh: Party, lene: Party, sim: Simulator, sim_clock: ManualClock
) -> None:
    tosh_send, _ = await _chat(tosh, lene)
    tosh.client.clock = sim_clock  # back-offs on the test's clock
    rule = sim.faults.inject(method="POST", path=r"/messaging/messages", status=503, times=2)
    await _with_time(sim_clock, tosh.client.send_message(tosh_send, "only once"))
    assert rule.hits == 2
    await lene.message("only once")
    assert lene.texts().count("only once") == 1


async def test_a_lost_answer_to_send_message_is_not_sent_again(
    tosh: Party, lene: Party, sim: Simulator, sim_clock: ManualClock
) -> None:
    tosh_send, lene_send = await _chat(tosh, lene)
    tosh.client.clock = sim_clock
    sim.faults.inject(method="POST", path=r"/messaging/messages", drop=True)
    with pytest.raises(ServerUnreachable):
        await tosh.client.send_message(tosh_send, "maybe")  # it was said: do not say it twice
    await lene.client.send_message(lene_send, "after")
    await tosh.message("after")
    await lene.message("maybe")
    assert lene.texts().count("maybe") == 1


async def test_retries_give_up_after_their_number(
    tosh: Party, sim: Simulator, sim_clock: ManualClock
) -> None:
    tosh.client.clock = sim_clock
    me = tosh.client.application.self_href
    rule = sim.faults.inject(
        method="GET", path=re.escape(urlsplit(me).path) + "$", status=500, times=None
    )
    with pytest.raises(UcwaHttpError) as caught:
        await _with_time(sim_clock, tosh.client.get(me))
    assert caught.value.status == 500
    assert rule.hits == 1 + tosh.client.retries
    sim.faults.clear()


async def test_a_get_whose_answer_was_lost_is_sent_again(
    tosh: Party, sim: Simulator, sim_clock: ManualClock
) -> None:
    tosh.client.clock = sim_clock
    me = tosh.client.application.self_href
    rule = sim.faults.inject(method="GET", path=re.escape(urlsplit(me).path) + "$", drop=True)
    assert "_links" in await _with_time(sim_clock, tosh.client.get(me))
    assert rule.hits == 1


@pytest.fixture
async def bare(base_url: str, sim_clock: ManualClock) -> AsyncIterator[UcwaClient]:
    """Tosh's client with no event channel (nothing else re-creates the application)."""
    client = UcwaClient(TOSH, PASSWORD, server_url=base_url, clock=sim_clock)
    await client.sign_in()
    await client.make_me_available()
    yield client
    await client.aclose()


async def test_a_re_creation_whose_make_me_available_failed_is_finished(
    bare: UcwaClient, sim: Simulator, sim_clock: ManualClock
) -> None:
    stale = bare.application
    sim.expire_application(TOSH)
    bare.retries = 0
    sim.faults.inject(method="POST", path=r"/makeMeAvailable$", status=503)
    with pytest.raises(UcwaHttpError):
        await bare.recreate_application(stale)  # created, but not made available
    live = [a for a in sim.applications if a.expired_at is None]
    assert len(live) == 1
    assert not live[0].available
    # the next caller that saw the old application fail (the keep-alive, the channel)
    await bare.recreate_application(stale)
    assert live[0].available
    assert [a for a in sim.applications if a.expired_at is None] == live
    other = sim.virtual_user(LENE)
    await other.start_conversation(TOSH, "can you hear me?")
    assert other.state() == "connecting"  # ringing at tosh: he can receive IMs again


async def test_an_operation_whose_token_grant_broke_is_sent_again(
    tosh: Party, lene: Party, sim: Simulator, sim_clock: ManualClock
) -> None:
    tosh_send, _ = await _chat(tosh, lene)
    tosh.client.clock = sim_clock
    sim.expire_token(TOSH)
    grant = sim.faults.inject(method="POST", path=r"/WebTicket/oauthtoken$", drop=True)
    # 401, the grant's answer is lost: the message itself was never sent, so it is sent again
    await _with_time(sim_clock, tosh.client.send_message(tosh_send, "after the token"))
    assert grant.hits == 1
    await lene.message("after the token")
    assert lene.texts().count("after the token") == 1


async def test_an_operation_whose_fresh_token_was_refused_is_sent_again(
    tosh: Party, lene: Party, sim: Simulator, sim_clock: ManualClock
) -> None:
    tosh_send, _ = await _chat(tosh, lene)
    tosh.client.clock = sim_clock
    grants = tosh.client.auth.grants
    sim.expire_token(TOSH)
    sim.refuse_fresh_token(TOSH)
    # 401, a grant, 401 again for the new token: nothing was said, so it is sent again (after
    # a back-off on the clock) with one more token
    await _with_time(sim_clock, tosh.client.send_message(tosh_send, "refused once"))
    assert tosh.client.auth.grants == grants + 2
    await lene.message("refused once")
    assert lene.texts().count("refused once") == 1

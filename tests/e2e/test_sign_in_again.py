"""A token refused right after its grant: the bot signs in again and goes on answering.

A real pool can refuse a token its own token service has just issued (a front end that does
not accept the service's keys yet, an account being changed). The bot used to end its event
channel for good on that, and so stopped hearing anyone; now the channel and every operation
sign in again after a back-off on the clock, with one line in the log each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from tests.e2e.harness import BOT, load, stage
from tests.e2e.pacer import Pacer

GREETING = 'Hi Lene Aaling! I repeat everything you write. Type "stop" to end.'


async def test_a_token_refused_right_after_its_grant_does_not_stop_the_bot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with stage(load("echo")) as s:
        lene = await s.person()
        await lene.say("one")
        assert await lene.hear(2) == [GREETING, "You said: one"]
        await s.idle()
        grants = s.bot.client.auth.grants
        s.sim.expire_token(BOT)
        s.sim.refuse_fresh_token(BOT)  # the token fetched after this 401 is refused once
        with caplog.at_level(logging.WARNING, logger="ucwa_flow.ucwa"):
            await lene.say("two")
            # the event releases the bot's poll; its next one and the echo meet the expired
            # token, get a new one, and that is refused: both wait a back-off on the clock
            pacer = Pacer(s)
            task = asyncio.create_task(pacer.run())
            try:
                await pacer.until(lambda: len(lene.caller.heard) > 2, "the echo of 'two'")
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assert await lene.hear() == ["You said: two"]
            await lene.say("three")  # the channel still reads: the bot hears and answers
            assert await lene.hear() == ["You said: three"]
        again = [r.getMessage() for r in caplog.records if "signing in again" in r.getMessage()]
        assert len(again) == 1, again
        assert again[0].startswith(f"{BOT}: event channel: http://127.0.0.1:")
        assert " refused a freshly issued token for toshm@contoso.com; " in again[0]
        assert s.bot.client.auth.grants == grants + 2  # the refused token and the next one
        assert s.sim.requests_in_progress == s.sim.requests_waiting  # only polls are held

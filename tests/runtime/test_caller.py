"""Caller: a person's real UCWA client, as ``ucwa-flow run`` and the test runner drive it.

A real bot runs a flow from flows/ on the simulator, reached in-process through
``httpx.ASGITransport``; every person is a :class:`Caller` with a client of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.guards import WAIT
from tests.runtime.conftest import BOT, PASSWORD, load
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Caller, CallerError, Heard
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users
from ucwa_flow.ucwa import UcwaClient

LENE = "sip:lenea@contoso.com"
MARCO = "sip:marco@contoso.com"


@dataclass
class World:
    clock: ManualClock
    transport: httpx.ASGITransport

    def caller(self, uri: str, **options: object) -> Caller:
        client = UcwaClient(
            uri, PASSWORD, server_url="http://sim.test", transport=self.transport, clock=self.clock
        )
        return Caller(client, BOT, clock=self.clock, **options)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def world() -> AsyncIterator[World]:
    """A fresh simulator on a manual clock, reached in-process."""
    clock = ManualClock()
    users = [*default_users(), SimulatorUser(MARCO, "Marco Rossi")]
    sim = Simulator(SimulatorConfig(users=users, seed=5), clock=clock)
    transport = httpx.ASGITransport(app=sim.app)
    yield World(clock, transport)
    sim.close()


@contextlib.asynccontextmanager
async def bot_running(w: World, flow: str, *people: Caller) -> AsyncIterator[Bot]:
    """Start ``people`` (first: an outbound flow invites them at once), then the bot."""
    client = UcwaClient(
        BOT, PASSWORD, server_url="http://sim.test", transport=w.transport, clock=w.clock
    )
    bot = Bot(load(flow), client, clock=w.clock, sink=lambda _: None)
    for person in people:
        await person.start()
    await bot.start()
    task = asyncio.create_task(bot.run())
    try:
        yield bot
    finally:
        await bot.aclose()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for person in people:
            await person.aclose()
            await person.client.aclose()
        await client.aclose()


async def heard(person: Caller, count: int) -> Heard:
    return await asyncio.wait_for(person.wait_heard(count), WAIT)


async def message(person: Caller, count: int) -> str:
    """The ``count``-th item heard, which must be a message."""
    item = await heard(person, count)
    assert item.text is not None, item
    return item.text


async def test_chat_starts_the_conversation_then_says_and_hang_up_ends_it() -> None:
    async with world() as w:
        lene = w.caller(LENE)
        async with bot_running(w, "echo", lene):
            with pytest.raises(CallerError, match="no conversation with the bot is connected"):
                await lene.say("too early")
            await lene.chat("hello there")
            assert await message(lene, 2) == "You said: hello there"
            assert lene.texts[0].startswith("Hi Lene Aaling!")
            await lene.chat("again")  # the chat exists: this line is said in it
            assert await message(lene, 3) == "You said: again"
            assert (lene.sent, lene.received) == (2, 3)
            await lene.hang_up()
            assert (await heard(lene, 4)) == Heard(ended="they hung up")
            with pytest.raises(CallerError, match=r"cannot send 'late': they hung up"):
                await lene.say("late")
            with pytest.raises(CallerError, match="has no conversation to hang up"):
                await lene.hang_up()


async def test_a_second_invite_is_refused_with_the_reason() -> None:
    async with world() as w:
        lene = w.caller(LENE)
        async with bot_running(w, "echo", lene):
            await lene.invite("hi")
            with pytest.raises(CallerError, match="is already in a conversation with the bot"):
                await lene.invite("hi again")
            with pytest.raises(CallerError, match="cannot accept: the bot has not invited"):
                await lene.accept()


async def test_without_auto_accept_the_invitation_waits_for_an_answer() -> None:
    async with world() as w:
        lene = w.caller(LENE, auto_accept=False)
        marco = w.caller(MARCO, auto_accept=False, keep_alive=60.0)
        async with bot_running(w, "outbound-survey", lene, marco):
            assert await lene.wait_invited(WAIT)
            assert "Could you rate our help?" in await message(lene, 1)
            assert lene.received == 0  # the invitation's text is not a conversation message
            with pytest.raises(CallerError, match="no conversation with the bot is connected"):
                await lene.say("5")
            await lene.accept()
            assert (await message(lene, 2)).startswith("On a scale from 1")
            await lene.say("5")  # connected now; the survey is a campaign: marco comes next
            assert await marco.wait_invited(WAIT)
            await marco.decline()
            assert (await heard(marco, 2)).ended == "the bot's invitation ended (declined)"
            with pytest.raises(CallerError, match="cannot decline: the bot has not invited"):
                await marco.decline()


async def test_auto_accept_takes_the_bots_invitation_at_once() -> None:
    async with world() as w:
        lene = w.caller(LENE)
        async with bot_running(w, "outbound-survey", lene):
            assert (await message(lene, 2)).startswith("On a scale from 1")
            with pytest.raises(CallerError, match="cannot accept: the bot has not invited"):
                await lene.accept()  # already answered
            await lene.chat("not now")  # invited: the line is said, not a new chat
            assert await message(lene, 3) == "No problem, thanks anyway!"
            assert (await heard(lene, 4)).ended == "the bot ended the conversation"

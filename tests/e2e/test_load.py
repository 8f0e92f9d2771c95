"""200 simultaneous callers on one bot: each gets exactly its own replies, in order.

Every caller is a real UCWA client (200 sign-ins and event channels over loopback), not a
simulator virtual user, so both ends of each conversation go through the client, the
decoder and the lifecycle tracker. Each caller sends its numbered lines back to back; the
bot must answer every one, in order, in the right conversation, once.
"""

from __future__ import annotations

import asyncio
import time

from tests.e2e.harness import Person, assert_released, load, stage
from ucwa_flow.runtime import trace as t
from ucwa_flow.simulator import SimulatorUser, default_users

CALLERS = 200
MESSAGES = 3  # per caller, the first one starts the conversation
USERS = [SimulatorUser(f"sip:caller{i:03d}@contoso.com", f"Caller {i:03d}") for i in range(CALLERS)]


async def test_200_simultaneous_callers_each_get_exactly_their_own_replies() -> None:
    started = time.perf_counter()
    async with stage(load("echo"), users=[*default_users(), *USERS]) as s:
        people = await asyncio.gather(*(s.person(user.uri) for user in USERS))
        signed_in = time.perf_counter()
        heard = await asyncio.gather(*(converse(p, i) for i, p in enumerate(people)))
        talked = time.perf_counter()
        for i, replies in enumerate(heard):
            name = f"Caller {i:03d}"
            assert replies == [
                f'Hi {name}! I repeat everything you write. Type "stop" to end.',
                *(f"You said: caller {i} line {n}" for n in range(MESSAGES)),
                "Bye!",
            ], name
        await s.until(lambda: len(s.bot.engine.instances) == 0, "every conversation to end")
        assert len(s.of(t.Ended)) == CALLERS
        assert len(s.of(t.MessageIn)) == CALLERS * (MESSAGES + 1)
        await assert_released(s)
    # what the 2-core machine spends where (printed with pytest -s)
    print(
        f"\n{CALLERS} callers: sign-in {signed_in - started:.1f} s, "
        f"chat {talked - signed_in:.1f} s, teardown {time.perf_counter() - talked:.1f} s"
    )


async def converse(person: Person, i: int) -> list[str]:
    """Send numbered lines back to back, then "bye"; return every reply heard."""
    for n in range(MESSAGES):
        await person.say(f"caller {i} line {n}")  # the first one starts the conversation
    await person.say("bye")
    replies = await person.hear(MESSAGES + 2)
    assert await person.hear_end() == "the bot ended the conversation"
    await person.silence()
    return replies

"""Every flow in flows/ driven end to end by a real UCWA caller through the simulator."""

from __future__ import annotations

from tests.e2e.harness import load, stage
from ucwa_flow.runtime import trace as t


async def test_echo_repeats_each_message_once_and_says_bye() -> None:
    async with stage(load("echo")) as s:
        lene = await s.person()
        await lene.say("hello there")
        assert await lene.hear(2) == [
            'Hi Lene Aaling! I repeat everything you write. Type "stop" to end.',
            "You said: hello there",
        ]
        await lene.say("second line")
        assert await lene.hear() == ["You said: second line"]
        await lene.say("bye")
        assert await lene.hear() == ["Bye!"]
        assert await lene.hear_end() == "the bot ended the conversation"
        await s.idle()
        assert s.said().count("You said: hello there") == 1
        assert [e.by for e in s.of(t.Ended)] == ["bot"]
        assert s.bot.engine.instances == {}

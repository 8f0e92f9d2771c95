"""Silence and no-match ladders on the manual clock, through a real caller."""

from __future__ import annotations

from tests.e2e.harness import assert_released, load, stage
from tests.e2e.test_helpdesk import HANDOFF, HELLO, MENU
from ucwa_flow.runtime import trace as t

NUDGE = 'Still there? Answer 1 to 4, or type "help".'
CLOSE = "I'll close this chat now. Message me again any time."


async def test_silence_nudges_then_stops_and_a_message_restarts_the_ladder() -> None:
    async with stage(load("helpdesk")) as s:
        lene = await s.person()
        await lene.say("hello")
        assert await lene.hear(2) == [HELLO, MENU]
        await s.clock.advance(119)
        await lene.silence()
        await s.clock.advance(1)
        assert await lene.hear() == [NUDGE]
        # a message restarts both steps from now
        await s.clock.advance(60)
        await lene.say("hi")
        assert await lene.hear() == ["Hello again! Just type a number from 1 to 4."]
        await s.clock.advance(119)
        await lene.silence()
        await s.clock.advance(1)
        assert await lene.hear() == [NUDGE]
        await s.clock.advance(179)
        await lene.silence()
        await s.clock.advance(1)
        assert await lene.hear() == [CLOSE]
        assert await lene.hear_end() == "the bot ended the conversation"
        await s.idle()
        fired = [(f.state, f.after, round(f.at)) for f in s.of(t.TimeoutFired)]
        assert fired == [("menu", 120.0, 120), ("menu", 120.0, 300), ("menu", 300.0, 480)]
        await assert_released(s)


async def test_the_no_match_ladder_first_second_and_third_miss() -> None:
    async with stage(load("helpdesk")) as s:
        lene = await s.person()
        await lene.say("hello")
        await lene.hear(2)
        await lene.say("banana")
        assert await lene.hear() == ["Sorry, I didn't get that. Please answer 1, 2, 3 or 4."]
        await lene.say("pear")
        assert await lene.hear() == [
            "Just the number, please. 1 password, 2 hardware, 3 something else, 4 agent."
        ]
        await lene.say("kiwi")
        assert await lene.hear(2) == ["Let me find you a person instead.", HANDOFF]
        # no agent is signed in: no answer when the invite's 2m have passed
        await s.clock.advance(120)
        assert await lene.hear(2) == [
            "No agent is free right now. Please call the service desk on extension 4357.",
            "Is there anything else I can do for you? (yes or no)",
        ]
        await s.idle()
        assert [(m.state, m.miss) for m in s.of(t.NoMatch)] == [
            ("menu", 1),
            ("menu", 2),
            ("menu", 3),
        ]
        assert s.states() == ["welcome", "menu", "handoff", "anything_else"]


async def test_the_miss_count_restarts_when_the_state_is_entered_again() -> None:
    async with stage(load("helpdesk")) as s:
        lene = await s.person()
        await lene.say("hello")
        await lene.hear(2)
        await lene.say("banana")
        await lene.say("pear")
        await lene.hear(2)
        await lene.say("main menu")  # the global `menu` command re-enters menu
        assert await lene.hear() == [MENU]
        await lene.say("kiwi")
        assert await lene.hear() == ["Sorry, I didn't get that. Please answer 1, 2, 3 or 4."]
        await s.idle()
        assert [m.miss for m in s.of(t.NoMatch)] == [1, 2, 1]


async def test_the_idle_timeout_ends_a_conversation_whatever_the_state() -> None:
    async with stage(load("echo")) as s:
        lene = await s.person()
        await lene.say("hi")
        await lene.hear(2)
        await s.clock.advance(599)
        await lene.silence()
        await s.clock.advance(1)  # echo: settings.idle_timeout 10m, and no state timeouts
        assert await lene.hear_end() == "the bot ended the conversation"
        await s.idle()
        assert [(f.state, f.after, f.location) for f in s.of(t.TimeoutFired)] == [
            ("echo", 600.0, None)
        ]
        await assert_released(s)

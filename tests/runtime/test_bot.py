"""Flows served by a real bot over UCWA, with virtual callers on the simulator."""

from __future__ import annotations

import asyncio

from tests.e2e.serving import until
from tests.guards import WAIT
from tests.runtime.conftest import BOT, load
from ucwa_flow.runtime import trace as t


async def test_echo_flow_greets_and_echoes_the_first_message_once(run_bot) -> None:
    async with run_bot(load("echo")) as run:
        lene = run.sim.virtual_user("sip:lenea@contoso.com")
        await lene.start_conversation(BOT, "hello there")
        greeting = await lene.wait_for_message(WAIT)
        assert greeting.text.startswith("Hi Lene Aaling!")
        echo = await lene.wait_for_message(WAIT)
        assert echo.text == "You said: hello there"
        lene.send("second line")
        assert (await lene.wait_for_message(WAIT)).text == "You said: second line"
        lene.send("bye")
        assert (await lene.wait_for_message(WAIT)).text == "Bye!"
        await lene.wait_for_state("ended", timeout=WAIT)
        await asyncio.sleep(0.05)
        # the invitation's first message was answered once, not twice
        assert run.said().count("You said: hello there") == 1
        ended = [r for r in run.traces if isinstance(r, t.Ended)]
        assert [e.by for e in ended] == ["bot"]


async def test_helpdesk_nudges_then_stops_on_a_silent_caller(run_bot) -> None:
    async with run_bot(load("helpdesk")) as run:
        lene = run.sim.virtual_user("sip:lenea@contoso.com")
        await lene.start_conversation(BOT, "hello")
        assert "helpdesk bot" in (await lene.wait_for_message(WAIT)).text
        menu = await lene.wait_for_message(WAIT)
        assert "1. Reset my password" in menu.text
        await run.clock.advance(119)
        await asyncio.sleep(0.1)
        assert run.said()[-1] == menu.text
        await run.clock.advance(1)
        nudge = await lene.wait_for_message(WAIT)
        assert nudge.text.startswith("Still there?")
        await run.clock.advance(180)
        bye = await lene.wait_for_message(WAIT)
        assert bye.text.startswith("I'll close this chat now")
        await lene.wait_for_state("ended", timeout=WAIT)
        assert run.states() == ["welcome", "menu"]


async def test_helpdesk_menu_choice_and_employee_id_capture(run_bot) -> None:
    async with run_bot(load("helpdesk")) as run:
        lene = run.sim.virtual_user("sip:lenea@contoso.com")
        await lene.start_conversation(BOT, "hello")
        await lene.wait_for_message(WAIT)
        await lene.wait_for_message(WAIT)
        lene.send("1")
        ask = await lene.wait_for_message(WAIT)
        assert "employee ID" in ask.text
        lene.send("it is e12")
        assert "doesn't look like" in (await lene.wait_for_message(WAIT)).text
        lene.send("sure, E123456")
        # bounded by WAIT, not by a second of polls (that a loaded machine can pass by)
        await until(lambda: "open_ticket" in run.states(), "the bot to open a ticket")
        instance = next(iter(run.bot.engine.instances.values()))
        assert instance.variables["employee_id"] == "E123456"
        assert instance.variables["category"] == "password"

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
        # forgotten once its own poll says the conversation ended (Lene may hear it first)
        await s.until(lambda: s.bot.engine.instances == {}, "the bot to forget the chat")


async def test_pizza_menu_goes_back_speaks_italian_and_knows_the_subject() -> None:
    async with stage(load("pizza-menu")) as s:
        lene = await s.person()
        await lene.caller.invite("buongiorno", subject="Pranzo")
        assert await lene.hear(2) == [
            'Ciao Lene Aaling! Riguardo a "Pranzo": 1 Pizze, 2 Bevande, 3 Orari',
            "Rispondi 1, 2 o 3.",
        ]
        await lene.say("1")
        await lene.say("1")
        assert await lene.hear(2) == [
            "1 Margherita, 2 Diavola. 0 per tornare indietro.",
            "Margherita: 1 piccola, 2 grande. 0 per tornare indietro.",
        ]
        await lene.say("0")
        assert await lene.hear() == ["1 Margherita, 2 Diavola. 0 per tornare indietro."]
        await lene.say("0")
        assert await lene.hear() == [
            'Ciao Lene Aaling! Riguardo a "Pranzo": 1 Pizze, 2 Bevande, 3 Orari'
        ]
        await lene.say("stop")
        assert await lene.hear() == ["Ordine annullato. Ciao!"]
        assert await lene.hear_end() == "the bot ended the conversation"

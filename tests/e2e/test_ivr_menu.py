"""The ivr-menu (HR) flow: nested menus, "back" and "main menu", HTML replies."""

from __future__ import annotations

import re

from tests.e2e.harness import Stage, load, stage
from ucwa_flow.runtime import trace as t
from ucwa_flow.ucwa.dataurl import html_to_text

MAIN = 'Contoso HR\n1 Benefits / 2 Payroll / 3 Time off\nType a number, or "help".'
BENEFITS = "Benefits: 1 Health insurance / 2 Retirement plan / 0 Back"
HEALTH = "Health insurance: 1 What is covered / 2 Check a claim / 0 Back"
TIME_OFF = "Time off: 1 Days left / 2 Request time off / 0 Back"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


async def test_nested_menus_back_and_main_menu() -> None:
    async with stage(load("ivr-menu")) as s:
        lene = await s.person()
        steps = [
            ("hi", ["Please answer 1, 2 or 3."]),  # the menu was shown when connected
            ("1", [BENEFITS]),
            ("1", [HEALTH]),
            ("2", ["Type your claim number, like C-12345."]),
            (
                "my claim is C-12345",
                ["Claim C-12345 is being processed; you will get an email within 5 working days."],
            ),
            ("back", [BENEFITS]),
            (
                "2",
                [
                    "The company adds 5% to your retirement savings. Details: "
                    "https://hr.contoso.com/retirement"
                ],
            ),
            ("0", [MAIN]),
            ("back", ["You are already at the main menu."]),
            ("time off", [TIME_OFF]),
            ("#", [MAIN]),
            ("3", [TIME_OFF]),
            ("main menu", [MAIN]),
            ("stop", ["Goodbye!"]),
        ]
        await lene.say(steps[0][0])
        heard = await lene.hear(2)
        for text, replies in steps[1:]:
            await lene.say(text)
            heard += await lene.hear(len(replies))
        assert await lene.hear_end() == "the bot ended the conversation"
        await s.idle()
        expected = [MAIN] + [reply for _, replies in steps for reply in replies]
        assert [r.text for r in s.of(t.MessageOut)] == expected
        assert s.states() == [
            "main",
            "benefits",
            "health",
            "benefits",
            "main",
            "time_off",
            "main",
            "time_off",
            "main",
        ]
        _check_heard_matches_sent(s, heard)


def _check_heard_matches_sent(s: Stage, heard: list[str]) -> None:
    """The caller got every reply, as HTML when the flow gave HTML (the client takes it)."""
    sent = s.of(t.MessageOut)
    assert len(heard) == len(sent)
    for got, out in zip(heard, sent, strict=True):
        if out.html is None:
            assert got == out.text
        else:
            # The simulator renders the plain part itself and drops <br> line breaks
            # (resources.html_to_text), so compare the words, not the layout.
            assert _squash(got) == _squash(html_to_text(out.html))
    assert sent[0].html is not None
    assert sent[0].html.startswith("<b>Contoso HR</b><br>")


async def test_help_and_the_main_menu_no_match_ladder_repeats_its_last_rung() -> None:
    async with stage(load("ivr-menu")) as s:
        lene = await s.person()
        await lene.say("help")
        assert (await lene.hear(2))[1] == (
            'Answer with a number. "0" or "back" goes up one level, "#" or "main menu" to the top.'
        )
        for expected in [
            "Please answer 1, 2 or 3.",
            '1 Benefits, 2 Payroll, 3 Time off. Or type "stop".',
            '1 Benefits, 2 Payroll, 3 Time off. Or type "stop".',
        ]:
            await lene.say("what?")
            assert await lene.hear() == [expected]
        await s.idle()
        assert [m.miss for m in s.of(t.NoMatch)] == [1, 2, 3]

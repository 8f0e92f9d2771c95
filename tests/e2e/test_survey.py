"""The outbound-survey flow: a campaign; the bot invites people one after another; scores,
comments, decline, no answer, and the campaign's report to a real webhook server."""

from __future__ import annotations

import re

from tests.e2e.harness import LENE, Hooks, Stage, load, stage, webhook_server
from ucwa_flow.flow import Flow
from ucwa_flow.runtime import trace as t

MARCO = "sip:marco@contoso.com"
INVITE = "Hi! IT closed a ticket for you last week. Could you rate our help? It takes a minute."
ASK = "On a scale from 1 (poor) to 5 (excellent), how happy are you with the help you got?"
THANKS = "Thank you for your feedback!"


def survey(hooks: Hooks) -> Flow:
    return load(
        "outbound-survey",
        survey_url=f"{hooks.url}/survey",
        report_url=f"{hooks.url}/survey/report",
    )


async def test_a_low_score_asks_for_a_comment_and_files_both_marco_declines() -> None:
    with webhook_server() as hooks:
        async with stage(survey(hooks), before_bot=[LENE]) as s:
            lene = s.people[0]
            marco = await s.agent(MARCO)  # signed in after the bot started: not invited
            assert marco.invitations.empty()
            assert await lene.caller.wait_invited(10.0)
            assert await lene.hear(2) == [INVITE, ASK]
            await lene.say("six")
            assert await lene.hear() == ["Please answer with a number from 1 to 5."]
            await lene.say("2 / 5")
            assert await lene.hear() == ["Sorry to hear that. What should we have done better?"]
            await lene.say("answer faster, please")
            assert await lene.hear() == [THANKS]
            assert await lene.hear_end() == "the bot ended the conversation"
            assert hooks.received == [
                (
                    "POST",
                    "/survey",
                    {"respondent": LENE, "score": 2, "comment": "answer faster, please"},
                )
            ]
            await s.idle()
            assert s.states() == ["ask_score", "ask_comment", "save"]


async def test_a_high_score_is_filed_at_once_then_marco_declines_and_the_run_reports() -> None:
    with webhook_server() as hooks:
        async with stage(survey(hooks), before_bot=[LENE, "agent:" + MARCO]) as s:
            lene = s.people[0]
            marco = s.agents[0]
            assert await lene.hear(2) == [INVITE, ASK]
            assert marco.invitations.empty()  # one at a time: Marco once Lene is done
            await lene.say("5")
            assert await lene.hear() == [THANKS]
            assert await lene.hear_end() == "the bot ended the conversation"
            offer = await marco.invited()
            assert (offer.from_uri, offer.subject, offer.text) == (
                "sip:toshm@contoso.com",
                "Two-minute IT survey",
                INVITE,
            )
            assert offer.decline_href is not None
            await marco.client.decline(offer.decline_href)
            await s.until(lambda: invites(s), "marco's decline")
            logs = [a.detail for a in s.of(t.ActionDone) if a.action == "log"]
            assert logs == [f"survey declined by {MARCO}"]
            assert invites(s) == [("outbound:" + MARCO, "declined")]
            await s.until(lambda: len(hooks.received) == 2, "the campaign report")
            (_, path, answer), (_, report_path, report) = hooks.received
            assert (path, answer["score"]) == ("/survey", 5)
            assert report_path == "/survey/report"
            assert isinstance(report.pop("campaign"), str)
            assert report == {
                "answers": 1,
                "average": 5.0,
                "low": [],
                "people": [
                    {"uri": LENE, "outcome": "accepted", "state": "save", "ended_by": "bot"},
                    {"uri": MARCO, "outcome": "declined", "state": None, "ended_by": None},
                ],
            }


async def test_people_who_never_answer_are_logged_as_no_answer_one_after_the_other() -> None:
    with webhook_server() as hooks:
        async with stage(survey(hooks), before_bot=["agent:" + MARCO]) as s:
            marco = s.agents[0]
            # lene is not signed in: not an answer yet (the bot invites her again and again)
            invitations = s.bot.engine.invitations
            await s.until(lambda: invitations.offline == [LENE], "lene's refusal")
            for _ in range(29):  # to 290 s, ten seconds at a time
                await s.clock.advance(10)  # invited again, and refused again on the bot's poll:
                # before the clock moves on, or the flow's 5m would withdraw an invitation the
                # server failed already (a 404, a FlowError)
                await s.until(lambda: invitations.offline == [LENE], "lene's refusal again")
            assert invites(s) == []
            assert marco.invitations.empty()  # one at a time: Marco once Lene is done
            await s.clock.advance(10)  # lene's invitation times out with the flow's 5m
            await s.until(lambda: invites(s), "lene's outcome")
            assert invites(s) == [("outbound:" + LENE, "no_answer")]
            await marco.invited()
            await s.clock.advance(29)
            await s.idle()
            assert len(invites(s)) == 1
            await s.clock.advance(1)  # the simulator gives up on marco after 30 s
            await s.until(lambda: len(invites(s)) == 2, "marco's outcome")
            assert invites(s)[1] == ("outbound:" + MARCO, "no_answer")
            logs = [a.detail for a in s.of(t.ActionDone) if a.action == "log"]
            assert logs == [f"no answer from {LENE}", f"no answer from {MARCO}"]
            await s.until(lambda: hooks.received, "the campaign report")
            ((_, path, report),) = hooks.received
            assert path == "/survey/report"
            assert (report["answers"], report["average"]) == (0, None)
            assert [p["outcome"] for p in report["people"]] == ["no_answer", "no_answer"]
            assert s.of(t.FlowError) == []
            assert s.bot.engine.instances == {}


def invites(s: Stage) -> list[tuple[str, str]]:
    """The outbound invitations' outcomes: (``outbound:<uri>``, branch); the instance's
    name holds the run's id too (``outbound:<run>:<uri>``), left out here."""
    return [
        (re.sub(r"^outbound:[0-9a-f]{12}:", "outbound:", o.conversation), o.branch)
        for o in s.of(t.OutcomeReceived)
        if o.action == "invite"
    ]

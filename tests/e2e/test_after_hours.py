"""The after-hours flow: its time-of-day invitation policy on a manual clock.

Europe/Paris is UTC+1 in January, so 09:00 UTC on Monday 2026-01-05 is 10:00 in Paris.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.e2e.harness import Hooks, assert_released, load, stage, webhook_server
from ucwa_flow.flow import Flow
from ucwa_flow.runtime import trace as t

MONDAY_10H_PARIS = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MONDAY_20H_PARIS = datetime(2026, 1, 5, 19, 0, tzinfo=UTC)
TUESDAY_07H30_PARIS = datetime(2026, 1, 6, 6, 30, tzinfo=UTC)
SATURDAY_11H_PARIS = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
DESK = "sip:service-desk@contoso.com"
EVENING = "Hi Lene Aaling, the service desk is open Monday to Friday, 8:00 to 18:00 (Paris time)."
ASK = "What should we call you back about?"


def after_hours(hooks: Hooks) -> Flow:
    return load("after-hours", callback_url=f"{hooks.url}/callbacks")


async def test_office_hours_accept_and_put_the_caller_through_to_the_agent() -> None:
    with webhook_server() as hooks:
        async with stage(after_hours(hooks), start=MONDAY_10H_PARIS) as s:
            desk = await s.agent(DESK)
            lene = await s.person()
            await lene.say("hi, my VPN is down")
            assert await lene.hear(2) == [
                "Hi Lene Aaling, the service desk is open. I'm asking the on-duty agent to join.",
                "Still waiting for the agent, thanks for your patience.",
            ]
            offer = await desk.invited()
            assert offer.subject == "Chat request from Lene Aaling"
            assert offer.text == (
                "Lene Aaling (sip:lenea@contoso.com) would like to chat with the service desk."
            )
            assert offer.accept_href is not None
            await desk.client.accept(offer.accept_href)
            assert await lene.hear() == ["The agent will contact you in a new chat in a moment."]
            assert await lene.hear_end() == "the bot ended the conversation"
            await s.idle()
            assert [d.decision for d in s.of(t.InvitationDecided)] == ["accept"]
            assert s.states() == ["office_hours"]
            assert hooks.received == []


async def test_evening_accepts_into_evening_and_files_a_call_back_request() -> None:
    with webhook_server() as hooks:
        async with stage(after_hours(hooks), start=MONDAY_20H_PARIS) as s:
            lene = await s.person()
            await lene.say("hello?")
            # the first message is the evening state's catch-all: straight to take_message
            assert await lene.hear(2) == [EVENING, ASK]
            await lene.say("ok")
            assert await lene.hear() == ["Please type a short message (a few words)."]
            await lene.say("please call me about my VPN")
            assert await lene.hear() == ["Thanks, we'll call you back during office hours."]
            assert await lene.hear_end() == "the bot ended the conversation"
            assert hooks.received == [
                (
                    "POST",
                    "/callbacks",
                    {"caller": "sip:lenea@contoso.com", "note": "please call me about my VPN"},
                )
            ]
            await s.idle()
            assert s.states() == ["evening", "take_message"]


async def test_early_morning_is_evening_too_and_a_silent_caller_is_nudged_then_stopped() -> None:
    # 07:30 in Paris falls in "18:00-08:00", the window that wraps past midnight
    with webhook_server() as hooks:
        async with stage(after_hours(hooks), start=TUESDAY_07H30_PARIS) as s:
            lene = await s.person()
            await lene.say("x")
            assert await lene.hear(2) == [EVENING, ASK]
            # take_message: one timeout step at 3 minutes
            await s.clock.advance(179)
            await lene.silence()
            await s.clock.advance(1)
            assert await lene.hear() == ["Goodbye! Call extension 4357 during office hours."]
            assert await lene.hear_end() == "the bot ended the conversation"
            await s.idle()
            fired = [(f.state, f.after) for f in s.of(t.TimeoutFired)]
            assert fired == [("take_message", 180.0)]
            assert hooks.received == []


async def test_the_weekend_rule_declines_with_its_message() -> None:
    with webhook_server() as hooks:
        async with stage(after_hours(hooks), start=SATURDAY_11H_PARIS) as s:
            lene = await s.person()
            await lene.say("anyone there?")
            assert await lene.hear() == [
                "The service desk is closed at weekends. We're back Monday at 8:00 (Paris time)."
            ]
            assert await lene.hear_end() == "the bot ended the conversation"
            await s.until(lambda: len(s.bot.engine.tracker) == 0, "the bot to forget the chat")
            assert [d.decision for d in s.of(t.InvitationDecided)] == ["decline"]
            assert s.of(t.StateEntered) == []
            await assert_released(s)


async def test_outsiders_are_declined_with_the_default_message_even_in_office_hours() -> None:
    with webhook_server() as hooks:
        async with stage(after_hours(hooks), start=MONDAY_10H_PARIS) as s:
            guest = await s.person("sip:guest@fabrikam.com")
            await guest.say("hello")
            assert await guest.hear() == ["Sorry, this service is only for Contoso staff."]
            await guest.hear_end()
            await s.idle()
            decided = s.of(t.InvitationDecided)
            assert [(d.caller, d.decision) for d in decided] == [
                ("sip:guest@fabrikam.com", "decline")
            ]

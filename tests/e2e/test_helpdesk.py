"""The helpdesk flow end to end: menu, employee-id capture, ticket webhook, handoff."""

from __future__ import annotations

import pytest

from tests.e2e.harness import (
    LENE,
    Person,
    Stage,
    assert_released,
    load,
    stage,
    webhook_server,
)
from ucwa_flow.runtime import trace as t
from ucwa_flow.ucwa.errors import UcwaHttpError

MENU = (
    "What can I help you with?\n"
    "1. Reset my password\n"
    "2. Broken hardware (laptop, printer, screen ...)\n"
    "3. Something else\n"
    "4. Talk to an agent"
)
HELLO = "Hi Lene Aaling, I'm the Contoso IT helpdesk bot."
ASK_ID = "What is your employee ID? It is an E followed by 6 digits, like E123456."
NOT_AN_ID = "That doesn't look like an employee ID. It is an E followed by 6 digits, like E123456."
HANDOFF = "I'm asking an agent to join you, this can take a minute..."
AGENT = "sip:helpdesk-agents@contoso.com"
OFFER = (
    "Lene Aaling (sip:lenea@contoso.com) needs help with: {}. "
    "Type /done to give them back to the bot."
)
CONNECTED = (
    "Helpdesk Agents from the service desk is with you now. Everything you write goes to them."
)
NO_AGENT = "No agent is free right now. Please call the service desk on extension 4357."


async def test_password_reset_opens_a_ticket_through_the_webhook() -> None:
    with webhook_server() as hooks:
        async with stage(load("helpdesk", ticket_url=f"{hooks.url}/tickets")) as s:
            lene = await s.person()
            await lene.say("hello")
            assert await lene.hear(2) == [HELLO, MENU]
            await lene.say("1")
            assert await lene.hear() == [ASK_ID]
            await lene.say("it is e12")
            assert await lene.hear() == [NOT_AN_ID]
            await lene.say("sure, E123456 is mine")
            assert await lene.hear(2) == [
                "Ticket INC0042 is open. IT will get back to you within the working day.",
                "Is there anything else I can do for you? (yes or no)",
            ]
            assert hooks.received == [
                (
                    "POST",
                    "/tickets",
                    {
                        "caller": LENE,
                        "employee_id": "E123456",
                        "category": "password",
                        "description": "Password reset",
                    },
                )
            ]
            await lene.say("no thanks")
            assert await lene.hear() == ["You're welcome. Have a good day!"]
            assert await lene.hear_end() == "the bot ended the conversation"
            await s.idle()
            assert s.states() == [
                "welcome",
                "menu",
                "ask_employee_id",
                "open_ticket",
                "anything_else",
            ]
            captured = [m.captures for m in s.of(t.HandlerMatched) if m.kind == "regex"]
            assert captured == [{"employee_id": "E123456"}]
            await assert_released(s)


async def test_a_failing_ticket_system_hands_over_to_an_agent_who_accepts() -> None:
    with webhook_server() as hooks:
        hooks.status, hooks.reply = 503, {"error": "maintenance"}
        async with stage(load("helpdesk", ticket_url=f"{hooks.url}/tickets")) as s:
            agent = await s.person(AGENT)  # accepts the bot's invitation at once
            lene = await s.person()
            await lene.say("hello")
            await lene.hear(2)
            await lene.say("2")
            assert await lene.hear() == [
                'In one sentence, what is the problem? (for example "the printer on floor 3 jams")'
            ]
            await lene.say("my screen flickers all day")
            assert await lene.hear() == [ASK_ID]
            await lene.say("E654321")
            assert await lene.hear(2) == [
                "Sorry, the ticket system is not answering. Let me find you a person.",
                HANDOFF,
            ]
            # the agent is offered the handoff, with the caller and the problem
            assert await agent.hear() == [OFFER.format("my screen flickers all day")]
            assert await lene.hear() == [CONNECTED]
            # the bot relays both ways, each side seeing who wrote
            await lene.say("it flickers when I move the lid")
            assert await agent.hear() == ["Lene Aaling: it flickers when I move the lid"]
            await agent.say("Then it is the cable; I'll send a technician.")
            assert await lene.hear() == [
                "Helpdesk Agents: Then it is the cable; I'll send a technician."
            ]
            # the agent gives Lene back to the bot, which ends the agent's conversation
            await agent.say("/done")
            assert await agent.hear() == ["Lene Aaling is back with the bot."]
            assert await agent.hear_end() == "the bot ended the conversation"
            assert await lene.hear() == ["Is there anything else I can do for you? (yes or no)"]
            await lene.say("no")
            assert await lene.hear() == ["You're welcome. Have a good day!"]
            assert await lene.hear_end() == "the bot ended the conversation"
            assert [body["description"] for _, _, body in hooks.received] == [
                "my screen flickers all day"
            ]
            await s.idle()
            logs = [a.detail for a in s.of(t.ActionDone) if a.action == "log"]
            assert logs == ["ticket system failed for E654321"]
            errors = [e.message for e in s.of(t.FlowError)]
            assert errors == [f"POST {hooks.url}/tickets answered 503"]
            outcomes = [(o.action, o.branch) for o in s.of(t.OutcomeReceived)]
            assert outcomes == [
                ("webhook", "failure"),
                ("handoff", "connected"),
                ("handoff", "done"),
            ]
            bridge = [(b.event, b.by) for b in s.of(t.BridgeEvent)]
            assert bridge == [
                ("ringing", None),
                ("connected", None),
                ("relay", "caller"),
                ("relay", "agent"),
                ("done", "agent"),
            ]
            await assert_released(s)


async def reach_handoff(s: Stage) -> Person:
    """Lene asks for an agent straight from the menu (choice 4)."""
    lene = await s.person()
    await lene.say("hello")
    assert await lene.hear(2) == [HELLO, MENU]
    await lene.say("4")
    assert await lene.hear() == [HANDOFF]
    return lene


async def test_an_agent_who_declines_sends_the_caller_to_anything_else() -> None:
    async with stage(load("helpdesk")) as s:
        agents = await s.agent(AGENT)
        lene = await reach_handoff(s)
        offer = await agents.invited()
        assert offer.text == OFFER.format("an unspecified problem")
        assert offer.decline_href is not None
        await agents.client.decline(offer.decline_href)
        assert await lene.hear(2) == [
            NO_AGENT,
            "Is there anything else I can do for you? (yes or no)",
        ]
        await lene.say("yes")
        assert await lene.hear() == [MENU]
        await s.idle()
        assert [(o.action, o.branch) for o in s.of(t.OutcomeReceived)] == [("handoff", "no_answer")]
        assert s.states()[-2:] == ["anything_else", "menu"]


async def test_an_agent_who_never_answers_is_no_answer_after_the_server_gives_up() -> None:
    async with stage(load("helpdesk")) as s:
        agents = await s.agent(AGENT)
        lene = await reach_handoff(s)
        await agents.invited()
        await s.clock.advance(29)
        await lene.silence()
        # the simulator fails an unanswered invitation after 30 s, before the flow's 2m
        await s.clock.advance(1)
        assert await lene.hear(2) == [
            NO_AGENT,
            "Is there anything else I can do for you? (yes or no)",
        ]
        await s.idle()
        assert [(o.action, o.branch) for o in s.of(t.OutcomeReceived)] == [("handoff", "no_answer")]
        assert s.clock.monotonic() == 30


async def test_the_flows_invite_timeout_applies_when_it_is_shorter_than_the_servers() -> None:
    async with stage(load("helpdesk"), invitation_timeout=600.0) as s:
        agents = await s.agent(AGENT)
        lene = await reach_handoff(s)
        await agents.invited()
        await s.clock.advance(119)
        await lene.silence()
        await s.clock.advance(1)
        assert await lene.hear(2) == [
            NO_AGENT,
            "Is there anything else I can do for you? (yes or no)",
        ]
        await s.idle()
        # the bot withdrew its invitation: the agent's side of it is over
        assert [(o.action, o.branch) for o in s.of(t.OutcomeReceived)] == [("handoff", "no_answer")]


async def test_a_caller_who_hangs_up_while_waiting_runs_ended_and_is_released() -> None:
    async with stage(load("helpdesk")) as s:
        agents = await s.agent(AGENT)
        lene = await reach_handoff(s)
        await agents.invited()
        await lene.caller.hang_up()
        await s.until(lambda: s.of(t.Ended), "the end of the conversation")
        assert [(e.by, e.state) for e in s.of(t.Ended)] == [("caller", "handoff")]
        logs = [a.detail for a in s.of(t.ActionDone) if a.action == "log"]
        assert logs == ["caller left while waiting for or talking with an agent"]
        # the pending invite runs out on the clock without touching the gone conversation
        await s.clock.advance(120)
        await s.idle()
        assert s.of(t.OutcomeReceived) == []
        await assert_released(s)


async def test_a_handoff_still_ringing_is_withdrawn_when_the_caller_leaves() -> None:
    async with stage(load("helpdesk")) as s:
        agents = await s.agent(AGENT)
        lene = await reach_handoff(s)
        offer = await agents.invited()
        await lene.caller.hang_up()
        await s.until(lambda: s.of(t.Ended), "the end of lene's conversation")
        # the agent's invitation is cancelled: it stops ringing and can no longer be taken
        await s.until(lambda: agents.ended, "the withdrawal of the agent's invitation")
        assert agents.ended == [offer.conversation]
        assert offer.accept_href is not None
        with pytest.raises(UcwaHttpError):
            await agents.client.accept(offer.accept_href)
        assert s.of(t.OutcomeReceived) == []
        await assert_released(s)

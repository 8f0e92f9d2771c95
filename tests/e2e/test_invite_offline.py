"""An invitee who is not signed in: no answer only when the invite's timeout passes.

The helpdesk's handoff invites its agent with the invite action's machinery, so what holds
for one holds for the other.

The simulated server fails an invitation to someone with no signed-in endpoint at once
(``RemoteFailure/TemporarilyUnavailable``, SIP's 480); the bot invites again every
``OFFLINE_RETRY`` seconds until the flow's ``timeout``.
"""

from __future__ import annotations

from tests.e2e.harness import Stage, load, stage
from tests.e2e.test_helpdesk import AGENT, CONNECTED, NO_AGENT, reach_handoff
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.invites import OFFLINE_RETRY

ANYTHING_ELSE = "Is there anything else I can do for you? (yes or no)"


def outcomes(s: Stage) -> list[tuple[str, float]]:
    return [(o.branch, o.at) for o in s.of(t.OutcomeReceived) if o.action == "handoff"]


async def test_an_agent_who_is_not_signed_in_is_no_answer_when_the_timeout_passes() -> None:
    async with stage(load("helpdesk")) as s:
        lene = await reach_handoff(s)
        invitations = s.bot.engine.invitations
        await s.until(lambda: invitations.offline == [AGENT], "the refusal")
        for _ in range(11):  # 110 s of the invite's 2m, the bot inviting again and again
            await s.clock.advance(OFFLINE_RETRY)
            # refused again, on the bot's own poll: before the clock moves on, or the 2m would
            # withdraw an invitation the server failed already (a 404, a FlowError)
            await s.until(lambda: invitations.offline == [AGENT], "the refusal again")
        await lene.silence()
        assert outcomes(s) == []
        await s.clock.advance(10)
        assert await lene.hear(2) == [NO_AGENT, ANYTHING_ELSE]
        await s.idle()
        assert outcomes(s) == [("no_answer", 120.0)]
        assert s.of(t.FlowError) == []


async def test_an_agent_who_signs_in_before_the_timeout_gets_the_invitation() -> None:
    async with stage(load("helpdesk")) as s:
        lene = await reach_handoff(s)
        invitations = s.bot.engine.invitations
        await s.until(lambda: invitations.offline == [AGENT], "the server's first refusal")
        agents = await s.agent(AGENT)  # the agent signs in while the bot waits
        await s.clock.advance(OFFLINE_RETRY)  # the bot invites again: this time it rings
        offer = await agents.invited()
        assert offer.accept_href is not None
        assert offer.text is not None
        assert offer.text.startswith("Lene Aaling (sip:lenea@contoso.com) needs help")
        await agents.client.accept(offer.accept_href)
        assert await lene.hear() == [CONNECTED]
        await s.idle()
        assert [branch for branch, _ in outcomes(s)] == ["connected"]
        assert agents.invitations.empty()  # one invitation at a time


async def test_an_unknown_address_is_no_answer_at_once_and_reported() -> None:
    flow = load("helpdesk", agent_uri="sip:nobody@contoso.com")
    async with stage(flow) as s:
        lene = await reach_handoff(s)
        assert await lene.hear(2) == [NO_AGENT, ANYTHING_ELSE]
        await s.idle()
        assert outcomes(s) == [("no_answer", 0.0)]
        (error,) = s.of(t.FlowError)
        assert error.message == (
            "inviting sip:nobody@contoso.com failed: RemoteFailure/DestinationNotFound "
            "The person you are trying to reach was not found."
        )
        assert error.conversation == lene_href(s)


def lene_href(s: Stage) -> str:
    (ended,) = [r for r in s.of(t.StateEntered) if r.state == "handoff"]
    return ended.conversation

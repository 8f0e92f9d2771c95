"""Several flows on one bot account: routing, each flow's own policy, outbound starts.

The bot runs a :class:`~ucwa_flow.runtime.Catalog` on the simulator over loopback; callers
are real UCWA clients (:class:`Person`) or, to give an invitation a subject, simulator
virtual users. Every reply starts with its flow's tag, so what a caller hears says which
flow answered.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import BOT, EXTRA_USERS, LENE, load, stage
from tests.guards import WAIT
from tests.runtime.flows_for_routing import desk
from ucwa_flow.errors import OperationalError
from ucwa_flow.runtime import Catalog, Limits, Route
from ucwa_flow.runtime import trace as t
from ucwa_flow.simulator import SimulatorUser, default_users

ANN = "sip:ann@contoso.com"
BOSS = "sip:boss@exec.contoso.com"
USERS = [
    *default_users(),
    *EXTRA_USERS,
    SimulatorUser(ANN, "Ann Example"),
    SimulatorUser(BOSS, "The Boss"),
]

HR_POLICY = """
invitation:
  rules:
    - from: "sip:lenea@*"
      action: decline
      message: "R: HR does not take chats from {{ caller.uri }}"
  default: accept
"""


def catalog() -> Catalog:
    return Catalog(
        {
            "helpdesk": desk("helpdesk", "H"),
            "vip": desk("vip", "V"),
            "hr": desk("hr", "R", policy=HR_POLICY),
            "sales": desk("sales", "S"),
        },
        [
            Route("vip", caller=r"@exec\.contoso\.com$"),
            Route("hr", subject="payroll"),
            Route("sales", first_message=r"\bprice\b"),
        ],
        default="helpdesk",
    )


async def test_each_invitation_goes_to_the_flow_its_route_names() -> None:
    async with stage(catalog(), users=USERS) as s:
        boss = await s.person(BOSS)
        await boss.say("hello")  # by caller
        assert await boss.hear(2) == ["V hello", "V in menu: hello"]
        ann = await s.person(ANN)
        await ann.say("what is the price of a laptop?")  # by first message
        assert await ann.hear(2) == ["S hello", "S in menu: what is the price of a laptop?"]
        lene = await s.person(LENE)
        await lene.say("my printer")  # no route: the default flow
        assert await lene.hear(2) == ["H hello", "H in menu: my printer"]
        await ann.say("next")  # the conversation stays with its flow
        assert await ann.hear() == ["S in second"]

        adriana = s.sim.virtual_user("sip:adrianag@contoso.com")
        await adriana.start_conversation(BOT, "hi", subject="Payroll question")  # by subject
        assert (await adriana.wait_for_message(WAIT)).text == "R hello"
        assert (await adriana.wait_for_message(WAIT)).text == "R in menu: hi"
        await s.idle()
        flows = {i.caller_uri: i.flow_name for i in s.bot.engine.instances.values()}
        assert flows == {
            BOSS: "vip",
            ANN: "sales",
            LENE: "helpdesk",
            "sip:adrianag@contoso.com": "hr",
        }
        active = s.bot.engine.active()
        assert active == {
            ("vip", "menu"): 1,
            ("sales", "second"): 1,
            ("helpdesk", "menu"): 1,
            ("hr", "menu"): 1,
        }


async def test_each_flow_applies_its_own_invitation_policy_after_routing() -> None:
    async with stage(catalog(), users=USERS) as s:
        lene = s.sim.virtual_user(LENE)
        await lene.start_conversation(BOT, "hi", subject="payroll")  # hr declines Lene...
        declined = await lene.wait_for_message(WAIT)
        assert declined.text == "R: HR does not take chats from sip:lenea@contoso.com"
        await lene.wait_for_state("ended", timeout=WAIT)
        person = await s.person(LENE)
        await person.say("hi")  # ...the help desk takes her
        assert await person.hear(2) == ["H hello", "H in menu: hi"]
        decided = [(r.caller, r.decision) for r in s.of(t.InvitationDecided)]
        assert decided == [(LENE, "decline"), (LENE, "accept")]
        await s.idle()
        assert s.bot.engine.active() == {("helpdesk", "menu"): 1}


async def test_an_outbound_conversation_is_started_with_any_flow_of_the_catalog() -> None:
    flows = Catalog({"helpdesk": desk("helpdesk", "H"), "survey": load("outbound-survey")})
    async with stage(flows, users=USERS) as s:
        assert s.sim.virtual_user(LENE).received == []  # a catalog invites nobody at start
        lene = await s.person(LENE)
        s.bot.engine.start_outbound("survey", LENE)
        assert await lene.hear(2) == [
            "Hi! IT closed a ticket for you last week. Could you rate our help? It takes a minute.",
            "On a scale from 1 (poor) to 5 (excellent), how happy are you with the help you got?",
        ]
        await lene.say("stop")
        assert await lene.hear() == ["No problem, thanks anyway!"]
        assert await lene.hear_end() == "the bot ended the conversation"
        with pytest.raises(KeyError, match="no flow named 'nps'"):
            s.bot.engine.start_outbound("nps", LENE)
        with pytest.raises(ValueError, match="helpdesk has no outbound section"):
            s.bot.engine.start_outbound("helpdesk", LENE)


async def test_the_limits_bind_outbound_starts_too() -> None:
    flows = Catalog({"helpdesk": desk("helpdesk", "H"), "survey": load("outbound-survey")})
    async with stage(flows, users=USERS, limits=Limits(max_conversations=1)) as s:
        lene = await s.person(LENE)
        await lene.say("hi")  # the one conversation the account may have
        assert await lene.hear(2) == ["H hello", "H in menu: hi"]
        with pytest.raises(OperationalError, match="at its conversation limits"):
            s.bot.engine.start_outbound("survey", LENE)

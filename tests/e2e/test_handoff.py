"""Handoffs end to end: agents rung first-to-accept or round robin, the bridge relaying
both ways, and a durable bot restarted with a bridge (or a search) under way."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from tests.bot_stores import BACKENDS, bot_store
from tests.e2e.harness import BOT, Agent, Person, Stage, pass_markers, stage
from tests.e2e.shown import assert_shown_in_order
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.lifecycle import InvitationReceived
from ucwa_flow.runtime import trace as t
from ucwa_flow.store import ConversationQuery, Store
from ucwa_flow.ucwa.errors import UcwaHttpError

MARCO = "sip:marco@contoso.com"
DESK = "sip:service-desk@contoso.com"
ADRIANA = "sip:adrianag@contoso.com"
QUEUE = "sip:helpdesk-agents@contoso.com"

FLOW = """\
version: 1
name: desk
start: menu
settings: {{idle_timeout: 2m}}
commands:
  menu: {{choice: [menu], goto: menu}}
states:
  menu:
    enter: [{{say: Menu.}}]
    messages:
      - keywords: [agent]
        goto: help
      - any: true
        say: "You said: {{{{ message }}}}"
  help:
    enter:
      - handoff:
          to: {to}
          mode: {mode}
          message: "{{{{ caller.name }}}} needs help"
          timeout: 2m
          done: {{goto: menu}}
          connected: [{{say: "You are talking with {{{{ agent.name }}}}."}}]
          no_answer: [{{say: Nobody is free.}}, {{goto: menu}}]
          agent_left: [{{say: The agent left.}}, {{goto: menu}}]
    messages:
      - keywords: [again]
        goto: help
      - any: true
        say: Still looking.
"""


def desk(to: list[str], mode: str = "first") -> Flow:
    result = load_flow_text(FLOW.format(to=to, mode=mode), "desk.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    """SQLite only: the secrets test reads the store's file, and `transcripts show` shows it."""
    return sqlite_store


async def _ringing(s: Stage) -> tuple[Agent, Person, InvitationReceived]:
    """Lene asks for an agent; Marco, signed in to answer by hand, is rung."""
    marco = await s.agent(MARCO)
    lene = await s.person()
    await lene.say("agent")
    assert await lene.hear() == ["Menu."]
    return marco, lene, await marco.invited()


async def test_the_first_agent_to_accept_wins_and_the_others_are_withdrawn() -> None:
    async with stage(desk([MARCO, DESK])) as s:
        marco, service = await s.agent(MARCO), await s.agent(DESK)
        lene = await s.person()
        await lene.say("agent")
        assert await lene.hear() == ["Menu."]
        offers = await marco.invited(), await service.invited()
        assert [o.text for o in offers] == ["Lene Aaling needs help"] * 2
        assert offers[1].accept_href is not None
        await service.client.accept(offers[1].accept_href)
        assert await lene.hear() == ["You are talking with Service Desk."]
        # Marco's invitation is withdrawn: it stops ringing and can no longer be taken
        await s.until(lambda: marco.ended, "the withdrawal of Marco's invitation")
        assert marco.ended == [offers[0].conversation]
        assert offers[0].accept_href is not None
        with pytest.raises(UcwaHttpError):
            await marco.client.accept(offers[0].accept_href)
        bridge = [(b.event, b.agent, b.agents) for b in s.of(t.BridgeEvent)]
        assert bridge == [("ringing", "", (MARCO, DESK)), ("connected", DESK, ())]


async def test_round_robin_starts_after_the_agent_used_last_across_conversations() -> None:
    async with stage(desk([MARCO, DESK, QUEUE], "round_robin")) as s:
        marco, service, queue = await s.agent(MARCO), await s.agent(DESK), await s.agent(QUEUE)
        lene = await s.person()
        await lene.say("agent")
        offer = await marco.invited()  # nobody used yet: the first of the list
        assert offer.accept_href is not None
        await marco.client.accept(offer.accept_href)
        assert await lene.hear(2) == ["Menu.", "You are talking with Marco."]
        # a second conversation: Service Desk rings first, Marco having taken the last one
        adriana = await s.person(ADRIANA)
        await adriana.say("agent")
        second = await service.invited()
        assert second.text == "Adriana Giorgi needs help"
        assert second.decline_href is not None
        await service.client.decline(second.decline_href)  # declined: on to the next
        third = await queue.invited()
        assert third.text == "Adriana Giorgi needs help"
        await s.clock.advance(30)  # its ring time (30s) passes unanswered: on to Marco
        fourth = await marco.invited()
        assert fourth.accept_href is not None
        await marco.client.accept(fourth.accept_href)
        assert await adriana.hear(2) == ["Menu.", "You are talking with Marco."]
        assert service.invitations.empty()
        assert queue.invitations.empty()
        rung = [b.agents for b in s.of(t.BridgeEvent) if b.event == "ringing"]
        assert rung == [(MARCO, DESK, QUEUE)] * 2


async def _first_rung(s: Stage, *agents: Agent) -> str:
    """The agent a round-robin search rang first (the others are not rung before the test
    moves the clock or that agent answers)."""
    await s.until(lambda: any(not a.invitations.empty() for a in agents), "an agent rung")
    (rung,) = [a.client.user for a in agents if not a.invitations.empty()]
    return rung


@pytest.mark.parametrize("backend", BACKENDS)
async def test_round_robin_carries_on_after_a_restart(backend: str, tmp_path: Path) -> None:
    """The agent who accepted last is committed with the step in which they accepted: the
    bot started again on the store (a deploy, another worker taking the account over) rings
    the agent after them first, not the first of the list again."""
    async with (
        bot_store(backend, tmp_path) as store,
        stage(desk([MARCO, DESK, QUEUE], "round_robin"), store=store) as s,
    ):
        marco, service, queue = await s.agent(MARCO), await s.agent(DESK), await s.agent(QUEUE)
        lene = await s.person()
        await lene.say("agent")
        offer = await marco.invited()
        assert offer.accept_href is not None
        await marco.client.accept(offer.accept_href)
        assert await lene.hear(2) == ["Menu.", "You are talking with Marco."]
        await s.committed()
        await s.crash()
        await s.restart()
        assert s.bot.reattached
        adriana = await s.person(ADRIANA)
        await adriana.say("agent")
        assert await _first_rung(s, marco, service, queue) == DESK
        second = await service.invited()
        assert second.text == "Adriana Giorgi needs help"
        assert second.accept_href is not None
        await service.client.accept(second.accept_href)
        assert await adriana.hear(2) == ["Menu.", "You are talking with Service Desk."]
        stored = (await store.load(s.bot.engine.account)).rotations
        assert [(r.flow, r.agent, r.turn) for r in stored] == [
            ("desk", MARCO, 1),
            ("desk", DESK, 2),
        ]


async def test_round_robin_carries_on_when_the_application_was_gone(store: Store) -> None:
    """The position is the flow's, not the application's: a bot whose application ended
    while it was stopped starts clean, but its rotation carries on."""
    async with stage(desk([MARCO, DESK]), store=store) as s:
        marco, lene, offer = await _ringing(s)
        assert offer.accept_href is not None
        await marco.client.accept(offer.accept_href)
        assert await lene.hear() == ["You are talking with Marco."]
        await s.committed()
        await s.crash()
        await s.clock.advance(20 * 60)  # the server forgets an application unpolled 15 min
        await s.restart(desk([MARCO, DESK], "round_robin"))
        assert not s.bot.reattached
        service = await s.agent(DESK)
        adriana = await s.person(ADRIANA)
        await adriana.say("agent")
        # after Marco, who accepted last (in mode first: the flow's last agent all the same)
        assert await _first_rung(s, marco, service) == DESK
        assert (await service.invited()).text == "Adriana Giorgi needs help"


async def test_the_bridge_relays_both_ways_until_the_agent_leaves() -> None:
    async with stage(desk([MARCO])) as s:
        marco = await s.person(MARCO)  # accepts at once
        lene = await s.person()
        await lene.say("agent")
        assert await lene.hear(2) == ["Menu.", "You are talking with Marco."]
        assert await marco.hear() == ["Lene Aaling needs help"]
        await lene.say("menu")  # relayed, not handled by the flow
        assert await marco.hear() == ["Lene Aaling: menu"]
        await marco.say("Hello Lene")
        assert await lene.hear() == ["Marco: Hello Lene"]
        await s.clock.advance(180)  # the idle timeout (2m) waits while the bridge is on
        await lene.silence()
        await marco.caller.hang_up()
        assert await lene.hear(2) == ["The agent left.", "Menu."]
        await lene.say("hi")
        assert await lene.hear() == ["You said: hi"]
        await s.idle()
        ended = [(b.event, b.by) for b in s.of(t.BridgeEvent) if b.event == "ended"]
        assert ended == [("ended", "agent")]


async def test_a_caller_who_leaves_ends_the_agents_conversation() -> None:
    async with stage(desk([MARCO])) as s:
        marco = await s.person(MARCO)
        lene = await s.person()
        await lene.say("agent")
        assert await lene.hear(2) == ["Menu.", "You are talking with Marco."]
        await lene.caller.hang_up()
        assert await marco.hear(2) == [
            "Lene Aaling needs help",
            "Lene Aaling left the conversation.",
        ]
        assert await marco.hear_end() == "the bot ended the conversation"


async def test_a_bridge_under_way_at_a_restart_carries_on(store: Store) -> None:
    async with stage(desk([MARCO]), store=store) as s:
        marco = await s.person(MARCO)
        lene = await s.person()
        await lene.say("agent")
        assert await lene.hear(2) == ["Menu.", "You are talking with Marco."]
        assert await marco.hear() == ["Lene Aaling needs help"]
        await s.idle()
        await s.crash()
        await s.restart()
        await pass_markers(s)
        await lene.say("are you still there?")
        assert await marco.hear() == ["Lene Aaling: are you still there?"]
        await marco.say("/done")
        assert await marco.hear() == ["Lene Aaling is back with the bot."]
        assert await lene.hear() == ["Menu."]
        await lene.say("thanks")
        assert await lene.hear() == ["You said: thanks"]
    (record,) = await store.conversations(ConversationQuery())
    kinds = [e.kind for e in await store.transcript(record.account, record.conversation)]
    assert [k for k in kinds if k.startswith("bridge_")] == [
        "bridge_ringing",
        "bridge_connected",
        "bridge_relay",
        "bridge_done",
    ]
    # what an operator reads: the bridge in the caller's history, across the restart
    in_order = [
        "bridge  ringing sip:marco@contoso.com",
        "bot     You are talking with Marco.",  # `connected` runs, then the relay starts
        "bridge  connected sip:marco@contoso.com",
        "caller  are you still there?",
        "bridge  relay sip:marco@contoso.com (by the caller)",
        "bridge  done sip:marco@contoso.com (by the agent)",
        "state   help -> menu",
    ]
    await assert_shown_in_order(store, record.conversation, in_order)


async def test_a_search_under_way_at_a_restart_is_given_up(store: Store) -> None:
    async with stage(desk([MARCO]), store=store) as s:
        marco, lene, offer = await _ringing(s)
        await s.committed()  # the batch that names Marco's invitation too
        await s.crash()
        await s.restart()
        # the caller is told (no_answer) and back in the flow; the invitation is withdrawn
        assert await lene.hear(2) == ["Nobody is free.", "Menu."]
        await s.until(lambda: marco.ended, "the withdrawal of Marco's invitation")
        assert marco.ended == [offer.conversation]


async def test_a_second_handoff_withdraws_the_first_ones_invitations() -> None:
    async with stage(desk([MARCO])) as s:
        marco, lene, first = await _ringing(s)
        await lene.say("again")  # the handoff's state again: a second search
        second = await marco.invited()
        await s.until(lambda: marco.ended, "the withdrawal of the first invitation")
        assert marco.ended == [first.conversation]
        assert first.accept_href is not None
        assert second.accept_href is not None
        with pytest.raises(UcwaHttpError):
            await marco.client.accept(first.accept_href)
        await marco.client.accept(second.accept_href)
        assert await lene.hear() == ["You are talking with Marco."]
        await s.idle()
        assert marco.ended == [first.conversation]  # the bot did not hang up on Marco
        ended = [b.by for b in s.of(t.BridgeEvent) if b.event == "ended"]
        assert ended == ["handoff"]


async def test_leaving_the_handoffs_state_withdraws_the_search() -> None:
    async with stage(desk([MARCO])) as s:
        marco, lene, offer = await _ringing(s)
        await lene.say("menu")  # a command: the flow moves on, the search is over
        assert await lene.hear() == ["Menu."]
        await s.until(lambda: marco.ended, "the withdrawal of Marco's invitation")
        assert marco.ended == [offer.conversation]
        await s.clock.advance(60)
        await lene.say("hi")
        assert await lene.hear() == ["You said: hi"]
        await s.clock.advance(70)  # past the search's timeout (2m): no_answer does not run
        await lene.silence()
        ended = [b.by for b in s.of(t.BridgeEvent) if b.event == "ended"]
        assert ended == ["flow"]


NESTED = """\
version: 1
name: desk
start: menu
states:
  menu:
    enter: [{say: Menu.}]
    messages:
      - keywords: [agent]
        goto: help
  help:
    enter:
      - handoff:
          to: [sip:marco@contoso.com]
          connected:
            - say: You are talking with Marco.
            - handoff: {to: [sip:adrianag@contoso.com], no_answer: [], agent_left: []}
          no_answer: [{say: Nobody is free.}, {goto: menu}]
          agent_left: [{say: The agent left.}, {goto: menu}]
"""


async def test_a_handoff_while_the_caller_talks_with_an_agent_is_refused() -> None:
    result = load_flow_text(NESTED, "desk.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    async with stage(result.flow) as s:
        adriana = await s.agent(ADRIANA)
        marco = await s.person(MARCO)
        lene = await s.person()
        await lene.say("agent")
        assert await lene.hear(2) == ["Menu.", "You are talking with Marco."]
        await s.idle()
        errors = [e.message for e in s.of(t.FlowError)]
        assert errors == ["handoff refused: the caller is already talking with an agent"]
        assert adriana.invitations.empty()
        await lene.say("still there?")  # the bridge goes on
        assert await marco.hear() == ["Lene Aaling: still there?"]


SECRET = """\
version: 1
name: desk
start: menu
variables: {pin: null}
secrets: [pin]
states:
  menu:
    enter: [{say: Menu.}]
    messages:
      - match: '^pin (?P<pin>[0-9]{4})$'
        say: Noted.
      - keywords: [agent]
        goto: help
  help:
    enter:
      - handoff:
          to: [sip:marco@contoso.com]
          done: {goto: menu}
          connected: [{say: "You are talking with {{ agent.name }}."}]
          no_answer: [{goto: menu}]
          agent_left: [{goto: menu}]
"""


async def test_the_agents_transcript_keeps_the_callers_secrets_out(store: Store) -> None:
    result = load_flow_text(SECRET, "desk.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    async with stage(result.flow, store=store) as s:
        marco = await s.person(MARCO)
        lene = await s.person()
        await lene.say("pin 4711")
        assert await lene.hear(2) == ["Menu.", "Noted."]
        await lene.say("agent")
        assert await lene.hear() == ["You are talking with Marco."]
        await lene.say("my pin 4711 does not work")
        assert await marco.hear() == ["Lene Aaling: my pin 4711 does not work"]
        await marco.say("/done")  # the relay and the end of the bridge in one commit
        assert await lene.hear() == ["Menu."]
        await s.idle()
    texts: dict[str, list[str]] = {}  # every conversation's, the agent's (no record) too
    for conversation, kind, data in await asyncio.to_thread(_transcripts, store.target):
        if kind in ("message_in", "message_out"):
            texts.setdefault(conversation, []).append(json.loads(data)["text"])
    assert len(texts) == 2, texts  # the caller's conversation and the agent's
    shown = [text for lines in texts.values() for text in lines]
    assert "Lene Aaling: my pin [redacted] does not work" in shown, shown
    assert not [text for text in shown if "4711" in text], shown


def _transcripts(path: str) -> list[tuple[str, str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return list(db.execute("SELECT conversation, kind, data FROM transcript"))


async def test_an_agent_who_accepted_while_the_bot_was_down_is_not_left_alone(
    store: Store,
) -> None:
    async with stage(desk([MARCO]), store=store) as s:
        marco, lene, offer = await _ringing(s)
        await s.committed()  # the batch that names Marco's invitation too
        await s.crash()
        assert offer.accept_href is not None
        await marco.client.accept(offer.accept_href)  # nobody is there to see it
        await s.restart()
        assert await lene.hear(2) == ["Nobody is free.", "Menu."]
        # the search is given up: the conversation Marco accepted is left, not kept open
        await s.until(lambda: marco.ended, "the end of Marco's conversation")
        assert marco.ended == [offer.conversation]


async def test_an_invitation_given_up_before_a_crash_is_withdrawn_once_named_after_it(
    store: Store,
) -> None:
    """The answer to the invitation of Marco is lost (the server rings him all the same)
    and the bot gives it up before the server names it, then crashes: the bot restarted
    on the store did not know it had given it up, and left it ringing once named."""
    async with stage(desk([MARCO]), store=store) as s:
        marco = await s.agent(MARCO)
        lene = await s.person()
        await lene.say("hello")
        assert await lene.hear(2) == ["Menu.", "You said: hello"]
        await s.committed()
        app = [a for a in s.sim.applications if a.user.uri == BOT][-1]
        # the bot's next poll waits (the clock stays), the answer to its invitation is lost
        s.sim.faults.inject(method="GET", path=rf"/{app.id}/events$", delay=60.0)
        invitations = rf"/{app.id}/communication/messagingInvitations$"
        s.sim.faults.inject(method="POST", path=invitations, drop=True)
        await lene.say("agent")
        assert await lene.hear(2) == ["Nobody is free.", "Menu."]  # given up, committed
        offer = await marco.invited()  # it rings all the same
        await s.crash()
        assert marco.ended == []
        await s.restart()
        await s.until(lambda: marco.ended, "the withdrawal of Marco's invitation")
        assert marco.ended == [offer.conversation]
        await s.clock.advance(60.0)  # the crashed bot's poll ends: the server stops at once

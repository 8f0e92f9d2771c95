"""LiveBoard fed by a real engine serving flows on the simulator (real loopback socket)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.guards import WAIT
from tests.runtime.conftest import BOT, PASSWORD, load
from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.live import LiveBoard, LiveSource
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve
from ucwa_flow.ucwa import UcwaClient

LENE = "sip:lenea@contoso.com"

PIN_FLOW = """\
version: 1
name: pin
start: ask
variables: {pin: null}
secrets: [pin]
states:
  ask:
    enter:
      - say: Your PIN?
    messages:
      - match: 'pin (?P<pin>\\d+)'
        say: Thanks, {{ pin }} noted.
        goto: done
  done:
    enter:
      - say: Anything else?
    messages:
      - any: true
        say: "You said: {{ message }}"
    ended:
      - log: "left with pin {{ pin }}"
"""


async def eventually(check: Callable[[], bool]) -> None:
    """Until ``check()`` holds, bounded by WAIT real seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not check():
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(
    flow: Flow, board: LiveBoard, sink: t.TraceSink | None = None
) -> AsyncIterator[tuple[Simulator, Bot]]:
    """A bot serving ``flow`` on the simulator, its traces going to ``board`` (or ``sink``)."""
    clock = ManualClock()
    sim = Simulator(SimulatorConfig(seed=3), clock=clock)
    async with serve(sim, host="127.0.0.1", port=0) as url:
        client = UcwaClient(BOT, PASSWORD, server_url=url, clock=clock)
        bot = Bot(flow, client, clock=clock, sink=sink or board)
        board.attach(bot.engine)
        await bot.start()
        task = asyncio.create_task(bot.run())
        try:
            yield sim, bot
        finally:
            await bot.aclose()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.aclose()


def counts(board: LiveBoard, flow: str) -> dict[str, int]:
    states: dict[str, int] = board.snapshot()["flows"].get(flow, {}).get("states", {})
    return states


def only(board: LiveBoard) -> dict[str, Any]:
    conversations = board.snapshot()["conversations"]
    assert len(conversations) == 1, conversations
    found: dict[str, Any] = conversations[0]
    return found


async def test_a_conversation_is_counted_in_its_state_then_ends() -> None:
    board = LiveBoard()
    assert isinstance(board, LiveSource)
    async with running(load("helpdesk"), board) as (sim, _):
        lene = sim.virtual_user(LENE)
        await lene.start_conversation(BOT, "hello")
        await lene.wait_for_message(WAIT)
        await lene.wait_for_message(WAIT)
        await eventually(lambda: counts(board, "helpdesk") == {"menu": 1})
        snap = board.snapshot()
        assert snap["lifecycle"]["conversation"]["Connected"] == 1
        assert snap["lifecycle"]["messaging"]["Connected"] == 1
        assert sum(snap["lifecycle"]["conversation"].values()) == 1
        listed = only(board)
        assert listed["flow"] == "helpdesk"
        assert listed["state"] == "menu"
        assert listed["caller"] == LENE
        assert listed["active"] is True
        assert listed["lifecycle"] == "Connected"
        assert listed["version"] == load("helpdesk").digest[:8]
        assert listed["started_at"].endswith("Z")

        detail = board.conversation(listed["id"])
        assert detail is not None
        steps = detail["steps"]
        enters = [(s["from"], s["state"]) for s in steps if s["kind"] == "enter"]
        assert enters == [(None, "welcome"), ("welcome", "menu")]
        assert [s["text"] for s in steps if s["kind"] == "in"] == ["hello"]
        outs = [s["text"] for s in steps if s["kind"] == "out"]
        assert outs[0].startswith("Hi Lene")
        assert "1. Reset my password" in outs[1]
        match = next(s for s in steps if s["kind"] == "match")
        assert match["state"] == "welcome"
        assert isinstance(match["line"], int)
        assert any(s["kind"] == "lifecycle" and s["machine"] == "messaging" for s in steps)

        lene.send("stop")
        await lene.wait_for_state("ended", timeout=WAIT)
        await eventually(lambda: not only(board)["active"])
        assert counts(board, "helpdesk") == {}
        ended = board.conversation(listed["id"])
        assert ended is not None
        assert ended["ended"] == "ended by the bot"
        assert ended["steps"][-1]["kind"] in ("ended", "lifecycle")
        assert board.conversation("no-such-id") is None


async def test_secret_values_never_appear_in_steps(tmp_path) -> None:
    path = tmp_path / "pin.flow.yaml"
    path.write_text(PIN_FLOW)
    result = load_flow(path)
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    board = LiveBoard()
    async with running(result.flow, board) as (sim, _):
        lene = sim.virtual_user(LENE)
        await lene.start_conversation(BOT)
        assert (await lene.wait_for_message(WAIT)).text == "Your PIN?"
        lene.send("pin 48151")
        assert (await lene.wait_for_message(WAIT)).text == "Thanks, 48151 noted."
        await lene.wait_for_message(WAIT)
        lene.send("is 48151 right?")
        assert "48151" in (await lene.wait_for_message(WAIT)).text

        def steps() -> list[dict[str, Any]]:
            detail = board.conversation(only(board)["id"])
            assert detail is not None
            found: list[dict[str, Any]] = detail["steps"]
            return found

        texts = [s["text"] for s in steps() if s["text"]]
        assert not [text for text in texts if "48151" in text], texts
        assert "[redacted]" in [s["text"] for s in steps() if s["kind"] == "in"]
        assert "Thanks, [redacted] noted." in texts
        lene.hang_up()
        await eventually(lambda: any(s["text"] == "log left with pin [redacted]" for s in steps()))
        assert not [s for s in steps() if "48151" in (s["text"] or "")]


async def test_changes_yield_at_once_then_after_each_change_and_leave_nothing() -> None:
    board = LiveBoard()
    async with running(load("helpdesk"), board) as (sim, _):
        changes = board.changes()
        first = await anext(changes)
        assert first["conversations"] == []
        lene = sim.virtual_user(LENE)
        await lene.start_conversation(BOT, "hello")
        seen = [first]
        while counts(board, "helpdesk") != {"menu": 1} or seen[-1]["seq"] != board.seq:
            seen.append(await asyncio.wait_for(anext(changes), WAIT))
        assert [s["seq"] for s in seen] == sorted({s["seq"] for s in seen})
        assert seen[-1]["flows"]["helpdesk"]["states"] == {"menu": 1}

        waiting = asyncio.ensure_future(anext(changes))  # nothing changes: it waits
        await eventually(lambda: board.waiting == 1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert board.waiting == 0
        await changes.aclose()


async def test_sweep_ends_what_a_restarted_bot_did_not_carry_on_until_it_runs() -> None:
    board = LiveBoard()
    async with running(load("helpdesk"), board) as (sim, bot):
        lene = sim.virtual_user(LENE)
        await lene.start_conversation(BOT, "hello")
        await lene.wait_for_message(WAIT)
        await eventually(lambda: counts(board, "helpdesk") == {"menu": 1})
        assert board.sweep(None, bot.engine.instances, "lost") == 0
        assert board.sweep("another account", set(), "lost") == 0
        assert counts(board, "helpdesk") == {"menu": 1}
        assert board.sweep(None, set(), "not carried on") == 1
        assert counts(board, "helpdesk") == {}
        assert board.snapshot()["lifecycle"]["conversation"]["Connected"] == 0
        detail = board.conversation(only(board)["id"])
        assert detail is not None
        assert detail["active"] is False
        assert detail["ended"] == "not carried on"
        lene.send("1")  # it was carried on after all: active again at its next record
        await eventually(lambda: counts(board, "helpdesk") == {"ask_employee_id": 1})
        assert only(board)["active"] is True, board.snapshot()
        assert board.snapshot()["lifecycle"]["conversation"]["Connected"] == 1


async def test_the_list_is_bounded_the_counts_are_not() -> None:
    board = LiveBoard(max_listed=1)
    async with running(load("helpdesk"), board) as (sim, _):
        for caller in (LENE, "sip:adrianag@contoso.com"):
            user = sim.virtual_user(caller)
            await user.start_conversation(BOT, "hello")
            await user.wait_for_message(WAIT)
        await eventually(lambda: counts(board, "helpdesk") == {"menu": 2})
        snap = board.snapshot()
        assert snap["active"] == 2
        assert [c["caller"] for c in snap["conversations"]] == ["sip:adrianag@contoso.com"]
        assert board.snapshot() is snap  # nothing changed: the same picture


async def test_steps_are_bounded_per_conversation_and_in_all() -> None:
    board = LiveBoard(max_steps=4, step_budget=6)
    async with running(load("helpdesk"), board) as (sim, _):
        for caller in (LENE, "sip:adrianag@contoso.com"):
            user = sim.virtual_user(caller)
            await user.start_conversation(BOT, "hello")
            await user.wait_for_message(WAIT)
            await user.wait_for_message(WAIT)
        await eventually(lambda: counts(board, "helpdesk") == {"menu": 2})
        details = [board.conversation(c["id"]) for c in board.snapshot()["conversations"]]
        steps = [d["steps"] for d in details if d is not None]
        assert all(len(s) <= 4 for s in steps), steps
        assert sum(len(s) for s in steps) <= 6, steps
        newest = steps[0]  # the newest conversation keeps its last steps
        assert newest[-1]["kind"] == "out"
        assert "1. Reset my password" in newest[-1]["text"]


SUB_PIN_FLOW = """\
version: 1
name: pin
start: ask
variables: {pin: null, confirmed: false}
secrets: [pin]
states:
  ask:
    enter:
      - say: Your PIN?
    messages:
      - match: 'pin (?P<pin>\\d+)'
        goto: confirm
  confirm:
    enter:
      - call:
          flow: confirm.subflow.yaml
          with: {question: "Is your PIN {{ pin }}?"}
          returns: {confirmed: confirmed}
      - say: ok
"""
CONFIRM = """\
version: 1
subflow: confirm
params: {question: {}}
returns: [confirmed]
variables: {confirmed: false}
start: ask
states:
  ask:
    enter:
      - say: "{{ question }} (yes/no)"
    messages:
      - any: true
        do: [{return: {confirmed: true}}]
"""


async def test_a_callers_secret_is_blanked_out_while_a_sub_flow_runs(tmp_path) -> None:
    # the board looked for the secrets of the running scope only: inside the sub-flow, the
    # caller's PIN showed in clear in "Is your PIN 48151?" (the store blanked it out)
    (tmp_path / "confirm.subflow.yaml").write_text(CONFIRM)
    path = tmp_path / "pin.flow.yaml"
    path.write_text(SUB_PIN_FLOW)
    result = load_flow(path)
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    board = LiveBoard()
    async with running(result.flow, board) as (sim, _):
        lene = sim.virtual_user(LENE)
        await lene.start_conversation(BOT)
        assert (await lene.wait_for_message(WAIT)).text == "Your PIN?"
        lene.send("pin 48151")
        assert (await lene.wait_for_message(WAIT)).text == "Is your PIN 48151? (yes/no)"

        def said() -> list[str]:
            detail = board.conversation(only(board)["id"])
            assert detail is not None
            return [s["text"] for s in detail["steps"] if s["kind"] == "out"]

        await eventually(lambda: "Is your PIN [redacted]? (yes/no)" in said())
        assert not [text for text in said() if "48151" in text]


HANDOFF_FLOW = """\
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
          to: [sip:adrianag@contoso.com]
          done: {goto: menu}
          connected: [{say: "You are talking with {{ agent.name }}."}]
          no_answer: [{goto: menu}]
          agent_left: [{goto: menu}]
"""


async def test_a_handoff_agents_steps_keep_the_callers_secrets_out(tmp_path) -> None:
    """The agent's conversation has no instance of its own: the caller's message relayed
    to the agent was kept as it was, secrets and all, where the caller's own steps and
    both transcripts blank them."""
    path = tmp_path / "desk.flow.yaml"
    path.write_text(HANDOFF_FLOW)
    result = load_flow(path)
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    board = LiveBoard()
    async with running(result.flow, board) as (sim, _):
        agent = sim.virtual_user("sip:adrianag@contoso.com", auto_accept=True)
        lene = sim.virtual_user(LENE)
        await lene.start_conversation(BOT, "pin 4711")
        assert [(await lene.wait_for_message(WAIT)).text for _ in range(2)] == ["Menu.", "Noted."]
        lene.send("agent")
        assert (await lene.wait_for_message(WAIT)).text.startswith("You are talking with")
        lene.send("my pin 4711 does not work")
        assert (await agent.wait_for_message(WAIT)).text.endswith(": my pin 4711 does not work")

        def texts() -> list[str]:
            found = []
            for listed in board.snapshot()["conversations"]:
                detail = board.conversation(listed["id"])
                assert detail is not None
                found += [s["text"] for s in detail["steps"] if s["text"]]
            return found

        await eventually(lambda: sum("does not work" in text for text in texts()) == 2)
        assert not [text for text in texts() if "4711" in text], texts()

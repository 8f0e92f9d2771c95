"""``serve``'s ``/live``: a handoff agent's conversation keeps the caller's secrets out of
its steps, as the caller's own does (the account's sink gets the owner of the agent's
conversation from the running bot)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.guards import WAIT
from tests.service.world import ADRIANA, HELPDESK, LENE, until, world
from ucwa_flow.deploy import AdminSpec
from ucwa_flow.live import LiveBoard

pytestmark = pytest.mark.asyncio

DESK = f"""\
version: 1
name: helpdesk
start: menu
variables: {{pin: null}}
secrets: [pin]
states:
  menu:
    enter: [{{say: Menu.}}]
    messages:
      - match: '^pin (?P<pin>[0-9]{{4}})$'
        say: Noted.
      - keywords: [agent]
        goto: help
  help:
    enter:
      - handoff:
          to: [{ADRIANA}]
          done: {{goto: menu}}
          connected: [{{say: "You are talking with {{{{ agent.name }}}}."}}]
          no_answer: [{{goto: menu}}]
          agent_left: [{{goto: menu}}]
"""


def _texts(board: LiveBoard) -> list[str]:
    found: list[str] = []
    for listed in board.snapshot()["conversations"]:
        detail = board.conversation(listed["id"])
        assert detail is not None
        found += [step["text"] for step in detail["steps"] if step["text"]]
    return found


async def test_the_agents_steps_keep_the_callers_secrets_out(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.flow("helpdesk", text=DESK)
        deployment = replace(w.deployment(w.account("helpdesk", HELPDESK)), admin=AdminSpec(port=0))
        service = await w.service(deployment)
        await until(lambda: service.readiness().ready, "signed in")
        agent = w.sim.virtual_user(ADRIANA, auto_accept=True)
        lene = await w.person(LENE, HELPDESK)
        await lene.say("pin 4711")
        assert await lene.hear(2) == ["Menu.", "Noted."]
        await lene.say("agent")
        assert (await lene.hear())[0].startswith("You are talking with")
        await lene.say("my pin 4711 does not work")
        assert (await agent.wait_for_message(WAIT)).text.endswith(": my pin 4711 does not work")
        board = service.live
        assert board is not None
        await until(
            lambda: sum("does not work" in text for text in _texts(board)) == 2,
            "the caller's message and the agent's",
        )
        assert not [text for text in _texts(board) if "4711" in text], _texts(board)

"""A durable bot killed after it accepted a chat and before the chat connected carries on.

Found by tests/e2e/test_kill.py: the batch with the invitation is committed (the
conversation is stored in no state yet, ``(new)``: it starts when messaging connects), the
batch that connects it is not. The restarted bot must wait for the connection again (the
server hands that batch out again), then enter the start state (or the one an invitation
rule named) and handle the invitation's first message, instead of ending the conversation as
if its state had left the flow.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import BOT, stage
from tests.guards import WAIT
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.runtime.flowmachine import FlowMachine
from ucwa_flow.store import Store, open_store

FLOW = """\
version: 1
name: opening
start: chat
invitation:
  rules:
    - from: "sip:adrianag@contoso.com"
      action: accept
      goto: vip
states:
  chat:
    enter:
      - say: Hi!
    messages:
      - any: true
        say: "You said: {{ message }}"
  vip:
    enter:
      - say: Welcome back!
    messages:
      - any: true
        say: "Noted: {{ message }}"
"""


def _flow() -> Flow:
    result = load_flow_text(FLOW, "opening.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


async def _until_stored_new(store: Store) -> None:
    """Wait until the store has the conversation, accepted and not started."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        snapshot = await store.load(BOT)
        if [record.state for record in snapshot.conversations] == [FlowMachine.NEW]:
            return
        assert loop.time() < deadline, "timed out waiting for the invitation's commit"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("sip:lenea@contoso.com", ["Hi!", "You said: hello"]),
        ("sip:adrianag@contoso.com", ["Welcome back!", "Noted: hello"]),
    ],
)
async def test_a_chat_accepted_but_not_connected_at_the_crash_starts_after_the_restart(
    tmp_path: Path, caller: str, expected: list[str]
) -> None:
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    try:
        async with stage(_flow(), store=store) as s:
            person = await s.person(caller)
            await s.idle()
            # the bot's next event-channel GET (after the invitation's batch) fails, and
            # the bot waits to try again on the test's clock, which stands still
            (app,) = [a for a in s.sim.applications if a.user.uri == BOT]
            s.sim.faults.inject(method="GET", path=rf"/{app.id}/events$", status=503)
            await person.say("hello")
            await _until_stored_new(store)
            await s.crash()
            s.sim.faults.clear()
            await s.restart()
            assert await person.hear(2) == expected
            await person.say("again")
            assert (await person.hear())[0].endswith("again")
            await person.silence()
    finally:
        await store.aclose()

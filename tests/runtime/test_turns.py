"""Busy answers wait their turn behind the conversations under way (runtime/turns.py).

* a job goes at once when nothing is pending, waits while something is, and goes once a
  nudge finds the conversations quiet; a bot that never pauses still lets it go, later;
* at most ``at_once`` jobs hold a slot;
* through the engine: a shed caller's accept waits while a reply of a caller already
  talking is in flight, then goes; the shed caller hears the busy message once and is let go.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from tests.guards import WAIT
from tests.runtime.conftest import load as load_flow
from tests.runtime.test_engine_answering import _batch
from tests.runtime.test_engine_lost import FIXTURES, RecordingPort
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine, Limits, answering
from ucwa_flow.runtime.turns import Turns
from ucwa_flow.ucwa.events import EventBatch, decode_batch


async def _until(condition: Callable[[], bool]) -> None:
    async def loop() -> None:
        while not condition():  # noqa: ASYNC110 (counters and a port have no notification)
            await asyncio.sleep(0.001)

    await asyncio.wait_for(loop(), WAIT)


async def _rounds(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_turn_goes_at_once_when_nothing_is_pending() -> None:
    turns = Turns(lambda: False, at_once=1, at_most=WAIT)
    await asyncio.wait_for(turns.turn(), WAIT)
    assert turns.overdue == 0


async def test_a_turn_waits_while_work_is_pending_and_goes_once_nudged_in_a_pause() -> None:
    pending = [True]
    turns = Turns(lambda: pending[0], at_once=1, at_most=WAIT)
    job = asyncio.create_task(turns.turn())
    await _until(lambda: turns.waiting == 1)
    turns.nudge()  # a step is over, but another is still pending
    await _rounds()
    assert not job.done()
    pending[0] = False
    turns.nudge()
    await asyncio.wait_for(job, WAIT)
    assert turns.waiting == 0
    assert turns.overdue == 0


async def test_a_bot_that_never_pauses_still_lets_the_turn_go() -> None:
    turns = Turns(lambda: True, at_once=1, at_most=0.0)
    await asyncio.wait_for(turns.turn(), WAIT)
    assert turns.overdue == 1


async def test_at_most_at_once_jobs_hold_a_slot() -> None:
    turns = Turns(lambda: False, at_once=2, at_most=WAIT)
    inside, release = [], asyncio.Event()

    async def job(i: int) -> None:
        async with turns.slot():
            inside.append(i)
            await release.wait()

    jobs = [asyncio.create_task(job(i)) for i in range(3)]
    await _until(lambda: len(inside) == 2)
    await _rounds()
    assert inside == [0, 1]
    release.set()
    await asyncio.wait_for(asyncio.gather(*jobs), WAIT)
    assert inside == [0, 1, 2]


def _message(conv: str) -> EventBatch:
    """The caller of ``conv`` says "second line" (after the first message of the invitation)."""
    text = (FIXTURES / "msdocs_ReceiveAnIM_16.json").read_text(encoding="utf-8")
    text = text.replace("Hi+Tosh", "second+line").replace("messages/2", "messages/3")
    return decode_batch(json.loads(text.replace("eee0", conv)))


class HeldReplies(RecordingPort):
    """Sending a message other than the busy message waits for :attr:`gate`."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def send_message(
        self, link: str, text: str, html: str | None, *, operation_context: str | None = None
    ) -> str:
        if text != BUSY:
            await self.gate.wait()
        return await super().send_message(link, text, html, operation_context=operation_context)


BUSY = "Busy, sorry."


async def test_a_shed_callers_accept_waits_for_the_reply_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(answering, "YIELD_AT_MOST", WAIT)  # only a pause lets it go
    port = HeldReplies()
    limits = Limits(max_conversations=1, busy_message=BUSY)
    engine = Engine(load_flow("echo"), port, ManualClock(), limits=limits)
    for name in ("msdocs_ReceiveAnIM_08", "msdocs_ReceiveAnIM_15"):  # a caller talking
        engine.handle(_batch(name, "eee0", "6408"))
        await engine.idle()
    port.gate.clear()
    engine.handle(_message("eee0"))  # its next message: a reply
    await _until(lambda: engine.sender.busy)
    engine.handle(_batch("msdocs_ReceiveAnIM_08", "eee1", "6409"))  # one too many
    await _until(lambda: engine.shed == 1)
    await _rounds()
    accept = "/ucwa/oauth/v1/applications/104/communication/messagingInvitations/6409/accept"
    assert ("accept", accept) not in port.calls
    assert engine.answers.turns.waiting == 1
    port.gate.set()  # the reply goes; then the shed caller's accept
    await _until(lambda: ("accept", accept) in port.calls)
    assert port.calls[-2][0] == "send"
    assert port.calls[-2][1].startswith("You said")
    engine.handle(_batch("msdocs_ReceiveAnIM_15", "eee1", "6409"))  # connected: told, let go
    await _until(lambda: port.calls[-1][0] == "stop")
    await engine.idle()
    assert [c for c in port.calls if c == ("send", BUSY)] == [("send", BUSY)]
    assert engine.shed == 1
    assert len(engine.instances) == 1
    assert engine.answers.turns.overdue == 0
    await engine.aclose(stop=False)

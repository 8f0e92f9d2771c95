"""The engine's answering of invitations, through its seams: sample batches in, a port
that records (and can hold back) what the engine asks of UCWA.

* invitations being answered (accept sent, not connected) count against ``max_answering``;
* the inputs of the conversations under way in a batch go before its new invitations.
"""

from __future__ import annotations

import asyncio
import json

from tests.guards import WAIT
from tests.runtime.conftest import load as load_flow
from tests.runtime.test_engine_lost import FIXTURES, RecordingPort
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine, Limits
from ucwa_flow.runtime import trace as t
from ucwa_flow.ucwa.events import EventBatch, decode_batch


def _batch(name: str, conv: str, invitation: str) -> EventBatch:
    text = (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    return decode_batch(json.loads(text.replace("eee0", conv).replace("6408", invitation)))


class SlowAccepts(RecordingPort):
    """Accept requests wait for :attr:`gate`."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def accept(self, accept_href: str) -> None:
        await self.gate.wait()
        await super().accept(accept_href)


async def test_invitations_being_answered_count_against_max_answering() -> None:
    port, traces, third = SlowAccepts(), [], asyncio.Event()

    def decided() -> list[str]:
        return [r.decision for r in traces if isinstance(r, t.InvitationDecided)]

    def sink(record: t.Trace) -> None:
        traces.append(record)
        if len(decided()) == 3:
            third.set()

    limits = Limits(max_answering=2, when_full="ring")
    engine = Engine(load_flow("echo"), port, ManualClock(), sink, limits=limits)
    for i in range(3):
        engine.handle(_batch("msdocs_ReceiveAnIM_08", f"eee{i}", f"640{i}"))
    await asyncio.wait_for(third.wait(), WAIT)  # while the first two are being accepted
    assert decided() == ["accept", "accept", "busy"]
    assert len(engine.answers.answering) == 2
    port.gate.set()
    await engine.idle()
    connected = _batch("msdocs_ReceiveAnIM_15", "eee0", "6400")
    engine.handle(connected)
    await engine.idle()
    assert len(engine.answers.answering) == 1  # connected: no longer being answered
    assert engine.shed == 1
    await engine.aclose(stop=False)


async def test_the_inputs_of_conversations_under_way_go_before_new_invitations() -> None:
    port, traces = RecordingPort(), []
    engine = Engine(load_flow("echo"), port, ManualClock(), traces.append)
    for name in ("msdocs_ReceiveAnIM_08", "msdocs_ReceiveAnIM_15"):
        engine.handle(_batch(name, "eee0", "6408"))
        await engine.idle()
    text = (FIXTURES / "msdocs_ReceiveAnIM_08.json").read_text(encoding="utf-8")
    both = json.loads(text.replace("eee0", "eee1").replace("6408", "6409"))
    message = (FIXTURES / "msdocs_ReceiveAnIM_16.json").read_text(encoding="utf-8")
    message = message.replace("Hi+Tosh", "second+line").replace("messages/2", "messages/3")
    both["sender"] += json.loads(message)["sender"]  # an invitation, then a caller's message
    engine.handle(decode_batch(both))
    await engine.idle()
    order = [
        (type(r).__name__, r.conversation[-4:])
        for r in traces
        if isinstance(r, t.MessageIn | t.InvitationDecided)
    ]
    assert order[-2:] == [("MessageIn", "eee0"), ("InvitationDecided", "eee1")]
    assert port.calls[-2:] == [
        ("send", "You said: second line"),
        (
            "accept",
            "/ucwa/oauth/v1/applications/104/communication/messagingInvitations/6409/accept",
        ),
    ]
    await engine.aclose(stop=False)

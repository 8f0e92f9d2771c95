"""The rebuild's reads after a loss: bounded in number at a time, and in time.

Driven through :func:`~ucwa_flow.runtime.rebuild.rebuild` with a port whose reads wait on
the test (the port is the engine's whole view of UCWA) and a manual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tests.runtime.test_engine_lost import RecordingPort
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime.rebuild import DEADLINE, READS_AT_ONCE, rebuild
from ucwa_flow.ucwa.active import messaging_record
from ucwa_flow.ucwa.events import MessagingEvent

CONVS = [f"/ucwa/oauth/v1/applications/104/communication/conversations/c{i}" for i in range(20)]


def _connected(href: str) -> MessagingEvent:
    return messaging_record(href, f"{href}/messaging", {"state": "Connected"})


class GatedPort(RecordingPort):
    """Every conversation listed; a read waits until its conversation's gate opens."""

    def __init__(self) -> None:
        super().__init__()
        self.listed = list(CONVS)
        self.gates = {href: asyncio.Event() for href in CONVS}
        self.out = self.most_out = 0
        self.started = asyncio.Event()  # set at each read started

    async def still_open(self, conversations: Sequence[str]) -> list[str]:
        await self.listing.wait()
        return [href for href in conversations if href in self.listed]

    async def messaging_now(self, conversation: str) -> MessagingEvent | None:
        self.out += 1
        self.most_out = max(self.most_out, self.out)
        self.started.set()
        try:
            await self.gates[conversation].wait()
        finally:
            self.out -= 1
        return _connected(conversation)


async def test_at_most_a_few_conversations_are_read_at_a_time() -> None:
    port = GatedPort()
    asking = asyncio.ensure_future(rebuild(port, CONVS, ManualClock()))
    await port.started.wait()
    for gate in port.gates.values():
        gate.set()
    answer = await asking
    assert sorted(answer.kept) == sorted(CONVS)
    assert port.most_out == READS_AT_ONCE  # not all 20 at once


async def test_past_the_deadline_those_not_read_end_and_those_read_carry_on() -> None:
    port, clock = GatedPort(), ManualClock()
    read = CONVS[:3]
    for href in read:
        port.gates[href].set()  # the others are never answered
    asking = asyncio.ensure_future(rebuild(port, CONVS, clock))
    await port.started.wait()
    await clock.advance(DEADLINE)
    answer = await asking
    assert sorted(answer.kept) == sorted(read)
    assert sorted(answer.unread) == sorted(CONVS[3:])
    assert set(answer.unread.values()) == {f"not re-read within {DEADLINE:g} s"}
    assert answer.failed is None
    assert port.out == 0  # the reads still out were cancelled


async def test_a_listing_not_answered_by_the_deadline_keeps_nothing() -> None:
    port, clock = GatedPort(), ManualClock()
    port.listing.clear()
    asking = asyncio.ensure_future(rebuild(port, CONVS, clock))
    await clock.advance(DEADLINE)
    answer = await asking
    assert answer.kept == {}
    assert answer.failed == f"no answer within {DEADLINE:g} s"

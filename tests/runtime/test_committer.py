"""The durable engine's background committer (:meth:`Durable.run`): what a timer, a
webhook's answer or a send's outcome decides between batches is committed by it, with no
batch to take it; while a batch is handled it sleeps, and the batch's commit takes what is
decided meanwhile.

An engine under :class:`Durable` on a real SQLite store, batches handed to it by the test
(so none comes unless the test hands it), the port that does no I/O of the durable
benchmark, a real webhook server.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.engine_durable import APPLICATION, settled
from bench.engine_load import CountingPort, Samples
from tests.e2e.harness import Hooks, webhook_server
from tests.e2e.quiet import QUIET_TURNS
from tests.guards import WAIT
from tests.service.world import until
from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.durable import Durable
from ucwa_flow.store import Snapshot, Store, open_store
from ucwa_flow.ucwa.events import EventBatch

ACCOUNT = "sip:toshm@contoso.com"

FLOW = """
version: 1
name: committed
start: chat
settings: {{idle_timeout: 10m, first_message: route_only}}
variables: {{ticket: null}}
states:
  chat:
    enter: [{{say: "Hi!"}}]
    messages:
      - any: true
        do:
          - webhook:
              url: "{url}/tickets"
              json: {{text: "{{{{ message }}}}"}}
              timeout: 10s
              result: ticket
              success: [{{say: "Ticket {{{{ ticket.id }}}}"}}]
              failure: [{{say: "No ticket"}}]
    timeouts:
      - after: 1m
        do: [{{say: "Still there?"}}]
"""


def _flow(url: str) -> Flow:
    result = load_flow_text(FLOW.format(url=url), "committed.flow.yaml")
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    return result.raise_for_errors()


class GatedPort(CountingPort):
    """The benchmark's port; while :attr:`gate` is set to an unset event, each message
    waits for it (:attr:`waiting` counts those that wait)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: asyncio.Event | None = None
        self.waiting = 0

    async def send_message(self, *args: Any, **kwargs: Any) -> str:
        if self.gate is not None:
            self.waiting += 1
            await self.gate.wait()
        return await super().send_message(*args, **kwargs)


@dataclass
class Rig:
    """A durable engine with one conversation under way, its committer running."""

    durable: Durable
    port: GatedPort
    store: Store
    clock: ManualClock
    hooks: Hooks
    samples: Samples
    acks: int = 0

    @property
    def position(self) -> str:
        return f"{APPLICATION}/events?ack={self.acks}"

    async def handle(self, batch: EventBatch) -> None:
        self.acks += 1
        await self.durable.handle(batch, APPLICATION, self.position)

    async def stored(self) -> Snapshot:
        return await self.store.load(ACCOUNT)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    with webhook_server() as hooks:
        store = await open_store(tmp_path / "engine.sqlite3")
        clock = ManualClock()
        port = GatedPort()
        engine = Engine(_flow(hooks.url), port, clock)
        durable = Durable(engine, store, ACCOUNT, now=lambda: 1000.0)
        rig = Rig(durable, port, store, clock, hooks, Samples())
        for batch in rig.samples.set_up(0):
            await rig.handle(batch)
        await settled(engine, durable)
        assert port.sent == 1  # the greeting
        committer = asyncio.create_task(durable.run())
        try:
            yield rig
        finally:
            committer.cancel()
            await asyncio.gather(committer, return_exceptions=True)
            await engine.aclose(stop=False)
            await store.aclose()


def _all_committed(durable: Durable) -> bool:
    return not (durable.journal or durable.committing or durable.engine.busy)


async def test_a_timers_reply_is_committed_with_no_batch(rig: Rig) -> None:
    gate = rig.port.gate = asyncio.Event()
    await rig.clock.advance(60)  # the state's timeout says "Still there?"
    await until(lambda: rig.port.waiting == 1, "the timer's reply, sent once committed")
    snapshot = await rig.stored()
    assert [entry.payload["text"] for entry in snapshot.outbox] == ["Still there?"]
    assert snapshot.application is not None
    assert snapshot.application.events_next == rig.position  # no batch took it
    gate.set()
    await until(lambda: _all_committed(rig.durable), "its outcome committed")
    assert rig.port.sent == 2


async def test_a_sends_outcome_is_committed_with_no_batch(rig: Rig) -> None:
    """The outcome waits a moment (``Durable.hold``) for a batch to take it; none comes."""
    durable, gate = rig.durable, asyncio.Event()
    rig.port.gate = gate
    await rig.clock.advance(60)
    await until(lambda: rig.port.waiting == 1, "the timer's reply, sent once committed")
    commits = durable.commits
    assert len((await rig.stored()).outbox) == 1
    gate.set()
    await until(lambda: _all_committed(durable), "the reply's outcome committed")
    assert durable.commits == commits + 1
    snapshot = await rig.stored()
    assert snapshot.outbox == ()  # its outcome: sent
    assert snapshot.application is not None
    assert snapshot.application.events_next == rig.position


async def test_a_webhooks_answer_is_committed_with_no_batch(rig: Rig) -> None:
    await rig.handle(rig.samples.message(0, 10))
    (instance,) = rig.durable.engine.instances.values()
    await until(lambda: instance.variables["ticket"] is not None, "the webhook's answer")
    await until(lambda: rig.port.sent == 2, "its reply, sent once committed")
    await until(lambda: _all_committed(rig.durable), "everything committed")
    snapshot = await rig.stored()
    (record,) = snapshot.conversations
    assert record.variables["ticket"] == {"id": "INC0042"}
    assert record.pending == ()  # the webhook is done
    assert snapshot.outbox == ()
    assert snapshot.application is not None
    assert snapshot.application.events_next == rig.position


async def test_the_committer_sleeps_while_a_batch_is_handled(rig: Rig) -> None:
    """A timer fires while a batch is handled (its steps drained, its commit not begun):
    the committer does not commit the timer's reply; the batch's commit takes it."""
    durable = rig.durable
    engine, drained = durable.engine, durable.engine.drained
    holding, go = asyncio.Event(), asyncio.Event()

    async def held_drained() -> None:
        await drained()
        holding.set()
        await go.wait()

    engine.drained = held_drained  # type: ignore[method-assign]
    try:  # a failure must not leave the batch held: the engine's close would wait on it
        commits, quiet = durable.commits, rig.samples.set_up(0)[1]
        handling = asyncio.create_task(rig.handle(dataclasses.replace(quiet, events=())))
        await asyncio.wait_for(holding.wait(), WAIT)
        await rig.clock.advance(60)
        await until(lambda: durable.journal.page.outgoing, "the timer's reply decided")
        for _ in range(QUIET_TURNS):  # turns enough for a committer that woke to commit
            await asyncio.sleep(0)
        assert durable.commits == commits
        assert not durable.committing
        assert rig.port.sent == 1
        go.set()
        await asyncio.wait_for(handling, WAIT)
        assert durable.commits == commits + 1  # the batch's, with the reply
        assert not durable.journal.page.outgoing
        await until(lambda: rig.port.sent == 2, "the reply, sent")
    finally:
        go.set()
        engine.drained = drained  # type: ignore[method-assign]

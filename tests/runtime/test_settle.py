"""A graceful stop and a commit under way: :meth:`Durable.settle` sends the replies of a
commit that a cancellation cut short, once, and nothing of a commit whose owner is alive
(that owner performs it); the last commit after the engine closed performs nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.engine_durable import APPLICATION, message_batches, set_up_batches
from bench.engine_load import CountingPort, Samples, _echo
from tests.guards import WAIT
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.durable import Durable
from ucwa_flow.store import Store, open_store

ACCOUNT = "sip:toshm@contoso.com"
CONVERSATIONS = 3


@dataclass
class Held:
    """A durable engine with its conversations set up; the store's next commit that holds
    a send waits for :attr:`go` (:attr:`holding` is set once it waits)."""

    durable: Durable
    port: CountingPort
    store: Store
    holding: asyncio.Event
    go: asyncio.Event
    acks: int = 0

    def handle(self, samples: Samples) -> asyncio.Task[None]:
        """One batch of a message to each conversation, handled in a task of its own."""
        batch, _ = next(message_batches(samples, CONVERSATIONS, 1, CONVERSATIONS))
        self.acks += 1
        url = f"{APPLICATION}/events?ack={self.acks}"
        return asyncio.create_task(self.durable.handle(batch, APPLICATION, url))


@pytest.fixture
async def held(tmp_path: Path) -> AsyncIterator[Held]:
    store = await open_store(tmp_path / "engine.sqlite3")
    engine = Engine(_echo(), CountingPort(), ManualClock())
    assert isinstance(engine.port, CountingPort)
    durable = Durable(engine, store, ACCOUNT, now=lambda: 1000.0)
    rig = Held(durable, engine.port, store, asyncio.Event(), asyncio.Event())
    samples = Samples()
    for invites, accepted in set_up_batches(samples, CONVERSATIONS):
        for batch in (invites, accepted):
            rig.acks += 1
            await durable.handle(batch, APPLICATION, f"{APPLICATION}/events?ack={rig.acks}")
    await engine.idle()
    await durable.commit()
    commit = store.commit

    async def held_commit(account: str, changes: Any, **kwargs: Any) -> Any:
        if changes.outbox and not rig.go.is_set():
            rig.holding.set()
            await rig.go.wait()
        return await commit(account, changes, **kwargs)

    store.commit_now = lambda account, changes: None  # type: ignore[method-assign]
    store.commit = held_commit  # type: ignore[method-assign]
    yield rig
    await engine.aclose(stop=False)
    await store.aclose()


async def test_a_commit_whose_owner_is_alive_is_performed_once_by_its_owner(held: Held) -> None:
    sent = held.port.sent
    task = held.handle(Samples())
    await asyncio.wait_for(held.holding.wait(), WAIT)
    settling = asyncio.create_task(held.durable.settle(send=True))
    await asyncio.sleep(0)
    held.go.set()
    await asyncio.wait_for(asyncio.gather(task, settling), WAIT)
    await held.durable.engine.idle()
    assert held.port.sent - sent == CONVERSATIONS  # not twice: settle had nothing to send


async def test_a_commit_cut_short_is_sent_by_settle_once(held: Held) -> None:
    sent = held.port.sent
    task = held.handle(Samples())
    await asyncio.wait_for(held.holding.wait(), WAIT)
    task.cancel()  # what a stop does to the bot reading the channel
    with pytest.raises(asyncio.CancelledError):
        await task
    assert held.port.sent == sent
    settling = asyncio.create_task(held.durable.settle(send=True))
    held.go.set()
    await asyncio.wait_for(settling, WAIT)
    await held.durable.engine.idle()
    assert held.port.sent - sent == CONVERSATIONS
    await held.durable.settle(send=True)  # nothing left to settle
    await held.durable.engine.idle()
    assert held.port.sent - sent == CONVERSATIONS


async def test_the_commit_after_the_engine_closed_performs_nothing(held: Held) -> None:
    held.go.set()
    durable, sent = held.durable, held.port.sent
    batch, _ = next(message_batches(Samples(), CONVERSATIONS, 1, CONVERSATIONS))
    durable.engine.handle(batch)  # decided and not committed yet
    await durable.engine.drained()
    assert durable.journal.page.outgoing
    await durable.engine.aclose(stop=False)
    await durable.commit(perform="nothing")
    await asyncio.sleep(0)
    assert held.port.sent == sent
    stored = await held.store.load(ACCOUNT)
    assert len(stored.outbox) == CONVERSATIONS  # waiting for the next start

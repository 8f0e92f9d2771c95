"""Messages in doubt after a restart are settled by event batches only: the channel's
losing track (a ``resync`` or ``resume`` read first after the restart) is no batch, and
the first batch after it may still be one the server built before the restart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.engine_durable import APPLICATION, message_batches, set_up_batches
from bench.engine_load import CountingPort, Samples, _echo
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.durable import Durable
from ucwa_flow.store import open_store
from ucwa_flow.ucwa import ConversationsLost
from ucwa_flow.ucwa.events import EventBatch

ACCOUNT = "sip:toshm@contoso.com"
CONVERSATIONS = 2


class _Port(CountingPort):
    async def still_open(self, conversations: Sequence[str]) -> list[str]:
        return []  # the server lists none of them any more: they end


def _empty(ack: int) -> EventBatch:
    return EventBatch(
        self_href=None,
        next_href=f"{APPLICATION}/events?ack={ack}",
        resync_href=None,
        resume_href=None,
        events=(),
    )


async def test_a_loss_read_after_a_restart_does_not_count_as_a_batch(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "engine.sqlite3")
    samples = Samples()
    try:
        # a bot decides replies and commits them, and dies before sending them
        engine = Engine(_echo(), CountingPort(), ManualClock())
        durable = Durable(engine, store, ACCOUNT, now=lambda: 1000.0)
        ack = 0
        for invites, accepted in set_up_batches(samples, CONVERSATIONS):
            for batch in (invites, accepted):
                ack += 1
                await durable.handle(batch, APPLICATION, f"{APPLICATION}/events?ack={ack}")
        await engine.idle()
        await durable.commit()
        batch, _ = next(message_batches(samples, CONVERSATIONS, 1, CONVERSATIONS))
        engine.handle(batch)
        await engine.drained()
        await durable.commit(perform="nothing")
        await engine.aclose(stop=False)

        # the restarted bot holds them in doubt
        engine = Engine(_echo(), _Port(), ManualClock())
        durable = Durable(engine, store, ACCOUNT, now=lambda: 2000.0)
        durable.restore(await store.load(ACCOUNT), reattached=True)
        assert durable.doubt.pending
        try:
            await durable.handle(
                ConversationsLost("resync"), APPLICATION, _empty(ack + 1).next_href
            )
            await durable.handle(_empty(ack + 2), APPLICATION, _empty(ack + 3).next_href)
            # one batch read: it may be one the server built before the restart
            assert durable.doubt.restarting
            assert durable.doubt.pending
            await durable.handle(_empty(ack + 3), APPLICATION, _empty(ack + 4).next_href)
            assert not durable.doubt.restarting  # two batches: what was not reported is sent
        finally:
            await engine.aclose(stop=False)
    finally:
        await store.aclose()

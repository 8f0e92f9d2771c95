"""Messages in doubt after a restart are settled by event batches only: the channel's
losing track (a ``resync`` or ``resume`` read first after the restart) is no batch, and
the first batch after it may still be one the server built before the restart. The
conversations carry on (the server still has them), so a reply sent twice would reach the
caller twice."""

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
from ucwa_flow.ucwa.events import EventBatch, MessagingEvent

ACCOUNT = "sip:toshm@contoso.com"
CONVERSATIONS = 2


class _Port(CountingPort):
    """The server still has every conversation, its messaging connected as it was set up."""

    def __init__(self, messaging: dict[str, MessagingEvent]) -> None:
        super().__init__()
        self.messaging = messaging

    async def still_open(self, conversations: Sequence[str]) -> list[str]:
        return [href for href in conversations if href in self.messaging]

    async def messaging_now(self, conversation: str) -> MessagingEvent | None:
        return self.messaging[conversation]


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
        connected: dict[str, MessagingEvent] = {}
        for invites, accepted in set_up_batches(samples, CONVERSATIONS):
            for batch in (invites, accepted):
                for event in batch.events:
                    if isinstance(event, MessagingEvent) and event.state == "Connected":
                        assert event.conversation_href is not None
                        connected[event.conversation_href] = event
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
        port = _Port(connected)
        engine = Engine(_echo(), port, ManualClock())
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
            await engine.idle()
            assert port.sent == CONVERSATIONS  # the replies in doubt, once each
            assert set(engine.instances) == set(connected)  # they carried on
        finally:
            await engine.aclose(stop=False)
    finally:
        await store.aclose()

"""Engine only, durable: (c) records per second with a real SQLite store.

    python -m bench.engine_durable [CONVERSATIONS] [ROUNDS] [PER_BATCH] [BESIDE]

The durable counterpart of :mod:`bench.engine_load`: the same echo flow, the same
"Receive an IM" samples made unique per conversation, the same port that does no I/O, but
the :class:`~ucwa_flow.runtime.Engine` runs under :class:`~ucwa_flow.runtime.durable.Durable`
with a store from :func:`~ucwa_flow.store.open_store` on a fresh SQLite file in a temporary
folder (WAL, ``synchronous=NORMAL``: what a bot gets by default), and its background
committer (:meth:`Durable.run`) runs beside it, as in a bot.

An event-channel answer carries the events of many conversations at once, and a durable
bot commits once per answer. So the message batches here hold PER_BATCH (default 1)
conversations each: one incoming message per conversation, merged into one
:class:`~ucwa_flow.ucwa.events.EventBatch` (decoded before the clock starts, one batch at
a time). Each batch goes through :meth:`Durable.handle`, which hands it to the engine,
waits until every conversation has handled it and commits it (conversation records,
outbox entries, transcript lines, the channel position) before the "sends" run. Timed:
every ``handle``, and at the end the wait until every send is done and its outcome is
committed. (c) = records fed / timed seconds; the commits made are reported too.

Set-up (untimed): CONVERSATIONS (default 1,000) conversations invited, accepted, connected
and greeted, through ``handle`` as well, 100 per batch. The port's counts and the store's
conversation count are checked, so a broken engine cannot post a number. Prints one JSON
object.

Beside it (BESIDE ``memory``, the default; ``none`` leaves it out), in the same process
and first, the in-memory engine is fed the very same merged batches the same way (each
handed to :meth:`Engine.handle` with the event-loop turn a channel gives; at the end, every
mailbox drained and every send done), so that ``ratio_to_in_memory`` (durable records/s
over in-memory records/s; target at least 0.7) compares like with like. CPU time
(``time.process_time``) is reported beside the wall clock for both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench._args import arguments, number
from bench.engine_load import CountingPort, Samples, Stopwatch, _echo
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.durable import Durable
from ucwa_flow.store import open_store
from ucwa_flow.ucwa.events import EventBatch

ACCOUNT = "sip:toshm@contoso.com"
APPLICATION = "/ucwa/oauth/v1/applications/104"
SET_UP_BATCH = 100


def merged(batches: list[EventBatch]) -> EventBatch:
    """One batch holding the events of ``batches`` in order (as one channel answer would)."""
    events = tuple(event for batch in batches for event in batch.events)
    return dataclasses.replace(batches[-1], events=events)


def set_up_batches(samples: Samples, conversations: int) -> Iterator[tuple[EventBatch, ...]]:
    """The invitations, then the acceptances, of conversations -1 to ``conversations`` - 1,
    ``SET_UP_BATCH`` conversations merged per batch."""
    for first in range(-1, conversations, SET_UP_BATCH):
        group = range(first, min(first + SET_UP_BATCH, conversations))
        invites, accepted = zip(*(samples.set_up(conv) for conv in group), strict=True)
        yield merged(list(invites)), merged(list(accepted))


def message_batches(
    samples: Samples, conversations: int, rounds: int, per_batch: int
) -> Iterator[tuple[EventBatch, int]]:
    """Each round's incoming messages, ``per_batch`` conversations merged per batch (made
    before the timed part), with how many messages each batch holds."""
    for r in range(rounds):
        for first in range(0, conversations, per_batch):
            group = range(first, min(first + per_batch, conversations))
            yield merged([samples.message(conv, 10 + r) for conv in group]), len(group)


async def settled(engine: Engine, durable: Durable) -> None:
    """Every mailbox drained, every send done, and its outcome committed."""
    while True:
        await engine.idle()
        # takes the commit lock: waits for a commit the background committer (Durable.run)
        # has under way with the journal already taken; may start sends, whose outcomes
        # need one more commit
        await durable.commit()
        if not durable.journal and not engine.sender.busy and not engine.busy:
            return


async def in_memory(conversations: int, rounds: int, per_batch: int) -> dict[str, Any]:
    """The in-memory engine fed the batches :func:`measure` feeds the durable one."""
    samples, flow = Samples(), _echo()
    port = CountingPort()
    engine = Engine(flow, port, ManualClock())
    for invites, accepted in set_up_batches(samples, conversations):
        engine.handle(invites)
        engine.handle(accepted)
        await engine.idle()
    assert port.sent == 2 * (conversations + 1), f"{port.sent} sent in the set-up"
    records = messages = 0
    watch = Stopwatch()
    sent_before = port.sent
    for batch, group in message_batches(samples, conversations, rounds, per_batch):
        records += len(batch.events)
        messages += group
        with watch:
            engine.handle(batch)
            await asyncio.sleep(0)  # the event loop turn a channel's next() gives
        del batch
    with watch:
        await engine.idle()
    elapsed, cpu = watch.wall, watch.cpu
    assert port.sent - sent_before == messages, f"{port.sent - sent_before} echoes"
    await engine.aclose(stop=False)
    return {"records": records, "seconds": elapsed, "cpu_seconds": cpu}


async def measure(conversations: int, rounds: int, per_batch: int) -> dict[str, Any]:
    samples, flow = Samples(), _echo()
    port = CountingPort()
    with tempfile.TemporaryDirectory(prefix="ucwa-flow-bench-") as folder:
        store = await open_store(Path(folder) / "engine.sqlite3")
        engine = Engine(flow, port, ManualClock())
        durable = Durable(engine, store, ACCOUNT)
        committer = asyncio.create_task(durable.run())
        acks = iter(range(1, 10**9))

        async def handle(batch: EventBatch) -> None:
            await durable.handle(batch, APPLICATION, f"{APPLICATION}/events?ack={next(acks)}")

        try:
            for invites, accepted in set_up_batches(samples, conversations):
                await handle(invites)
                await handle(accepted)
            await settled(engine, durable)
            assert port.sent == 2 * (conversations + 1), f"{port.sent} sent in the set-up"

            records = messages = 0
            watch = Stopwatch()
            commits, sent_before = durable.commits, port.sent
            for batch, group in message_batches(samples, conversations, rounds, per_batch):
                records += len(batch.events)
                messages += group
                with watch:
                    await handle(batch)
                del batch
            with watch:
                await settled(engine, durable)
            elapsed, cpu = watch.wall, watch.cpu
            assert port.sent - sent_before == messages, f"{port.sent - sent_before} echoes"
            stored = await store.load(ACCOUNT)
            assert len(stored.conversations) == conversations + 1, "conversations not stored"
            assert not stored.outbox, f"{len(stored.outbox)} sends not recorded as done"
            commits = durable.commits - commits
        finally:
            committer.cancel()
            await asyncio.gather(committer, return_exceptions=True)
            await engine.aclose(stop=False)
            await store.aclose()
    return {
        "conversations": conversations,
        "conversations_per_batch": per_batch,
        "records": records,
        "commits": commits,
        "seconds": elapsed,
        "records_per_second": records / elapsed,
        "cpu_seconds": cpu,
        "records_per_cpu_second": records / cpu,
    }


async def both(conversations: int, rounds: int, per_batch: int, beside: bool) -> dict[str, Any]:
    """:func:`measure`, and with ``beside`` the in-memory engine first and the ratios."""
    memory = await in_memory(conversations, rounds, per_batch) if beside else None
    result = await measure(conversations, rounds, per_batch)
    if memory is not None:
        rate = memory["records"] / memory["seconds"]
        cpu_rate = memory["records"] / memory["cpu_seconds"]
        result["in_memory_records_per_second"] = rate
        result["in_memory_records_per_cpu_second"] = cpu_rate
        result["ratio_to_in_memory"] = result["records_per_second"] / rate
        result["cpu_ratio_to_in_memory"] = result["records_per_cpu_second"] / cpu_rate
    return result


def main() -> None:
    args = arguments(__doc__)
    conversations = number(args, 0, "CONVERSATIONS", 1_000)
    rounds = number(args, 1, "ROUNDS", 3)
    per_batch = number(args, 2, "PER_BATCH", 1)
    beside = args[3] if len(args) > 3 else "memory"
    if beside not in ("memory", "none"):
        sys.exit(f"unknown BESIDE {beside!r}: memory or none")
    result = asyncio.run(both(conversations, rounds, per_batch, beside == "memory"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Only the trace records someone takes are built (``Services.traced``).

A durable engine without a sink hands its records to the journal alone, which keeps a few
kinds (:data:`~ucwa_flow.runtime.journal.SHOWN`): the instance builds no other (nor a
match without captures, which the journal keeps nothing of). The transcript is the same
as when a sink takes every record, and a sink still gets them all.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from bench.engine_durable import APPLICATION, message_batches, set_up_batches
from bench.engine_load import CountingPort, Samples, _echo
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.durable import Durable
from ucwa_flow.runtime.journal import SHOWN
from ucwa_flow.store import open_store

ACCOUNT = "sip:toshm@contoso.com"


async def _run(
    folder: Path, sink: t.TraceSink | None
) -> tuple[list[tuple[str, str, Any]], Counter[type]]:
    """Three conversations through the echo flow, two messages each, durably: the stored
    transcript (conversation, kind, data) and the kinds of record the journal was given."""
    store = await open_store(folder / "engine.sqlite3")
    engine = Engine(_echo(), CountingPort(), ManualClock(), sink)
    durable = Durable(engine, store, ACCOUNT, now=lambda: 1000.0)
    given: Counter[type] = Counter()
    keep = durable.journal.trace

    def trace(record: t.Trace) -> None:
        given[type(record)] += 1
        keep(record)

    durable.journal.trace = trace  # type: ignore[method-assign]
    committer = asyncio.create_task(durable.run())
    samples, acks = Samples(), iter(range(1, 1000))
    batches = [b for pair in set_up_batches(samples, 3) for b in pair]
    batches += [batch for batch, _ in message_batches(samples, 3, 2, 1)]
    try:
        for batch in batches:
            await durable.handle(batch, APPLICATION, f"{APPLICATION}/events?ack={next(acks)}")
        await engine.idle()
        await durable.commit()
        lines = []
        for record in (await store.load(ACCOUNT)).conversations:
            for line in await store.transcript(ACCOUNT, record.conversation):
                lines.append((line.conversation, line.kind, line.data))
    finally:
        committer.cancel()
        await asyncio.gather(committer, return_exceptions=True)
        await engine.aclose(stop=False)
        await store.aclose()
    return lines, given


async def test_with_a_journal_alone_only_the_kinds_it_keeps_are_built(tmp_path: Path) -> None:
    lines, given = await _run(tmp_path, None)
    # the kinds a step of an instance builds that no transcript shows: none was built
    assert given[t.ActionDone] == 0
    assert given[t.MessageOut] == 0
    assert t.ActionDone not in SHOWN
    kinds = Counter(kind for _, kind, _ in lines)
    assert kinds["message_in"] >= 6  # two each, and the first messages of the set-up
    assert given[t.MessageIn] == kinds["message_in"]
    # the echo flow captures nothing: a match without captures, of which a journal keeps
    # nothing (it redacts a message only for a secret captured), is not built either
    assert given[t.HandlerMatched] == 0
    assert kinds["message_out"] >= 6


async def test_the_transcript_is_the_same_as_when_a_sink_takes_every_record(
    tmp_path: Path,
) -> None:
    (tmp_path / "alone").mkdir()
    (tmp_path / "sink").mkdir()
    seen: list[t.Trace] = []
    alone, _ = await _run(tmp_path / "alone", None)
    with_sink, given = await _run(tmp_path / "sink", seen.append)
    assert alone == with_sink
    # the sink still gets every kind, those no transcript shows among them
    kinds = Counter(type(record) for record in seen)
    assert kinds[t.ActionDone] >= 6
    assert kinds[t.MessageOut] >= 6
    assert kinds[t.HandlerMatched] >= 6
    assert given[t.ActionDone] == kinds[t.ActionDone]  # the journal is handed them too

"""The parts :mod:`bench.input_log` is made of: its answers, its port, its engine that
builds transcript lines, its log file's reading, and the restart (rebuild, replay, and the
check that the rebuilt engine is the first one).
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bench.durable_floor import HEAD
from bench.engine_durable import ACCOUNT, APPLICATION, merged
from bench.engine_load import CountingPort, Samples, Stopwatch, _echo
from ucwa_flow.clock import ManualClock
from ucwa_flow.lifecycle import dump_conversation
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.changes import PageWriter
from ucwa_flow.runtime.doubt import Doubt
from ucwa_flow.runtime.journal import SHOWN, Journal
from ucwa_flow.runtime.outbox import Outgoing
from ucwa_flow.runtime.restore import carry_on
from ucwa_flow.store import Store
from ucwa_flow.ucwa.events import EventBatch, decode_batch

__all__ = [
    "OUTCOMES",
    "Answer",
    "LoggingPort",
    "Transcribing",
    "answers",
    "append_again",
    "differences",
    "engine_for",
    "page_writer",
    "read_log",
    "rebuild",
    "replay_log",
]

OUTCOMES = struct.Struct("<I")  # the length of the outcome lines after an answer
CONVERSATIONS_AT = f"{APPLICATION}/communication/conversations/c"


@dataclass(frozen=True, slots=True)
class Answer:
    """One event-channel answer: its bytes, its batch (decoded from the same samples) and
    the hrefs of its conversations."""

    raw: bytes
    batch: EventBatch
    hrefs: tuple[str, ...]


def answers(
    samples: Samples, conversations: int, per_answer: int, numbers: Sequence[int]
) -> Iterator[Answer]:
    """For each message number, one incoming message per conversation, ``per_answer``
    conversations per answer (the batches of :func:`bench.engine_durable.message_batches`)."""
    for n in numbers:
        for first in range(0, conversations, per_answer):
            group = range(first, min(first + per_answer, conversations))
            bodies = [samples.message_body(conv, n) for conv in group]
            body = {
                "_links": bodies[-1]["_links"],
                "sender": [s for b in bodies for s in b["sender"]],
            }
            batch = merged([samples.message(conv, n) for conv in group])
            hrefs = tuple(f"{CONVERSATIONS_AT}{conv}" for conv in group)
            yield Answer(json.dumps(body).encode(), batch, hrefs)


class LoggingPort(CountingPort):
    """A port that does no I/O and keeps one outcome line per message sent."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[bytes] = []

    async def send_message(
        self,
        send_message_href: str,
        text: str,
        html: str | None,
        *,
        operation_context: str | None = None,
    ) -> str:
        href = await super().send_message(send_message_href, text, html)
        self.outcomes.append(f"sent {operation_context} {href}\n".encode())
        return href


class Transcribing(Engine):
    """An engine that sends at once (no journal holds its sends) and builds the transcript
    lines a durable engine builds: the same kinds of trace record
    (:data:`~ucwa_flow.runtime.journal.SHOWN`), made into lines by a
    :class:`~ucwa_flow.runtime.journal.Journal`'s own :meth:`~Journal.trace`, and a
    ``message_out`` line per message decided (what :meth:`Journal.send` adds)."""

    def __init__(self, port: CountingPort, lines: Journal) -> None:
        super().__init__(_echo(), port, ManualClock(), lines.trace)
        self.lines = lines
        self.traced = SHOWN  # a sink that takes only what a journal keeps

    def send(self, item: Outgoing) -> None:
        if item.kind == "message":
            data = {"text": item.text, "html": item.html}
            self.lines.line(item.conversation, "message_out", data, key=item.operation_context)
        self.sender.send_one(item)


def engine_for(port: CountingPort, transcript: bool) -> Engine:
    """The echo flow's engine: one that keeps transcript lines, or the plain one."""
    if transcript:
        return Transcribing(port, Journal(time.time))
    return Engine(_echo(), port, ManualClock())


class _Journaled:
    """The engine as :class:`PageWriter` sees it: with the journal its lines are in (the
    engine itself keeps none: it sends at once)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.journal = engine.lines if isinstance(engine, Transcribing) else Journal(time.time)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def page_writer(engine: Engine) -> PageWriter:
    return PageWriter(cast(Engine, _Journaled(engine)), ACCOUNT, time.time, Doubt())


def append_again(writes: list[tuple[bytes, ...]], folder: Path) -> float:
    """CPU seconds of making ``writes`` again on a fresh file (the log append, apart)."""
    fd = os.open(folder / "again.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    started = time.process_time()
    for parts in writes:
        os.writev(fd, parts)
    used = time.process_time() - started
    os.close(fd)
    return used


def read_log(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """Each logged answer's bytes and its outcome lines."""
    data = path.read_bytes()
    at = 0
    while at < len(data):
        _, _, size, position = HEAD.unpack_from(data, at)
        at += HEAD.size
        body = data[at : at + size]
        at += size + position
        (length,) = OUTCOMES.unpack_from(data, at)
        at += OUTCOMES.size
        yield body, data[at : at + length]
        at += length


def differences(first: Engine, second: Engine) -> list[str]:
    """Where the two engines' conversations differ: their flow state, variables, facts and
    what the lifecycle tracker knows (the last message in, among the rest: what
    :class:`PageWriter` records); empty when they do not."""
    found = []
    if first.instances.keys() != second.instances.keys():
        found.append("not the same conversations")
    for href, instance in first.instances.items():
        other = second.instances.get(href)
        if other is None:
            continue
        if instance.state != other.state:
            found.append(f"{href}: state {instance.state} != {other.state}")
        if instance.variables != other.variables:
            found.append(f"{href}: variables differ")
        if instance.facts.to_data() != other.facts.to_data():
            found.append(f"{href}: facts differ")
        tracked = [first.tracker.get(href), second.tracker.get(href)]
        mine, theirs = (None if c is None else dump_conversation(c) for c in tracked)
        if mine != theirs:
            last = [d and d["last_incoming"] for d in (mine, theirs)]
            found.append(f"{href}: tracked conversation differs (last in: {last})")
    return found


async def rebuild(store: Store, transcript: bool) -> tuple[Engine, CountingPort, Any]:
    """A fresh engine rebuilt from the store's conversations; the store's snapshot."""
    port = CountingPort()
    engine = engine_for(port, transcript)
    snapshot = await store.load(ACCOUNT)
    carry_on(
        engine,
        snapshot,
        pages=page_writer(engine),
        journal=Journal(time.time),
        doubt=Doubt(),
        now=time.time(),
    )
    return engine, port, snapshot


async def replay_log(
    store: Store, path: Path, *, transcript: bool = True, replay: bool = True
) -> tuple[Engine, CountingPort, dict[str, Any]]:
    """A fresh engine rebuilt from the store, then the log replayed (not with ``replay``
    false: only to show that the restart's check sees the difference)."""
    rebuilding, replaying = Stopwatch(), Stopwatch()
    with rebuilding:
        engine, port, snapshot = await rebuild(store, transcript)
    records = outcomes = 0
    with replaying:
        for body, lines in read_log(path) if replay else ():
            batch = decode_batch(json.loads(body))
            records += len(batch.events)
            outcomes += lines.count(b"\n")
            engine.handle(batch)
            await asyncio.sleep(0)
        await engine.idle()
    application = snapshot.application
    return (
        engine,
        port,
        {
            "restored": len(snapshot.conversations),
            "position": application.events_next if application is not None else None,
            "records": records,
            "outcome_lines": outcomes,
            "rebuild_cpu_seconds": rebuilding.cpu,
            "replay_cpu_seconds": replaying.cpu,
        },
    )

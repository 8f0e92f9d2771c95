"""An input-log design, measured (not a store): ``python -m bench.input_log``.

    python -m bench.input_log [CONVERSATIONS] [ROUNDS] [PER_ANSWER] [CHECKPOINT_EVERY] [RUNS]

The workload of :mod:`bench.engine_durable` (the echo flow, CONVERSATIONS conversations,
default 1,000, set up untimed; ROUNDS rounds, default 3, of one incoming message each,
PER_ANSWER conversations, default 50, merged into one event-channel answer), run two ways:

(a) the in-memory engine, exactly :func:`bench.engine_durable.in_memory`;
(b) the same engine, fed the same decoded batches, plus an *input log*: before each answer
    is handled, the answer's bytes (the JSON text of the event-channel answer, as the bot
    would receive it, made before the clock starts) are appended to a plain file opened
    ``O_APPEND`` with one ``os.writev`` (the header of :func:`bench.durable_floor.entry`,
    the bytes, the channel's next position, then the send outcomes since the previous
    answer: one line per ``send_message`` the engine made, framed by their length). Every
    CHECKPOINT_EVERY answers (default 100), and once at the end of the run, a checkpoint:
    the engine drained (every conversation has handled every answer logged), the
    conversations touched since the last checkpoint turned into the store's records by the
    durable engine's own :class:`~ucwa_flow.runtime.changes.PageWriter` ("encode") and
    written through the store's own commit (:meth:`Store.commit` with only conversation
    records: the store's row encoder ``conversation_params``, its upsert, one SQLite
    transaction, WAL, ``synchronous=NORMAL``, its WAL checkpointer: "write"), then the
    log truncated. The set-up ends with a checkpoint of every conversation (untimed).

Both in a fresh (spawned) process each, RUNS (default 3) pairs, the order alternating: an
engine's figure depends on what its process did before (see :mod:`bench.durable_floor`).
CPU time (``time.process_time``) per record; ``ratio`` = (b)'s records per CPU second over
(a)'s, the median of the pairs' ratios (target of issue 17: at least 0.7).

The added µs per record ((b) - (a), per pair) is split into: ``log_append`` (the run's very
writes made again, timed apart, on a fresh file: CPU), ``checkpoint_encode`` and
``checkpoint_write`` (timed inside the run; ``row_encode`` is the part of the write that
``conversation_params`` takes, timed again apart on the same records), ``log_truncate``,
and the rest (the outcome lines, the drain before each checkpoint, noise).

(c) The restart, after (b)'s run in its process: min(CHECKPOINT_EVERY, the run's answers)
more answers are handled and logged but not checkpointed, then a fresh engine is rebuilt
from the store (:meth:`Store.load` and the durable engine's
:func:`~ucwa_flow.runtime.restore.carry_on`: "rebuild") and the logged answers replayed
through it (parsed from the file, ``json.loads``, ``decode_batch``, ``Engine.handle``, up to
every mailbox drained and every send done: "replay"). Checked: the rebuilt engine ends with
each conversation in the state and with the variables the first one had.

NOT COVERED (this is a measurement, not a store):

* determinism of steps: a replayed step is only the step that was logged if everything it
  reads is an input; the clock, timers firing, random ids (operation contexts) and
  webhook answers are not logged here (the echo flow reads none that would differ);
* re-send suppression on replay: the replayed answers' messages are sent again (the
  logged outcome lines are counted, not used); a design needs the outcome lines or the
  channel's message events to skip them;
* readers of the materialised tables lag: between checkpoints the conversations table,
  the transcript (not written at all here), the outbox and the channel position in SQLite
  are stale; anything reading them (admin, reports, another process) sees the past;
* durability is the kernel's (no fsync), as the store's ``synchronous=NORMAL`` WAL.

Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import statistics
import struct
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from bench._args import arguments, number
from bench.durable_floor import HEAD, entry
from bench.engine_durable import ACCOUNT, APPLICATION, in_memory, merged, set_up_batches
from bench.engine_load import CountingPort, Samples, Stopwatch, _echo
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.changes import PageWriter
from ucwa_flow.runtime.doubt import Doubt
from ucwa_flow.runtime.journal import Journal, Page
from ucwa_flow.runtime.restore import carry_on
from ucwa_flow.store import Changes, Store, open_store
from ucwa_flow.store._codec import conversation_params
from ucwa_flow.ucwa.events import EventBatch, decode_batch

__all__ = ["NOT_COVERED", "Answer", "answers", "logged", "replay_log"]

OUTCOMES = struct.Struct("<I")  # the length of the outcome lines after an answer
CONVERSATIONS_AT = f"{APPLICATION}/communication/conversations/c"
NOT_COVERED = (
    "determinism of steps: clock, timers, random ids and webhook answers are not logged",
    "re-send suppression on replay: replayed answers' messages are sent again",
    "readers of the materialised tables lag: conversations, outbox, position stale "
    "between checkpoints; no transcript written",
    "durability is the kernel's (no fsync), as synchronous=NORMAL",
)


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


class _Journaled:
    """The engine as :class:`PageWriter` sees it, with a journal of its own (the engine
    keeps none: it sends at once)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.journal = Journal(time.time)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def page_writer(engine: Engine) -> PageWriter:
    return PageWriter(cast(Engine, _Journaled(engine)), ACCOUNT, time.time, Doubt())


@dataclass
class InputLog:
    """The engine, its log file and its checkpoints (see the module docstring)."""

    engine: Engine
    port: LoggingPort
    store: Store
    path: Path
    fd: int = -1
    seq: int = 0
    touched: set[str] = field(default_factory=set)
    writes: list[tuple[bytes, ...]] = field(default_factory=list)
    checkpoints: int = 0
    written: int = 0  # conversation records checkpointed
    lines_left: int = 0  # transcript lines the records came with, not written
    encode: float = 0.0
    write: float = 0.0
    row_encode: float = 0.0
    truncate: float = 0.0

    def __post_init__(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.pages = page_writer(self.engine)

    def append(self, answer: Answer) -> None:
        """The answer's bytes and the outcomes since the last one, in one ``writev``."""
        self.seq += 1
        position = f"{APPLICATION}/events?ack={self.seq}".encode()
        outcomes = b"".join(self.port.outcomes)
        self.port.outcomes.clear()
        parts = (*entry(self.seq, answer.raw, position), OUTCOMES.pack(len(outcomes)), outcomes)
        os.writev(self.fd, parts)
        self.writes.append(parts)
        self.touched.update(answer.hrefs)

    async def checkpoint(self, hrefs: set[str] | None = None) -> None:
        """The touched conversations (or ``hrefs``) into the store, then the log emptied."""
        await self.engine.drained()
        chosen, self.touched = (self.touched if hrefs is None else hrefs), set()
        instances = self.engine.instances
        started = time.process_time()
        page = Page(touched={h: instances[h] for h in chosen if h in instances})
        changes = self.pages.changes(page, None, None)
        encoded = time.process_time()
        await self.store.commit(ACCOUNT, Changes(conversations=changes.conversations))
        wrote = time.process_time()
        os.ftruncate(self.fd, 0)
        self.truncate += time.process_time() - wrote
        self.encode += encoded - started
        self.write += wrote - encoded
        self.checkpoints += 1
        self.written += len(changes.conversations)
        self.lines_left += len(changes.transcript)
        again = time.process_time()  # the row encoder alone, apart (not in the run's time)
        for record in changes.conversations:
            conversation_params(ACCOUNT, record)
        self.row_encode += time.process_time() - again

    def close(self) -> None:
        os.close(self.fd)


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


async def replay_log(store: Store, path: Path) -> tuple[Engine, CountingPort, dict[str, Any]]:
    """A fresh engine rebuilt from the store's conversations, then the log replayed."""
    port = CountingPort()
    engine = Engine(_echo(), port, ManualClock())
    rebuild, replay = Stopwatch(), Stopwatch()
    with rebuild:
        snapshot = await store.load(ACCOUNT)
        pages = page_writer(engine)
        carry_on(
            engine,
            snapshot,
            pages=pages,
            journal=Journal(time.time),
            doubt=Doubt(),
            now=time.time(),
        )
    records = outcomes = 0
    with replay:
        for body, lines in read_log(path):
            batch = decode_batch(json.loads(body))
            records += len(batch.events)
            outcomes += lines.count(b"\n")
            engine.handle(batch)
            await asyncio.sleep(0)
        await engine.idle()
    return (
        engine,
        port,
        {
            "restored": len(snapshot.conversations),
            "records": records,
            "outcome_lines": outcomes,
            "rebuild_cpu_seconds": rebuild.cpu,
            "replay_cpu_seconds": replay.cpu,
        },
    )


def _same(first: Engine, second: Engine) -> None:
    """Each conversation in the same state, with the same variables, in both engines."""
    assert first.instances.keys() == second.instances.keys(), "conversations differ"
    for href, instance in first.instances.items():
        other = second.instances[href]
        assert instance.state == other.state, f"{href}: {instance.state} != {other.state}"
        assert instance.variables == other.variables, f"{href}: variables differ"


async def logged(
    conversations: int, rounds: int, per_answer: int, every: int, folder: Path
) -> dict[str, Any]:
    """(b) and (c) in ``folder`` (the log and the store's file stay there)."""
    samples = Samples()
    port = LoggingPort()
    engine = Engine(_echo(), port, ManualClock())
    for invites, accepted in set_up_batches(samples, conversations):
        engine.handle(invites)
        engine.handle(accepted)
        await engine.idle()
    assert port.sent == 2 * (conversations + 1), f"{port.sent} sent in the set-up"
    store = await open_store(folder / "checkpoints.sqlite3")
    log = InputLog(engine, port, store, folder / "input.log")
    try:
        await log.checkpoint(set(engine.instances))  # the set-up's, untimed
        log.encode = log.write = log.row_encode = log.truncate = 0.0
        log.checkpoints = log.written = log.lines_left = 0
        port.outcomes.clear()
        # made one at a time between the timed stretches, as in_memory's batches are (a
        # list of them all would give the cyclic collector more to go through)
        run = answers(samples, conversations, per_answer, range(10, 10 + rounds))
        records = size = count = 0
        watch = Stopwatch()
        sent_before, wall_log = port.sent, 0.0
        for count, answer in enumerate(run, 1):
            records += len(answer.batch.events)
            size = len(answer.raw)
            with watch:
                before = time.perf_counter()
                log.append(answer)
                wall_log += time.perf_counter() - before
                engine.handle(answer.batch)
                await asyncio.sleep(0)  # the event loop turn a channel's next() gives
                if count % every == 0:
                    await log.checkpoint()
        with watch:
            await engine.idle()
            if log.touched:
                await log.checkpoint()
        messages = count * per_answer if conversations % per_answer == 0 else None
        assert messages is None or port.sent - sent_before == messages, "echoes missing"
        result: dict[str, Any] = {
            "records": records,
            "answers": count,
            "answer_bytes": size,
            "cpu_seconds": watch.cpu,
            "seconds": watch.wall,
            "log_append_cpu_seconds": append_again(log.writes, folder),
            "log_append_wall_seconds_inline": wall_log,
            "checkpoints": log.checkpoints,
            "conversations_checkpointed": log.written,
            "transcript_lines_not_written": log.lines_left,
            "checkpoint_encode_cpu_seconds": log.encode,
            "checkpoint_write_cpu_seconds": log.write,
            "row_encode_cpu_seconds": log.row_encode,
            "log_truncate_cpu_seconds": log.truncate,
        }
        # (c): a stretch handled and logged, not checkpointed; then the restart
        extra = min(every, result["answers"])
        later = answers(samples, conversations, per_answer, range(10 + rounds, 10**6))
        for answer in itertools.islice(later, extra):
            log.append(answer)
            engine.handle(answer.batch)
            await asyncio.sleep(0)
        await engine.idle()
        log.close()
        rebuilt, replay_port, replay = await replay_log(store, folder / "input.log")
        _same(engine, rebuilt)
        replay["answers"] = extra
        replay["resent"] = replay_port.sent
        await rebuilt.aclose(stop=False)
        result["replay"] = replay
    finally:
        await engine.aclose(stop=False)
        await store.aclose()
    return result


def run_memory(conversations: int, rounds: int, per_answer: int) -> dict[str, Any]:
    """(a), in a process of its own."""
    return asyncio.run(in_memory(conversations, rounds, per_answer))


def run_logged(conversations: int, rounds: int, per_answer: int, every: int) -> dict[str, Any]:
    """(b) and (c), in a process of its own, in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="ucwa-flow-bench-") as folder:
        return asyncio.run(logged(conversations, rounds, per_answer, every, Path(folder)))


def _us(seconds: float, records: int) -> float:
    return seconds / records * 1e6


def pair(memory: dict[str, Any], log: dict[str, Any]) -> dict[str, Any]:
    """One pair's figures, in µs of CPU per record."""
    records, replay = log["records"], log["replay"]
    assert memory["records"] == records, "the two runs were fed different records"
    a, b = _us(memory["cpu_seconds"], records), _us(log["cpu_seconds"], records)
    parts = {
        "log_append": _us(log["log_append_cpu_seconds"], records),
        "checkpoint_encode": _us(log["checkpoint_encode_cpu_seconds"], records),
        "checkpoint_write": _us(log["checkpoint_write_cpu_seconds"], records),
        "log_truncate": _us(log["log_truncate_cpu_seconds"], records),
    }
    written = max(log["conversations_checkpointed"], 1)
    return {
        "in_memory_us": a,
        "input_log_us": b,
        "ratio": a / b,
        "wall_ratio": memory["seconds"] / log["seconds"],
        "added_us": b - a,
        **{f"{k}_us": v for k, v in parts.items()},
        "rest_us": b - a - sum(parts.values()),
        "row_encode_us": _us(log["row_encode_cpu_seconds"], records),
        "log_append_wall_inline_us": _us(log["log_append_wall_seconds_inline"], records),
        "encode_us_per_conversation": log["checkpoint_encode_cpu_seconds"] / written * 1e6,
        "write_us_per_conversation": log["checkpoint_write_cpu_seconds"] / written * 1e6,
        "rebuild_us_per_replayed_record": _us(replay["rebuild_cpu_seconds"], replay["records"]),
        "replay_us_per_replayed_record": _us(replay["replay_cpu_seconds"], replay["records"]),
        "restart_us_per_replayed_record": _us(
            replay["rebuild_cpu_seconds"] + replay["replay_cpu_seconds"], replay["records"]
        ),
    }


def measure(
    conversations: int, rounds: int, per_answer: int, every: int, runs: int
) -> dict[str, Any]:
    load = os.getloadavg()
    pairs: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    fresh = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=fresh, max_tasks_per_child=1) as pool:
        for n in range(runs):  # each in a fresh process, the order alternating
            if n % 2:
                last = pool.submit(run_logged, conversations, rounds, per_answer, every).result()
            memory = pool.submit(run_memory, conversations, rounds, per_answer).result()
            if not n % 2:
                last = pool.submit(run_logged, conversations, rounds, per_answer, every).result()
            pairs.append(pair(memory, last))
    keys = pairs[0].keys()
    return {
        "conversations": conversations,
        "rounds": rounds,
        "conversations_per_answer": per_answer,
        "checkpoint_every": every,
        "runs": runs,
        "load_average_before": list(load),
        "load_average_after": list(os.getloadavg()),
        "records": last["records"],
        "answers": last["answers"],
        "answer_bytes": last["answer_bytes"],
        "checkpoints": last["checkpoints"],
        "conversations_checkpointed": last["conversations_checkpointed"],
        "transcript_lines_not_written": last["transcript_lines_not_written"],
        "replayed": {k: last["replay"][k] for k in ("answers", "records", "restored", "resent")},
        "median": {k: statistics.median(p[k] for p in pairs) for k in keys},
        "pairs": pairs,
        "not_covered": list(NOT_COVERED),
    }


def main() -> None:
    args = arguments(__doc__)
    conversations = number(args, 0, "CONVERSATIONS", 1_000)
    rounds = number(args, 1, "ROUNDS", 3)
    per_answer = number(args, 2, "PER_ANSWER", 50)
    every = number(args, 3, "CHECKPOINT_EVERY", 100)
    runs = number(args, 4, "RUNS", 3)
    print(json.dumps(measure(conversations, rounds, per_answer, every, runs)))


if __name__ == "__main__":
    main()

"""An input-log design, measured (not a store): ``python -m bench.input_log``.

    python -m bench.input_log [CONVERSATIONS] [ROUNDS] [PER_ANSWER] [CHECKPOINT_EVERY] [RUNS]

The workload of :mod:`bench.engine_durable` (the echo flow, CONVERSATIONS conversations,
default 1,000, set up untimed; ROUNDS rounds, default 20, of one incoming message each,
PER_ANSWER conversations, default 50, merged into one event-channel answer), run three ways:

(a) the in-memory engine, exactly :func:`bench.engine_durable.in_memory`;
(b) the same engine, fed the same decoded batches, building the transcript a durable
    engine builds (the same kinds of trace record, made into lines by a ``Journal``'s own
    ``trace``, and a ``message_out`` line per message: :class:`Transcribing`; it still
    sends at once), plus an *input log*: before each answer is handled, the answer's
    bytes (its JSON text, as the bot would receive it, made before the clock starts) are
    appended to a plain file opened ``O_APPEND`` with one ``os.writev`` (the header of
    :func:`bench.durable_floor.entry`, the bytes, the channel's next position, then the
    send outcomes since the previous answer, one line per ``send_message``, framed by
    their length). Every CHECKPOINT_EVERY answers (default 100: the "periodic" ones), and
    once at the end if anything is left, a checkpoint: the engine drained (every
    conversation has handled every answer logged); the conversations touched since the
    last checkpoint and the transcript lines made since, turned into the store's records
    by the durable engine's own :class:`~ucwa_flow.runtime.changes.PageWriter`
    ("encode"), with the channel's position (the next link of the last answer logged,
    moved from the last checkpoint's, as the durable engine moves it); all written by
    the store's own :meth:`Store.commit` (row encoders, upsert, transcript insert, one
    SQLite transaction, WAL, ``synchronous=NORMAL``, its WAL checkpointer: "write"); then
    the log truncated. The set-up ends with a checkpoint of every conversation (untimed).
(b0) (b) without the transcript (tracing off, as the in-memory engine: no trace record,
    no line built, none written): what the transcript costs is (b) - (b0).

Each in a fresh (spawned) process, RUNS (default 3) triples (``pairs`` in the output, a
name kept from when there were two), the order rotating: an engine's figure depends on
what its process did before (see :mod:`bench.durable_floor`).
CPU time (``time.process_time``) per record; ``ratio`` = (b)'s records per CPU second over
(a)'s, the median of the triples' ratios (target of issue 17: at least 0.7);
``ratio_without_transcript`` the same for (b0).

The added µs per record ((b) - (a)) is split into: ``log_append`` (the run's very writes
made again, timed apart, on a fresh file: CPU), ``checkpoint_encode`` and
``checkpoint_write`` (timed inside the run; ``row_encode`` is the part of the write that
the store's row encoder ``conversation_params`` takes, timed again after the run on the
same records), ``log_truncate``, and the rest (the transcript's trace records and lines
built in the steps, the outcome lines, the drain before each checkpoint, noise). The
transcript's share, ``transcript`` = (b) - (b0), is split into ``transcript_encode`` and
``transcript_write`` ((b)'s checkpoint encode and write less (b0)'s) and
``transcript_trace`` (the rest: the trace records and lines built in the steps). These
are differences of two processes' figures: noisier than the parts timed in one run.

A run with fewer than 2 periodic checkpoints gets a ``warning``: its checkpoint cost per
record is that of one checkpoint over the whole run, which depends on the run's length.

(c) The restart, after (b)'s run in its process: min(CHECKPOINT_EVERY, the run's answers)
more answers are handled and logged but not checkpointed, then a fresh engine is rebuilt
from the store (:meth:`Store.load` and the durable engine's
:func:`~ucwa_flow.runtime.restore.carry_on`: "rebuild"; the channel position read back is
checked to be the last checkpoint's) and the logged answers replayed through it (parsed
from the file, ``json.loads``, ``decode_batch``, ``Engine.handle``, up to every mailbox
drained and every send done: "replay"; the replayed steps' transcript lines are built,
not written). Checked: the rebuilt engine ends with each
conversation as the first one has it: flow state, variables, facts (messages counted)
and what the lifecycle tracker knows (the last message in, among the rest).

NOT COVERED (this is a measurement, not a store):

* determinism of steps: a replayed step is only the step that was logged if everything it
  reads is an input; the clock, timers firing, random ids (operation contexts) and
  webhook answers are not logged here (the echo flow reads none that would differ);
* re-send suppression on replay: the replayed answers' messages are sent again (the
  logged outcome lines are counted, not used); a design needs the outcome lines or the
  channel's message events to skip them;
* the outbox, timers, webhooks, invitations and campaign runs: none is logged nor
  checkpointed (the echo flow makes none but sends, and sends go out at once, with no
  outbox row: its rows and their sent/failed updates are not written at all);
* readers of the materialised tables lag: the conversations, the transcript and the
  channel position in SQLite are written at checkpoints only; anything reading them
  (admin, reports, another process) sees the last checkpoint;
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
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._args import arguments, number
from bench._input_log_parts import (
    OUTCOMES,
    Answer,
    LoggingPort,
    Transcribing,
    answers,
    append_again,
    differences,
    engine_for,
    page_writer,
    read_log,
    replay_log,
)
from bench.durable_floor import entry
from bench.engine_durable import ACCOUNT, APPLICATION, in_memory, set_up_batches
from bench.engine_load import Samples, Stopwatch
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.journal import Page
from ucwa_flow.store import ChannelPosition, ConversationRecord, Store, open_store
from ucwa_flow.store._codec import conversation_params

__all__ = ["NOT_COVERED", "Answer", "answers", "logged", "read_log", "replay_log"]

NOT_COVERED = (
    "determinism of steps: clock, timers, random ids and webhook answers are not logged",
    "re-send suppression on replay: replayed answers' messages are sent again",
    "outbox, timers, webhooks, invitations, campaigns: not logged nor checkpointed "
    "(sends go out at once; no outbox rows or sent/failed updates are written)",
    "readers of the materialised tables lag: conversations, transcript and channel "
    "position are written at checkpoints only",
    "durability is the kernel's (no fsync), as synchronous=NORMAL",
)


@dataclass
class InputLog:
    """The engine, its log file and its checkpoints (see the module docstring)."""

    engine: Engine
    port: LoggingPort
    store: Store
    path: Path
    fd: int = -1
    seq: int = 0
    committed: str | None = None  # the channel position of the last checkpoint
    touched: set[str] = field(default_factory=set)
    writes: list[tuple[bytes, ...]] = field(default_factory=list)
    records: list[tuple[ConversationRecord, ...]] = field(default_factory=list)
    checkpoints: int = 0
    periodic: int = 0  # of them, every CHECKPOINT_EVERY answers
    written: int = 0  # conversation records checkpointed
    lines: int = 0  # transcript lines checkpointed
    encode: float = 0.0
    write: float = 0.0
    truncate: float = 0.0

    def __post_init__(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.pages = page_writer(self.engine)

    def position(self) -> str:
        """The channel's next link after the last answer logged."""
        return f"{APPLICATION}/events?ack={self.seq}"

    def append(self, answer: Answer) -> None:
        """The answer's bytes and the outcomes since the last one, in one ``writev``."""
        self.seq += 1
        outcomes = b"".join(self.port.outcomes)
        self.port.outcomes.clear()
        parts = (
            *entry(self.seq, answer.raw, self.position().encode()),
            OUTCOMES.pack(len(outcomes)),
            outcomes,
        )
        os.writev(self.fd, parts)
        self.writes.append(parts)
        self.touched.update(answer.hrefs)

    async def checkpoint(self, hrefs: set[str] | None = None, *, periodic: bool = False) -> None:
        """The touched conversations (or ``hrefs``), the transcript lines made since the last
        checkpoint and the channel position into the store, then the log emptied."""
        await self.engine.drained()
        chosen, self.touched = (self.touched if hrefs is None else hrefs), set()
        instances, engine = self.engine.instances, self.engine
        started = time.process_time()
        page = engine.lines.take() if isinstance(engine, Transcribing) else Page()
        page.touched = {h: instances[h] for h in chosen if h in instances}
        position = ChannelPosition(APPLICATION, self.position(), time.time())
        changes = self.pages.changes(page, position, self.committed)
        encoded = time.process_time()
        result = await self.store.commit(ACCOUNT, changes)
        wrote = time.process_time()
        os.ftruncate(self.fd, 0)
        self.truncate += time.process_time() - wrote
        assert result.applied, f"the position moved from {self.committed}: {result}"
        self.committed = position.events_next
        self.encode += encoded - started
        self.write += wrote - encoded
        self.checkpoints += 1
        self.periodic += periodic
        self.written += len(changes.conversations)
        self.lines += len(changes.transcript)
        self.records.append(changes.conversations)  # for the row encoder, timed after the run

    def row_encode(self) -> float:
        """CPU seconds of the store's row encoder over the records checkpointed (apart)."""
        started = time.process_time()
        for records in self.records:
            for record in records:
                conversation_params(ACCOUNT, record)
        return time.process_time() - started

    def restart(self) -> None:
        """Count from here (the set-up's checkpoint is not the run's)."""
        self.encode = self.write = self.truncate = 0.0
        self.checkpoints = self.periodic = self.written = self.lines = 0
        self.records.clear()
        self.port.outcomes.clear()

    def close(self) -> None:
        os.close(self.fd)


async def logged(
    conversations: int,
    rounds: int,
    per_answer: int,
    every: int,
    folder: Path,
    *,
    transcript: bool = True,
    replay: bool = True,
) -> dict[str, Any]:
    """(b), or (b0) without ``transcript``, and (c) in ``folder`` (the log and the store's
    file stay there); ``replay`` false leaves the log unreplayed (see :func:`replay_log`)."""
    samples = Samples()
    port = LoggingPort()
    engine = engine_for(port, transcript)
    for invites, accepted in set_up_batches(samples, conversations):
        engine.handle(invites)
        engine.handle(accepted)
        await engine.idle()
    assert port.sent == 2 * (conversations + 1), f"{port.sent} sent in the set-up"
    store = await open_store(folder / "checkpoints.sqlite3")
    log = InputLog(engine, port, store, folder / "input.log")
    try:
        await log.checkpoint(set(engine.instances))  # the set-up's, untimed
        log.restart()
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
                    await log.checkpoint(periodic=True)
        with watch:
            await engine.idle()
            if log.touched:
                await log.checkpoint()
        messages = count * per_answer if conversations % per_answer == 0 else None
        assert messages is None or port.sent - sent_before == messages, "echoes missing"
        result: dict[str, Any] = {
            "transcript": transcript,
            "records": records,
            "answers": count,
            "answer_bytes": size,
            "cpu_seconds": watch.cpu,
            "seconds": watch.wall,
            "log_append_cpu_seconds": append_again(log.writes, folder),
            "log_append_wall_seconds_inline": wall_log,
            "checkpoints": log.checkpoints,
            "periodic_checkpoints": log.periodic,
            "conversations_checkpointed": log.written,
            "transcript_lines_written": log.lines,
            "checkpoint_encode_cpu_seconds": log.encode,
            "checkpoint_write_cpu_seconds": log.write,
            "row_encode_cpu_seconds": log.row_encode(),
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
        rebuilt, replay_port, restart = await replay_log(
            store, folder / "input.log", transcript=transcript, replay=replay
        )
        found = differences(engine, rebuilt)
        assert not (replay and found), f"the restart differs: {found[:3]}"
        assert restart["position"] == log.committed, f"position {restart['position']}"
        restart.update(answers=extra, resent=replay_port.sent, differences=len(found))
        await rebuilt.aclose(stop=False)
        result["replay"] = restart
    finally:
        await engine.aclose(stop=False)
        await store.aclose()
    return result


def run_memory(conversations: int, rounds: int, per_answer: int) -> dict[str, Any]:
    """(a), in a process of its own."""
    return asyncio.run(in_memory(conversations, rounds, per_answer))


def run_logged(
    conversations: int, rounds: int, per_answer: int, every: int, transcript: bool
) -> dict[str, Any]:
    """(b) (or (b0)) and (c), in a process of its own, in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="ucwa-flow-bench-") as folder:
        work = logged(conversations, rounds, per_answer, every, Path(folder), transcript=transcript)
        return asyncio.run(work)


def _us(seconds: float, records: int) -> float:
    return seconds / records * 1e6


def pair(memory: dict[str, Any], log: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    """One triple's figures ((a), (b), (b0)), in µs of CPU per record."""
    records, replay = log["records"], log["replay"]
    assert memory["records"] == records == plain["records"], "the runs were fed different records"

    def us(key: str, run: dict[str, Any] = log) -> float:
        return _us(run["cpu_seconds" if key == "cpu" else f"{key}_cpu_seconds"], records)

    a, b, b0 = us("cpu", memory), us("cpu"), us("cpu", plain)
    parts = {
        "log_append": us("log_append"),
        "checkpoint_encode": us("checkpoint_encode"),
        "checkpoint_write": us("checkpoint_write"),
        "log_truncate": us("log_truncate"),
    }
    transcript = {
        "transcript_encode": parts["checkpoint_encode"] - us("checkpoint_encode", plain),
        "transcript_write": parts["checkpoint_write"] - us("checkpoint_write", plain),
    }
    written = max(log["conversations_checkpointed"], 1)
    replayed = replay["records"]
    return {
        "in_memory_us": a,
        "input_log_us": b,
        "ratio": a / b,
        "wall_ratio": memory["seconds"] / log["seconds"],
        "added_us": b - a,
        **{f"{k}_us": v for k, v in parts.items()},
        "rest_us": b - a - sum(parts.values()),
        "row_encode_us": us("row_encode"),
        "input_log_without_transcript_us": b0,
        "ratio_without_transcript": a / b0,
        "transcript_us": b - b0,
        **{f"{k}_us": v for k, v in transcript.items()},
        "transcript_trace_us": b - b0 - sum(transcript.values()),
        "log_append_wall_inline_us": _us(log["log_append_wall_seconds_inline"], records),
        "encode_us_per_conversation": log["checkpoint_encode_cpu_seconds"] / written * 1e6,
        "write_us_per_conversation": log["checkpoint_write_cpu_seconds"] / written * 1e6,
        "rebuild_us_per_replayed_record": _us(replay["rebuild_cpu_seconds"], replayed),
        "replay_us_per_replayed_record": _us(replay["replay_cpu_seconds"], replayed),
        "restart_us_per_replayed_record": _us(
            replay["rebuild_cpu_seconds"] + replay["replay_cpu_seconds"], replayed
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
        for n in range(runs):  # each in a fresh process, the order rotating
            got: dict[str, dict[str, Any]] = {}
            for kind in ("a", "b", "b0")[n % 3 :] + ("a", "b", "b0")[: n % 3]:
                if kind == "a":
                    work = pool.submit(run_memory, conversations, rounds, per_answer)
                else:
                    args = (conversations, rounds, per_answer, every, kind == "b")
                    work = pool.submit(run_logged, *args)
                got[kind] = work.result()
            last = got["b"]
            pairs.append(pair(got["a"], got["b"], got["b0"]))
    keys = pairs[0].keys()
    out: dict[str, Any] = {
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
        "periodic_checkpoints": last["periodic_checkpoints"],
        "conversations_checkpointed": last["conversations_checkpointed"],
        "transcript_lines_written": last["transcript_lines_written"],
        "replayed": {k: last["replay"][k] for k in ("answers", "records", "restored", "resent")},
        "median": {k: statistics.median(p[k] for p in pairs) for k in keys},
        "pairs": pairs,
        "not_covered": list(NOT_COVERED),
    }
    if last["periodic_checkpoints"] < 2:
        out["warning"] = (
            f"{last['periodic_checkpoints']} periodic checkpoint(s) in {last['answers']} "
            f"answers (every {every}): the checkpoint cost per record is that of the run's "
            "length, not of CHECKPOINT_EVERY; give more ROUNDS or a smaller CHECKPOINT_EVERY"
        )
    return out


def main() -> None:
    args = arguments(__doc__)
    conversations = number(args, 0, "CONVERSATIONS", 1_000)
    rounds = number(args, 1, "ROUNDS", 20)
    per_answer = number(args, 2, "PER_ANSWER", 50)
    every = number(args, 3, "CHECKPOINT_EVERY", 100)
    runs = number(args, 4, "RUNS", 3)
    print(json.dumps(measure(conversations, rounds, per_answer, every, runs)))


if __name__ == "__main__":
    main()

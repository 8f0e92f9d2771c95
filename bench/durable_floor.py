"""The floor of any durable engine: ``python -m bench.durable_floor [PER_BATCH] [RUNS]``.

A durable bot must have each event-channel answer in the store before it acts on it (and
before it asks for the next answer, which acknowledges this one). Whatever else a design
does or defers, it writes at least the answer and the channel's new position, in one
transaction. This bench measures that write alone, done as cheaply as SQLite allows: the
answer's raw bytes as one row (no decoding, no encoding, no row per conversation) and the
position, on a fresh file with the store's settings (WAL, ``synchronous=NORMAL``), one
transaction per answer. No engine runs; nothing is checkpointed into tables.

Beside it, the same write to a plain append-only file (``file_*``): one ``os.writev`` per
answer of a fixed header (sequence number, time, lengths), the answer's bytes and the
position, on a file opened with ``O_APPEND``. Like SQLite's WAL with
``synchronous=NORMAL`` it survives the process's crash (the bytes are in the kernel's page
cache when the call returns), not the machine's; neither syncs per answer. It is the floor
of a design that keeps its input log outside SQLite (the tables then written as
checkpoints now and then).

Beside it, the in-memory engine of :mod:`bench.engine_durable` is fed answers of the same
size (PER_BATCH conversations' "Receive an IM" samples, default 50; 1,000 conversations, 3
rounds), each run in a fresh process as in ``engine_durable``: the engine's figure depends
on what the process did before (after the durable engine's run in the same process, the
cyclic collector's full collections come less often and the in-memory engine reads 40 %
cheaper). Both are CPU time (``time.process_time``) per record, the median of RUNS runs
(default 5). ``best_ratio`` = in-memory / (in-memory + floor): the
highest records-per-CPU-second ratio to the in-memory engine that a durable engine writing
to SQLite could reach on this machine, if all its other work cost nothing;
``file_best_ratio`` the same for the plain file. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sqlite3
import statistics
import struct
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench._args import arguments, number
from bench.engine_durable import in_memory
from bench.engine_load import FIXTURES

CONVERSATIONS, ROUNDS = 1_000, 3


def answer(per_batch: int, ack: int) -> tuple[bytes, int]:
    """An event-channel answer holding ``per_batch`` conversations' incoming messages (the
    bytes as the server sent them) and how many records it holds."""
    text = (FIXTURES / "msdocs_ReceiveAnIM_16.json").read_text("utf-8")
    per_message = sum(len(sender["events"]) for sender in json.loads(text)["sender"])
    bodies = [
        text.replace("conversations/eee0", f"conversations/c{conv}").replace(
            "messaging/messages/2", f"messaging/messages/m{ack}"
        )
        for conv in range(per_batch)
    ]
    return ("[" + ",".join(bodies) + "]").encode(), per_message * per_batch


def append(per_batch: int) -> float:
    """CPU seconds per record of appending the answers of the engine's run, one
    transaction each."""
    answers = CONVERSATIONS * ROUNDS // per_batch
    body, records = answer(per_batch, 1)
    with tempfile.TemporaryDirectory(prefix="ucwa-flow-bench-") as folder:
        db = sqlite3.connect(Path(folder) / "floor.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL").fetchall()
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE answers (account TEXT, seq INTEGER, at REAL, body BLOB, "
            "PRIMARY KEY (account, seq))"
        )
        db.execute("CREATE TABLE position (account TEXT PRIMARY KEY, events_next TEXT)")
        db.execute("INSERT INTO position VALUES ('a', NULL)")
        started = time.process_time()
        for seq in range(answers):
            db.execute("BEGIN")
            db.execute("INSERT INTO answers VALUES ('a', ?, ?, ?)", (seq, time.time(), body))
            db.execute(
                "UPDATE position SET events_next = ? WHERE account = 'a'",
                (f"/ucwa/oauth/v1/applications/104/events?ack={seq + 1}",),
            )
            db.execute("COMMIT")
        cpu = time.process_time() - started
        db.close()
    return cpu / (answers * records)


HEAD = struct.Struct("<QdII")  # sequence number, time, answer's length, position's length


def entry(seq: int, body: bytes, position: bytes) -> tuple[bytes, bytes, bytes]:
    """One answer as the plain-file log holds it: header, answer's bytes, position."""
    return HEAD.pack(seq, time.time(), len(body), len(position)), body, position


def append_file(per_batch: int) -> float:
    """CPU seconds per record of appending the answers of the engine's run to a plain
    file, one ``writev`` each (header, answer, position)."""
    answers = CONVERSATIONS * ROUNDS // per_batch
    body, records = answer(per_batch, 1)
    with tempfile.TemporaryDirectory(prefix="ucwa-flow-bench-") as folder:
        log = os.open(Path(folder) / "floor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        started = time.process_time()
        for seq in range(answers):
            position = f"/ucwa/oauth/v1/applications/104/events?ack={seq + 1}".encode()
            os.writev(log, entry(seq, body, position))
        cpu = time.process_time() - started
        os.close(log)
    return cpu / (answers * records)


def engine(per_batch: int) -> float:
    """CPU seconds per record of the in-memory engine (run in a process of its own)."""
    memory = asyncio.run(in_memory(CONVERSATIONS, ROUNDS, per_batch))
    return float(memory["cpu_seconds"] / memory["records"])


def measure(per_batch: int, runs: int) -> dict[str, Any]:
    floors, files, engines = [], [], []
    fresh = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=fresh, max_tasks_per_child=1) as pool:
        for _ in range(runs):
            engines.append(pool.submit(engine, per_batch).result())
            floors.append(append(per_batch))
            files.append(append_file(per_batch))
    floor, memory = statistics.median(floors), statistics.median(engines)
    file = statistics.median(files)
    return {
        "conversations_per_batch": per_batch,
        "answer_bytes": len(answer(per_batch, 1)[0]),
        "runs": runs,
        "floor_us_per_record": floor * 1e6,
        "floor_us_spread": [min(floors) * 1e6, max(floors) * 1e6],
        "in_memory_us_per_record": memory * 1e6,
        "in_memory_us_spread": [min(engines) * 1e6, max(engines) * 1e6],
        "best_ratio": memory / (memory + floor),
        "file_floor_us_per_record": file * 1e6,
        "file_floor_us_spread": [min(files) * 1e6, max(files) * 1e6],
        "file_best_ratio": memory / (memory + file),
    }


def main() -> None:
    args = arguments(__doc__)
    per_batch = number(args, 0, "PER_BATCH", 50)
    runs = number(args, 1, "RUNS", 5)
    print(json.dumps(measure(per_batch, runs)))


if __name__ == "__main__":
    main()

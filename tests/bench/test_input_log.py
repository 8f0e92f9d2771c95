"""The input-log bench at a tiny size: its output's shape, its answers' bytes, and that its
checkpoints really put the conversations the answers touched into the store's file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from bench.engine_load import Samples
from bench.input_log import NOT_COVERED, answers, logged, measure, read_log
from ucwa_flow.store._codec import CONVERSATION_COLUMNS, conversation_of
from ucwa_flow.ucwa.events import decode_batch

CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY = 6, 2, 2, 2


def test_an_answers_bytes_are_its_batch() -> None:
    """The bytes logged decode to the very events the engine is handed."""
    (answer,) = answers(Samples(), 2, 2, [10])
    assert decode_batch(json.loads(answer.raw)).events == answer.batch.events
    assert answer.hrefs == tuple(
        f"/ucwa/oauth/v1/applications/104/communication/conversations/c{c}" for c in (0, 1)
    )


def test_the_checkpoints_write_each_touched_conversation_as_it_now_is(tmp_path: Path) -> None:
    """Each conversation, read back from the SQLite file and decoded with the store's
    decoder, is as the last message of the timed run left it (the set-up's checkpoint
    alone would show its first message)."""
    result = asyncio.run(logged(CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY, tmp_path))
    db = sqlite3.connect(tmp_path / "checkpoints.sqlite3")
    rows = db.execute(f"SELECT {', '.join(CONVERSATION_COLUMNS)} FROM conversations").fetchall()
    db.close()
    records = {r.conversation: r for r in map(conversation_of, rows)}
    last = 10 + ROUNDS - 1
    for conv in range(CONVERSATIONS):
        record = records[f"/ucwa/oauth/v1/applications/104/communication/conversations/c{conv}"]
        tracked = record.extra["conversation"]
        assert str(tracked["last_incoming"]).endswith(f"/messaging/messages/m{last}"), conv
        assert record.extra["facts"]["caller"] == 1 + ROUNDS  # the invitation's, then each
        assert record.state == "echo"
    answered = CONVERSATIONS * ROUNDS // PER_ANSWER
    assert result["answers"] == answered
    assert result["records"] == 2 * CONVERSATIONS * ROUNDS  # two events per message
    assert result["checkpoints"] == answered // EVERY
    assert result["conversations_checkpointed"] == answered * PER_ANSWER


def test_the_restart_replays_the_answers_after_the_last_checkpoint(tmp_path: Path) -> None:
    result = asyncio.run(logged(CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY, tmp_path))
    replay = result["replay"]
    assert replay["answers"] == EVERY  # logged after the last checkpoint, then replayed
    assert len(list(read_log(tmp_path / "input.log"))) == EVERY
    assert replay["records"] == 2 * EVERY * PER_ANSWER
    assert replay["restored"] == CONVERSATIONS + 1  # and the warm-up one
    assert replay["resent"] == EVERY * PER_ANSWER  # not suppressed: see NOT_COVERED


def test_the_output_says_what_it_leaves_out() -> None:
    out = measure(CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY, 1)
    assert out["not_covered"] == list(NOT_COVERED)
    assert any("re-send" in line for line in out["not_covered"])
    (pair,) = out["pairs"]
    for key in ("in_memory_us", "input_log_us", "ratio", "log_append_us"):
        assert pair[key] > 0, key
    for key in ("checkpoint_encode_us", "checkpoint_write_us", "restart_us_per_replayed_record"):
        assert pair[key] > 0, key
    assert set(out["median"]) == set(pair)
    json.dumps(out)  # printable as it is

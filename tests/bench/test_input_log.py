"""The input-log bench at a tiny size: its output's shape, its answers' bytes, that its
checkpoints really put into the store's file the conversations the answers touched, their
transcript lines and the channel's position, and that its restart check sees a restart
that did not replay the log."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from bench._input_log_parts import LoggingPort, Transcribing
from bench.engine_load import Samples
from bench.input_log import NOT_COVERED, InputLog, answers, logged, measure, read_log
from ucwa_flow.runtime.journal import Journal
from ucwa_flow.store import open_store
from ucwa_flow.store._codec import CONVERSATION_COLUMNS, conversation_of
from ucwa_flow.ucwa.events import decode_batch

CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY = 6, 2, 2, 2
AT = "/ucwa/oauth/v1/applications/104"


def test_an_answers_bytes_are_its_batch() -> None:
    """The bytes logged decode to the very events the engine is handed."""
    (answer,) = answers(Samples(), 2, 2, [10])
    assert decode_batch(json.loads(answer.raw)).events == answer.batch.events
    assert answer.hrefs == tuple(f"{AT}/communication/conversations/c{c}" for c in (0, 1))


def _read(path: Path, query: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def test_the_checkpoints_write_each_touched_conversation_as_it_now_is(tmp_path: Path) -> None:
    """Each conversation, read back from the SQLite file and decoded with the store's
    decoder, is as the last message of the timed run left it (the set-up's checkpoint
    alone would show its first message)."""
    result = asyncio.run(logged(CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY, tmp_path))
    columns = ", ".join(CONVERSATION_COLUMNS)
    rows = _read(tmp_path / "checkpoints.sqlite3", f"SELECT {columns} FROM conversations")
    records = {r.conversation: r for r in map(conversation_of, rows)}
    last = 10 + ROUNDS - 1
    for conv in range(CONVERSATIONS):
        record = records[f"{AT}/communication/conversations/c{conv}"]
        tracked = record.extra["conversation"]
        assert str(tracked["last_incoming"]).endswith(f"/messaging/messages/m{last}"), conv
        assert record.extra["facts"]["caller"] == 1 + ROUNDS  # the invitation's, then each
        assert record.state == "echo"
    answered = CONVERSATIONS * ROUNDS // PER_ANSWER
    assert result["answers"] == answered
    assert result["records"] == 2 * CONVERSATIONS * ROUNDS  # two events per message
    assert result["checkpoints"] == result["periodic_checkpoints"] == answered // EVERY
    assert result["conversations_checkpointed"] == answered * PER_ANSWER


def test_the_checkpoints_write_the_transcript_and_the_channel_position(tmp_path: Path) -> None:
    """Each message of the run is a ``message_in`` and a ``message_out`` line in the
    store's transcript, as a durable engine writes them; the position stored is the next
    link of the last answer checkpointed (the restart's answers came after it)."""
    result = asyncio.run(logged(CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY, tmp_path))
    messages = CONVERSATIONS * ROUNDS
    assert result["transcript_lines_written"] == 2 * messages
    path = tmp_path / "checkpoints.sqlite3"
    kinds = dict(_read(path, "SELECT kind, count(*) FROM transcript GROUP BY kind"))
    set_up = CONVERSATIONS + 1  # and the warm-up one: its first message, two answers
    assert kinds == {
        "message_in": set_up + messages,
        "message_out": 2 * set_up + messages,
        "state": set_up,
    }
    answered = CONVERSATIONS * ROUNDS // PER_ANSWER
    ((position,),) = _read(path, "SELECT events_next FROM applications")
    assert position == f"{AT}/events?ack={answered}"
    assert result["replay"]["position"] == position


def test_without_the_transcript_no_line_is_written(tmp_path: Path) -> None:
    result = asyncio.run(
        logged(CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY, tmp_path, transcript=False)
    )
    assert result["transcript_lines_written"] == 0
    assert _read(tmp_path / "checkpoints.sqlite3", "SELECT count(*) FROM transcript") == [(0,)]


def test_the_restart_replays_the_answers_after_the_last_checkpoint(tmp_path: Path) -> None:
    result = asyncio.run(logged(CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY, tmp_path))
    replay = result["replay"]
    assert replay["answers"] == EVERY  # logged after the last checkpoint, then replayed
    assert len(list(read_log(tmp_path / "input.log"))) == EVERY
    assert replay["records"] == 2 * EVERY * PER_ANSWER
    assert replay["restored"] == CONVERSATIONS + 1  # and the warm-up one
    assert replay["resent"] == EVERY * PER_ANSWER  # not suppressed: see NOT_COVERED
    assert replay["differences"] == 0


def test_the_restart_check_sees_a_restart_that_did_not_replay(tmp_path: Path) -> None:
    """Rebuilt from the store alone, the conversations the unreplayed answers touched
    differ: their facts (messages counted) and their last message in; the echo flow's
    state and variables do not change, so a check of those alone would pass."""
    result = asyncio.run(logged(CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY, tmp_path, replay=False))
    assert result["replay"]["records"] == 0
    assert result["replay"]["differences"] == 2 * EVERY * PER_ANSWER  # facts, tracker


def test_the_row_encoder_is_timed_after_a_checkpoint_not_in_it(tmp_path: Path) -> None:
    """A checkpoint keeps its records; the store's row encoder runs over them again only
    when asked, after the run (not in the run's time)."""

    async def run() -> None:
        port = LoggingPort()
        engine = Transcribing(port, Journal(lambda: 0.0))
        store = await open_store(tmp_path / "s.sqlite3")
        log = InputLog(engine, port, store, tmp_path / "input.log")
        try:
            await log.checkpoint(set())
            assert log.records == [()]
            assert log.row_encode() >= 0.0
        finally:
            log.close()
            await engine.aclose(stop=False)
            await store.aclose()

    asyncio.run(run())


def test_the_output_says_what_it_leaves_out() -> None:
    out = measure(CONVERSATIONS, ROUNDS, PER_ANSWER, EVERY, 1)
    assert out["not_covered"] == list(NOT_COVERED)
    assert any("re-send" in line for line in out["not_covered"])
    assert any("outbox" in line for line in out["not_covered"])
    assert out["checkpoints"] == out["periodic_checkpoints"] == 3
    assert "warning" not in out
    (pair,) = out["pairs"]
    for key in ("in_memory_us", "input_log_us", "ratio", "log_append_us"):
        assert pair[key] > 0, key
    for key in ("checkpoint_encode_us", "checkpoint_write_us", "restart_us_per_replayed_record"):
        assert pair[key] > 0, key
    for key in ("input_log_without_transcript_us", "ratio_without_transcript"):
        assert pair[key] > 0, key
    for key in ("transcript_us", "transcript_encode_us", "transcript_write_us"):
        assert key in pair, key
    assert out["transcript_lines_written"] == 2 * CONVERSATIONS * ROUNDS
    assert set(out["median"]) == set(pair)
    json.dumps(out)  # printable as it is


def test_a_run_with_fewer_than_two_periodic_checkpoints_says_so() -> None:
    """At ``EVERY`` larger than the run, the only checkpoint is the last one."""
    out = measure(CONVERSATIONS, ROUNDS, PER_ANSWER, 100, 1)
    assert (out["checkpoints"], out["periodic_checkpoints"]) == (1, 0)
    assert "0 periodic checkpoint(s)" in out["warning"]

"""The durable floor's answers hold as many records as the engine's batches of the same
conversations (a count of one sender's events halved them and doubled the floor)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from bench.durable_floor import answer
from bench.engine_load import Samples


def test_an_answer_holds_the_records_of_its_conversations() -> None:
    body, records = answer(3, 10)
    samples = Samples()
    assert records == sum(len(samples.message(conv, 10).events) for conv in range(3))
    assert len(json.loads(body)) == 3  # one sample body per conversation


def test_each_conversation_of_an_answer_is_its_own() -> None:
    body, _ = answer(2, 10)
    first, second = json.loads(body)
    assert "conversations/c0" in json.dumps(first)
    assert "conversations/c1" in json.dumps(second)


def test_the_file_floor_writes_every_answer_whole(tmp_path: Path, monkeypatch: Any) -> None:
    """The plain-file floor appends each answer's bytes once: the log ends up holding
    the answers of the whole run, header and position included, nothing dropped."""
    from bench import durable_floor

    monkeypatch.setattr(durable_floor, "CONVERSATIONS", 4)
    monkeypatch.setattr(durable_floor, "ROUNDS", 1)
    monkeypatch.setattr(tempfile, "TemporaryDirectory", lambda **_: _Kept(tmp_path))
    durable_floor.append_file(2)
    log = (tmp_path / "floor.log").read_bytes()
    body, _ = answer(2, 1)
    assert log.count(body) == 2
    assert log.endswith(b"events?ack=2")


class _Kept:
    """A temporary folder that stays, so that the test can read what was written."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> str:
        return str(self.path)

    def __exit__(self, *exc: object) -> None:
        return None

"""The durable floor's answers hold as many records as the engine's batches of the same
conversations (a count of one sender's events halved them and doubled the floor)."""

from __future__ import annotations

import json

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

"""The engine bench runs end to end on a few conversations and reports the paired yardstick
(one raw-trigger measurement after each timed chunk) beside the one-off one."""

from __future__ import annotations

import asyncio

import pytest

from bench import engine_load
from bench.engine_load import RawMachine, measure


def test_paired_ratio_is_one_pair_per_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_load, "TRIGGERS", 2 * engine_load.MODELS)  # the one-off: short
    monkeypatch.setattr(engine_load, "REPEATS", 1)
    result = asyncio.run(measure(30, 2))
    assert result["records"] == 30 * 2 * 2
    assert result["pairs"] == 2  # one chunk per round at 30 conversations
    low, mid, high = (result[f"paired_ratio_{k}"] for k in ("min", "to_raw_trigger", "max"))
    assert 0 < low <= mid <= high
    assert result["paired_cpu_ratio_to_raw_trigger"] > 0


def test_raw_machine_returns_to_its_first_state() -> None:
    machine = RawMachine()
    wall, cpu = machine.run(1)
    assert wall > 0
    assert cpu >= 0
    assert {model.state for model in machine.models} == {"a"}  # type: ignore[attr-defined]

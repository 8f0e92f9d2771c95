"""A batch's commit while the store fails: tried again with back-off while the failure is
retryable (one log line each time, nothing performed meanwhile), raised otherwise."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from bench.engine_durable import APPLICATION, set_up_batches
from bench.engine_load import CountingPort, Samples, _echo
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.durable import Durable
from ucwa_flow.store import StoreError, StoreLocked, open_store

ACCOUNT = "sip:toshm@contoso.com"


async def _handle_failing(folder: Path, failures: list[StoreError]) -> tuple[Durable, Any]:
    """A durable engine whose store fails its next commits with ``failures`` (in order),
    handed the set-up's first batch as a task."""
    store = await open_store(folder / "engine.sqlite3")
    clock = ManualClock()
    engine = Engine(_echo(), CountingPort(), clock)
    durable = Durable(engine, store, ACCOUNT, now=lambda: 1000.0)
    commit_now = store.commit_now

    def failing(account: str, changes: Any) -> Any:
        if failures:
            raise failures.pop(0)
        return commit_now(account, changes)

    store.commit_now = failing  # type: ignore[method-assign]
    invites, _ = next(set_up_batches(Samples(), 2))
    task = asyncio.create_task(durable.handle(invites, APPLICATION, f"{APPLICATION}/events?1"))
    return durable, task


async def test_a_retryable_failure_is_tried_again_with_back_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[StoreError] = [StoreLocked("the store is locked") for _ in range(3)]
    with caplog.at_level(logging.INFO, "ucwa_flow.runtime"):
        durable, task = await _handle_failing(tmp_path, failures)
        clock = durable.engine.clock
        assert isinstance(clock, ManualClock)
        for delay in (1.0, 2.0):
            await clock.advance(0)
            assert not task.done()
            assert durable.commits == 0
            await clock.advance(delay)
        await clock.advance(4.0)
        await task
    tries = [r.getMessage() for r in caplog.records if "nothing is sent" in r.getMessage()]
    assert [line.rsplit("(", 1)[1] for line in tries] == [
        "next try in 1 s)",
        "next try in 2 s)",
        "next try in 4 s)",
    ]
    assert "the store works again; carrying on" in caplog.text
    assert durable.commits == 1
    await durable.engine.aclose(stop=False)
    await durable.store.aclose()


async def test_a_failure_that_is_not_retryable_is_raised(tmp_path: Path) -> None:
    failures = [StoreLocked("locked"), StoreError("the store's schema is newer")]
    durable, task = await _handle_failing(tmp_path, failures)
    clock = durable.engine.clock
    assert isinstance(clock, ManualClock)
    await clock.advance(1.0)
    with pytest.raises(StoreError, match="schema is newer"):
        await task
    assert durable.commits == 0
    await durable.engine.aclose(stop=False)
    await durable.store.aclose()

"""Retention in the background, on a ManualClock: prunes on schedule, survives a bad pass."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest

from tests.guards import WAIT
from tests.store.builders import ACCOUNT, conversation
from tests.store.conftest import Target
from tests.store.test_postgres_server import kill_backends
from ucwa_flow.clock import ManualClock
from ucwa_flow.store import (
    DEFAULT_RETENTION,
    Changes,
    ConversationQuery,
    Ending,
    RetentionPass,
    RotationRecord,
    Store,
    StoreError,
    run_retention,
)

DAY = 86400.0


class Retention:
    """The task under test and the passes it reports, one at a time."""

    def __init__(self, store: Store, clock: ManualClock, **options: float) -> None:
        self.passes: asyncio.Queue[RetentionPass] = asyncio.Queue()
        self.task = asyncio.create_task(
            run_retention(store, clock, on_pass=self.passes.put_nowait, **options)
        )

    async def next_pass(self) -> RetentionPass:
        return await asyncio.wait_for(self.passes.get(), WAIT)

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def seed(store: Store, now: float) -> None:
    """Ended 31 days ago, ended 10 days and an hour ago, active since 60 days ago."""
    for key, ended in (("old", now - 31 * DAY), ("recent", now - 10 * DAY - 3600)):
        record = conversation(key, created_at=ended - 60, updated_at=ended - 60)
        await store.commit(
            ACCOUNT, Changes(conversations=(record,), ends=(Ending(f"/conv/{key}", "done", ended),))
        )
    live = conversation("live", created_at=now - 60 * DAY, updated_at=now - 60 * DAY)
    await store.commit(ACCOUNT, Changes(conversations=(live,)))


async def keys(store: Store) -> list[str]:
    return [c.conversation for c in await store.conversations(ConversationQuery())]


async def test_it_prunes_what_ended_30_days_ago_at_once_then_every_interval(
    store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    now = clock.now().timestamp()
    await seed(store, now)
    accepted = [
        RotationRecord(ACCOUNT, "desk", agent, n, now - days * DAY)
        for agent, n, days in (
            ("sip:ann@contoso.com", 1, 31),
            ("sip:bo@contoso.com", 2, 31),
            ("sip:cy@contoso.com", 3, 1),
        )
    ]
    await store.commit(ACCOUNT, Changes(rotations=tuple(accepted)))
    caplog.set_level(logging.INFO, logger="ucwa_flow.store")
    retention = Retention(store, clock, interval=10 * DAY)
    try:
        first = await retention.next_pass()
        assert first == RetentionPass(now, now - DEFAULT_RETENTION, pruned=1, rotations=2)
        assert await keys(store) == ["/conv/live", "/conv/recent"]
        assert (await store.load(ACCOUNT)).rotations == (accepted[2],)
        assert [r.getMessage() for r in caplog.records] == [
            "retention: pruned 1 conversation(s) that ended before 2025-12-06T09:00:00+00:00, "
            f"and 2 round-robin position(s) as old, from {store.target}"
        ]

        await clock.advance(10 * DAY)  # "recent" ended 20 days and an hour ago: kept
        second = await retention.next_pass()
        assert (second.at, second.pruned) == (now + 10 * DAY, 0)

        await clock.advance(10 * DAY)  # now 30 days and an hour ago: pruned
        third = await retention.next_pass()
        assert (third.at, third.pruned, third.rotations) == (now + 20 * DAY, 1, 0)
        assert await keys(store) == ["/conv/live"]  # active conversations are never pruned
        assert len(caplog.records) == 2  # a pass with nothing to prune logs at DEBUG only
        assert caplog.records[1].getMessage() == (
            "retention: pruned 1 conversation(s) that ended before 2025-12-26T09:00:00+00:00 "
            f"from {store.target}"
        )
    finally:
        await retention.stop()


async def test_a_retryable_store_error_is_logged_and_the_next_pass_prunes(
    target: Target, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = (
        await target.open(busy_timeout=0.05) if target.backend == "sqlite" else await target.open()
    )
    other: sqlite3.Connection | None = None
    retention: Retention | None = None
    try:
        await seed(store, clock.now().timestamp())
        if target.backend == "sqlite":
            other = sqlite3.connect(target.path or "", isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        else:
            await asyncio.to_thread(kill_backends, target.schema or "")  # the server drops us
        retention = Retention(store, clock, retention=30 * DAY, interval=3600)

        failed = await retention.next_pass()
        assert failed.pruned == 0
        assert isinstance(failed.error, StoreError)
        assert failed.error.retryable
        (warning,) = [r for r in caplog.records if r.name == "ucwa_flow.store"]
        assert warning.levelno == logging.WARNING
        assert warning.getMessage().startswith(f"retention: could not prune {store.target} (")
        assert warning.getMessage().endswith("); trying again in 1h")
        if other is not None:
            other.execute("ROLLBACK")

        await clock.advance(3600)
        retried = await retention.next_pass()
        assert (retried.pruned, retried.error) == (1, None)
        assert not retention.task.done()
    finally:
        if retention is not None:
            await retention.stop()
        if other is not None:
            other.close()
        await store.aclose()


async def test_a_store_error_that_will_not_pass_ends_the_task(
    store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    await store.aclose()  # no later pass can do better
    with pytest.raises(StoreError, match="is closed") as caught:
        await asyncio.wait_for(run_retention(store, clock), WAIT)
    assert not caught.value.retryable
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith(f"retention stopped: could not prune {store.target}: ")


async def test_nonsense_durations_are_refused(store: Store, clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="positive"):
        await run_retention(store, clock, retention=0)
    with pytest.raises(ValueError, match="positive"):
        await run_retention(store, clock, interval=-1)


async def test_a_retention_longer_than_dates_go_back_keeps_everything(
    store: Store, clock: ManualClock
) -> None:
    # `retention: 99999999999d` passed the deployment's checks and the task ended at once
    # with "ValueError: year -273788674 is out of range": nothing was pruned again
    now = clock.now().timestamp()
    await seed(store, now)
    retention = Retention(store, clock, retention=99999999999 * DAY)
    try:
        first = await retention.next_pass()
        assert (first.pruned, first.error) == (0, None)
        assert sorted(await keys(store)) == ["/conv/live", "/conv/old", "/conv/recent"]
    finally:
        await retention.stop()

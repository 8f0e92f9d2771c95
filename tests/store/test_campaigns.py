"""Campaign runs in the store, on both backends: committed with a step, loaded while under
way, written whole, never brought back once finished, migrated into an older store."""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

import pytest

from tests.store.builders import ACCOUNT, conversation, line
from tests.store.conftest import Target
from ucwa_flow.runtime.campaigns import CampaignRun, Person
from ucwa_flow.store import SCHEMA_VERSION, CampaignRecord, Changes, Store, StoreError


def run_data(**changes: Any) -> dict[str, Any]:
    run = CampaignRun(
        "run1",
        "poll",
        1,
        deque(["sip:bob@contoso.com", "sip:cy@contoso.com"]),
        {"yes": 1, "answers": ["sip:ann@contoso.com"]},
        [Person("sip:ann@contoso.com", "accepted", "/conv/ann", "ask", "bot", done=True)],
    )
    for name, value in changes.items():
        setattr(run, name, value)
    return run.to_data()


def record(run_id: str = "run1", *, at: float = 10.0, **changes: Any) -> CampaignRecord:
    status = "finished" if changes.get("closed") else "active"
    return CampaignRecord(ACCOUNT, run_id, "poll", run_data(**changes), at, at, status)


async def test_a_run_comes_back_with_its_cursor_variables_and_report_state(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(campaigns=(record(),)))
    (loaded,) = (await store.load(ACCOUNT)).campaigns
    assert loaded == record()
    run = CampaignRun.from_data(loaded.data)
    assert list(run.waiting) == ["sip:bob@contoso.com", "sip:cy@contoso.com"]
    assert [(p.uri, p.outcome, p.done) for p in run.people] == [
        ("sip:ann@contoso.com", "accepted", True)
    ]
    assert run.variables == {"yes": 1, "answers": ["sip:ann@contoso.com"]}
    assert (run.reported, run.closed) == (False, False)


async def test_a_run_is_committed_with_the_step_that_changed_it(store: Store) -> None:
    step = Changes(
        conversations=(conversation("/conv/ann", extra={"campaign": "run1"}),),
        transcript=(line("campaign_set", {"name": "yes"}, "/conv/ann"),),
        campaigns=(record(),),
    )
    await store.commit(ACCOUNT, step)
    snapshot = await store.load(ACCOUNT)
    assert [c.extra["campaign"] for c in snapshot.conversations] == ["run1"]
    assert [c.id for c in snapshot.campaigns] == ["run1"]


async def test_a_step_that_fails_leaves_the_run_as_it_was(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(campaigns=(record(),)))
    bad = dataclasses.replace(record(at=20.0), data={"x": float("nan")})
    with pytest.raises(StoreError):
        await store.commit(ACCOUNT, Changes(campaigns=(bad,)))
    other = dataclasses.replace(record(at=20.0, variables={"yes": 2}), account="sip:x@y")
    both = Changes(campaigns=(record(at=20.0, variables={"yes": 2}), other))
    with pytest.raises(StoreError):  # a run of another account is refused, nothing written
        await store.commit(ACCOUNT, both)
    (loaded,) = (await store.load(ACCOUNT)).campaigns
    assert loaded == record()


async def test_the_run_is_written_whole_each_time(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(campaigns=(record(),)))
    later = record(at=30.0, waiting=["sip:cy@contoso.com"], variables={"yes": 2})
    await store.commit(ACCOUNT, Changes(campaigns=(later,)))
    await store.commit(ACCOUNT, Changes(campaigns=(later,)))  # again: idempotent
    (loaded,) = (await store.load(ACCOUNT)).campaigns
    assert loaded.data == later.data
    assert (loaded.created_at, loaded.updated_at) == (10.0, 30.0)  # created once


async def test_a_finished_run_is_not_loaded_and_stays_finished(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(campaigns=(record(), record("run2"))))
    await store.commit(ACCOUNT, Changes(campaigns=(record(at=20.0, reported=True, closed=True),)))
    assert [c.id for c in (await store.load(ACCOUNT)).campaigns] == ["run2"]
    # a late write of the run as it was before (a retried commit) does not revive it
    await store.commit(ACCOUNT, Changes(campaigns=(record(at=30.0),)))
    assert [c.id for c in (await store.load(ACCOUNT)).campaigns] == ["run2"]
    assert (await store.load("sip:other@contoso.com")).campaigns == ()


async def test_an_older_store_gets_the_campaigns_table(target: Target) -> None:
    old = await target.open(_upto=3)
    await old.aclose()
    assert target.raw("SELECT MAX(version) FROM schema_migrations") == [(3,)]
    store = await target.open()
    try:
        assert (await store.load(ACCOUNT)).campaigns == ()
        await store.commit(ACCOUNT, Changes(campaigns=(record(),)))
        assert [c.id for c in (await store.load(ACCOUNT)).campaigns] == ["run1"]
    finally:
        await store.aclose()
    assert target.raw("SELECT MAX(version) FROM schema_migrations") == [(SCHEMA_VERSION,)]


async def test_retention_deletes_finished_runs_only(store: Store) -> None:
    finished = record("run2", at=20.0, reported=True, closed=True)
    await store.commit(ACCOUNT, Changes(campaigns=(record(), finished)))
    await store.prune(before=100.0)
    assert [c.id for c in (await store.load(ACCOUNT)).campaigns] == ["run1"]
    # run2 is gone: written again as under way, it is a new run (the upsert inserts it)
    await store.commit(ACCOUNT, Changes(campaigns=(record("run2", at=200.0),)))
    assert [c.id for c in (await store.load(ACCOUNT)).campaigns] == ["run1", "run2"]


async def test_an_application_gone_finishes_the_runs_under_way(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(campaigns=(record(),)))
    await store.forget_application(ACCOUNT, "gone", 50.0)
    assert (await store.load(ACCOUNT)).campaigns == ()

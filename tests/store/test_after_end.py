"""The work an ended conversation still waits on (an ``ended`` handler's webhooks), both
backends: written over its ended record as it goes on, loaded at a restart, kept by
retention until it is done (``ucwa_flow.store._after_end``).

A record ended with such work is marked (``extra["after_end"]``); one ended with pending
work but no mark is what a bot before this kept of every ended conversation (its last
pending work, answered or not): never loaded, never rewritten, pruned as ever.
"""

from __future__ import annotations

from dataclasses import replace

from tests.store.builders import ACCOUNT, conversation
from ucwa_flow.store import AfterEnd, Changes, ConversationQuery, PendingWork, Store

_RESUME = {"variables": {"pin": "98765", "topic": "jam"}, "calls": []}


def _webhook(key: str, after_end: bool = True) -> PendingWork:
    (work, _) = conversation().pending
    return replace(work, key=key, after_end=after_end, payload={"request": {"pin": "98765"}})


def _ended(key: str, *, marked: bool, at: float = 1000.0) -> Changes:
    extra = {"facts": {}, **({"after_end": _RESUME} if marked else {})}
    record = conversation(
        key, status="ended", ended_reason="caller", pending=(_webhook(f"k-{key}"),),
        extra=extra, updated_at=at, timers=(),
    )  # fmt: skip
    return Changes(conversations=(record,))


async def _one(store: Store, key: str) -> tuple[tuple[PendingWork, ...], dict[str, object]]:
    (record,) = await store.conversations(ConversationQuery(conversation=f"/conv/{key}"))
    return record.pending, dict(record.extra)


async def test_a_marked_record_is_loaded_rewritten_and_done(store: Store) -> None:
    await store.commit(ACCOUNT, _ended("a", marked=True))
    await store.commit(ACCOUNT, _ended("old", marked=False))  # a bot before this one's
    snapshot = await store.load(ACCOUNT)
    assert [r.conversation for r in snapshot.after_end] == ["/conv/a"]
    assert snapshot.conversations == ()  # not active
    (loaded,) = snapshot.after_end
    assert loaded.extra["after_end"] == _RESUME  # real values: the handler needs them
    assert loaded.variables["pin"] == "[redacted]"  # the record's own, redacted as ever

    # the first webhook answered, the handler started another one
    resume = {**_RESUME, "variables": {**_RESUME["variables"], "ticket": "T-1"}}
    second = (_webhook("k-a2"),)
    works = (AfterEnd("/conv/a", second, resume, 2000.0), AfterEnd("/conv/old", (), None, 2000))
    await store.commit(ACCOUNT, Changes(after_end=works))
    pending, extra = await _one(store, "a")
    assert [w.key for w in pending] == ["k-a2"]
    assert extra == {"facts": {}, "after_end": resume}
    pending, extra = await _one(store, "old")  # not marked: left as it was
    assert [w.key for w in pending] == ["k-old"]

    # done: no pending work, no mark, not loaded again; a late rewrite revives nothing
    await store.commit(ACCOUNT, Changes(after_end=(AfterEnd("/conv/a", (), None, 3000.0),)))
    assert await _one(store, "a") == ((), {"facts": {}})
    await store.commit(ACCOUNT, Changes(after_end=(AfterEnd("/conv/a", second, resume, 4000),)))
    assert await _one(store, "a") == ((), {"facts": {}})
    assert (await store.load(ACCOUNT)).after_end == ()


async def test_an_active_record_is_the_upserts_not_after_ends(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(conversations=(conversation("live"),)))
    work = AfterEnd("/conv/live", (), None, 2000.0)
    await store.commit(ACCOUNT, Changes(after_end=(work,)))
    (record,) = await store.conversations()
    assert record.status == "active"
    assert len(record.pending) == 2


async def test_retention_keeps_a_record_whose_work_still_waits(store: Store) -> None:
    await store.commit(ACCOUNT, _ended("waiting", marked=True, at=1000.0))
    await store.commit(ACCOUNT, _ended("old", marked=False, at=1000.0))
    pruned = await store.prune(before=10_000.0)
    assert pruned.conversations == 1  # the unmarked one
    (kept,) = await store.conversations()
    assert kept.conversation == "/conv/waiting"
    await store.commit(ACCOUNT, Changes(after_end=(AfterEnd(kept.conversation, (), None, 1),)))
    assert (await store.prune(before=10_000.0)).conversations == 1  # done: pruned as ever
    assert await store.conversations() == []

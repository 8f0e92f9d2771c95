"""Commit and load, on both backends: round trips, atomicity, idempotence, the outbox."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.store.builders import ACCOUNT, APP, conversation, line, outbox, position
from tests.store.conftest import Target
from ucwa_flow.store import (
    ApplicationRecord,
    Changes,
    ConversationRecord,
    Ending,
    OutboxUpdate,
    Pruned,
    Store,
    StoreConflict,
    StoreError,
)


def everything(n: int = 1) -> Changes:
    return Changes(
        position=position(n),
        conversations=(conversation("conv1"), conversation("conv2", state="menu")),
        outbox=(outbox("op-1"), outbox("op-2", kind="typing", payload=None)),
        transcript=(
            line("message_in", {"text": "hello"}, entry="in-1"),
            line("state", {"from": None, "to": "greeting"}, entry="st-1"),
            line("message_out", {"text": "reply op-1"}, entry="op-1"),
        ),
    )


async def test_every_record_kind_comes_back_as_committed(store: Store) -> None:
    result = await store.commit(ACCOUNT, everything())
    assert result.applied
    assert result.events_next == position(1).events_next

    snapshot = await store.load(ACCOUNT)
    assert snapshot.application == ApplicationRecord(
        ACCOUNT, APP, position(1).events_next, position(1).at
    )
    assert snapshot.conversations == (conversation("conv1"), conversation("conv2", state="menu"))
    assert [e.operation_context for e in snapshot.outbox] == ["op-1", "op-2"]
    first, second = snapshot.outbox
    assert first == dataclasses.replace(outbox("op-1"), id=first.id)
    assert second == dataclasses.replace(outbox("op-2", kind="typing", payload=None), id=second.id)
    assert first.id is not None
    assert second.id is not None
    assert first.id < second.id

    entries = await store.transcript(ACCOUNT, "/conv/conv1")
    assert [(e.kind, e.data, e.key) for e in entries] == [
        ("message_in", {"text": "hello"}, "in-1"),
        ("state", {"from": None, "to": "greeting"}, "st-1"),
        ("message_out", {"text": "reply op-1"}, "op-1"),
    ]
    assert [e.seq for e in entries] == sorted(e.seq for e in entries if e.seq is not None)


async def test_another_account_sees_nothing(store: Store) -> None:
    await store.commit(ACCOUNT, everything())
    snapshot = await store.load("sip:other@contoso.com")
    assert snapshot.application is None
    assert snapshot.conversations == ()
    assert snapshot.outbox == ()


async def test_a_failing_commit_writes_nothing(store: Store) -> None:
    await store.commit(ACCOUNT, everything())
    before = await store.load(ACCOUNT)
    broken = Changes(
        position=position(2),
        conversations=(conversation("conv1", state="menu"), conversation("conv3")),
        ends=(Ending("/conv/conv2", "caller left", 1001.0),),
        # written after the position, the conversations and the ending: the database's
        # CHECK on the status refuses it, and everything before it must go too
        outbox=(outbox("op-3"), outbox("op-4", status="bogus")),
        transcript=(line("message_in", {"text": "again"}, entry="in-2"),),
    )
    with pytest.raises(StoreConflict) as caught:
        await store.commit(ACCOUNT, broken)
    assert "\n" not in str(caught.value)
    assert not caught.value.retryable

    assert await store.load(ACCOUNT) == before
    assert len(await store.transcript(ACCOUNT, "/conv/conv1")) == 3
    assert [c.conversation for c in await store.conversations()] == ["/conv/conv1", "/conv/conv2"]


async def test_data_that_is_not_json_is_refused_before_anything_is_written(store: Store) -> None:
    await store.commit(ACCOUNT, everything())
    before = await store.load(ACCOUNT)
    bad = conversation("conv9", variables={"when": object()})
    with pytest.raises(StoreError, match=r"conversation /conv/conv9.*not JSON"):
        await store.commit(ACCOUNT, Changes(position=position(2), conversations=(bad,)))
    assert await store.load(ACCOUNT) == before


async def test_records_of_another_account_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="committed for account"):
        await store.commit(
            ACCOUNT, Changes(conversations=(conversation(account="sip:x@contoso.com"),))
        )
    assert (await store.load(ACCOUNT)).conversations == ()


async def test_the_same_changes_twice_change_nothing_the_second_time(store: Store) -> None:
    await store.commit(ACCOUNT, everything())
    first = await store.load(ACCOUNT)
    lines = await store.transcript(ACCOUNT, "/conv/conv1")

    await store.commit(ACCOUNT, everything())

    assert await store.load(ACCOUNT) == first
    assert await store.transcript(ACCOUNT, "/conv/conv1") == lines


async def test_a_batch_committed_before_is_not_applied_again(store: Store) -> None:
    def batch(after: str | None, n: int, text: str) -> Changes:
        return Changes(
            position=position(n),
            after=after,
            conversations=(conversation(misses=n),),
            transcript=(line("message_in", {"text": text}),),  # no key: not deduplicated
        )

    assert (await store.commit(ACCOUNT, batch(None, 1, "one"))).applied
    assert (await store.commit(ACCOUNT, batch(position(1).events_next, 2, "two"))).applied
    # the batch read at position 1 is delivered again: it was committed already
    again = await store.commit(ACCOUNT, batch(position(1).events_next, 2, "two"))
    assert not again.applied
    assert again.events_next == position(2).events_next

    assert (await store.load(ACCOUNT)).conversations[0].misses == 2
    texts = [e.data["text"] for e in await store.transcript(ACCOUNT, "/conv/conv1")]
    assert texts == ["one", "two"]


async def test_an_ended_conversation_stays_ended(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(conversations=(conversation(),)))
    await store.commit(ACCOUNT, Changes(ends=(Ending("/conv/conv1", "caller left", 1010.0),)))
    # a late upsert (a step replayed) and a second ending change nothing
    await store.commit(
        ACCOUNT,
        Changes(
            conversations=(conversation(state="menu"),),
            ends=(Ending("/conv/conv1", "idle timeout", 1020.0),),
        ),
    )
    assert (await store.load(ACCOUNT)).conversations == ()
    (record,) = await store.conversations()
    assert (record.status, record.ended_reason, record.state) == (
        "ended",
        "caller left",
        "greeting",
    )
    assert record.updated_at == 1010.0
    ended = [e for e in await store.transcript(ACCOUNT, "/conv/conv1") if e.kind == "ended"]
    assert [e.data for e in ended] == [{"reason": "caller left"}]


def turned_away(at: float, reason: str = "busy") -> ConversationRecord:
    """An invitation the bot turned away, as ``runtime.records.declined_record`` makes it."""
    return conversation(
        state="",
        variables={},
        misses=0,
        timers=(),
        pending=(),
        status="ended",
        ended_reason=reason,
        created_at=at,
        updated_at=at,
        extra={"declined": {"decision": reason, "by": "limits", "flow": "helpdesk"}},
    )


async def test_a_conversation_accepted_where_an_invitation_was_turned_away_is_kept(
    store: Store,
) -> None:
    # the server invites the bot into the same conversation href again: the accepted
    # conversation replaces the record of the invitation turned away (before, it was
    # never written: not restored at a restart, pruned while it ran)
    await store.commit(ACCOUNT, Changes(conversations=(turned_away(1000.0),)))
    await store.commit(ACCOUNT, Changes(conversations=(turned_away(1005.0, "declined"),)))
    (record,) = await store.conversations()
    assert (record.ended_reason, record.created_at) == ("declined", 1005.0)  # the last one
    await store.commit(
        ACCOUNT, Changes(conversations=(conversation(created_at=1010.0, updated_at=1010.0),))
    )
    await store.commit(
        ACCOUNT, Changes(conversations=(conversation(state="menu", updated_at=1020.0),))
    )
    (loaded,) = (await store.load(ACCOUNT)).conversations
    assert (loaded.status, loaded.state, loaded.created_at) == ("active", "menu", 1010.0)
    assert "declined" not in loaded.extra
    assert loaded.variables["name"] == "Ann"
    assert await store.prune(before=2000.0) == Pruned(0, 0)
    # an invitation turned away later never replaces the conversation under way...
    await store.commit(ACCOUNT, Changes(conversations=(turned_away(1030.0),)))
    (record,) = await store.conversations()
    assert (record.status, record.state) == ("active", "menu")
    # ...nor one that ended: that stays as it ended
    await store.commit(ACCOUNT, Changes(ends=(Ending("/conv/conv1", "caller left", 1040.0),)))
    await store.commit(ACCOUNT, Changes(conversations=(turned_away(1050.0), conversation())))
    (record,) = await store.conversations()
    assert (record.status, record.state, record.ended_reason) == ("ended", "menu", "caller left")


async def test_outbox_entries_move_from_pending_to_sent_or_failed(store: Store) -> None:
    await store.commit(ACCOUNT, everything())
    await store.commit(
        ACCOUNT,
        Changes(
            sent=(
                OutboxUpdate("op-1", "sent", 1001.0),
                OutboxUpdate("op-2", "pending", 1001.0, error="503 from the server"),
            )
        ),
    )
    (left,) = (await store.load(ACCOUNT)).outbox
    assert (left.operation_context, left.attempts, left.error) == ("op-2", 1, "503 from the server")

    await store.commit(ACCOUNT, Changes(sent=(OutboxUpdate("op-2", "failed", 1002.0, "gone"),)))
    # an update for an entry no longer pending (a replay) changes nothing
    await store.commit(ACCOUNT, Changes(sent=(OutboxUpdate("op-1", "failed", 1003.0, "late"),)))
    assert (await store.load(ACCOUNT)).outbox == ()

    outcomes = {e.key: e.outcome for e in await store.transcript(ACCOUNT, "/conv/conv1")}
    assert outcomes["op-1"] == "sent"
    assert outcomes["in-1"] is None


async def test_the_outcomes_of_many_sends_go_in_one_commit(store: Store) -> None:
    await store.commit(
        ACCOUNT,
        Changes(
            conversations=(conversation("conv1"), conversation("conv2")),
            outbox=(outbox("op-1"), outbox("op-2", "conv2"), outbox("op-3")),
            transcript=(
                line("message_out", {"text": "one"}, entry="op-1"),
                line("message_out", {"text": "two"}, "conv2", entry="op-2"),
                line("message_out", {"text": "three"}, entry="op-3"),
            ),
        ),
    )
    await store.commit(ACCOUNT, Changes(sent=(OutboxUpdate("op-1", "sent", 1001.0),)))
    await store.commit(
        ACCOUNT,
        Changes(
            sent=(
                OutboxUpdate("op-1", "failed", 1002.0, "late"),  # final already: a replay
                OutboxUpdate("op-2", "failed", 1002.0, "gone"),
                OutboxUpdate("op-3", "pending", 1002.0, "503 from the server"),
            )
        ),
    )
    (left,) = (await store.load(ACCOUNT)).outbox
    assert (left.operation_context, left.attempts, left.error) == ("op-3", 1, "503 from the server")
    # one send updated again and again in one commit: in order (a retry, its success, and
    # a late failure that changes nothing)
    await store.commit(
        ACCOUNT,
        Changes(
            sent=(
                OutboxUpdate("op-3", "pending", 1003.0, "503 again"),
                OutboxUpdate("op-3", "sent", 1003.0),
                OutboxUpdate("op-3", "failed", 1003.0, "late"),
            )
        ),
    )
    assert (await store.load(ACCOUNT)).outbox == ()
    first = {e.key: e.outcome for e in await store.transcript(ACCOUNT, "/conv/conv1")}
    second = {e.key: e.outcome for e in await store.transcript(ACCOUNT, "/conv/conv2")}
    assert first == {"op-1": "sent", "op-3": "sent"}
    assert second == {"op-2": "failed: gone"}


async def test_an_outbox_entry_is_kept_once_by_operation_context(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(outbox=(outbox("op-1"),)))
    await store.commit(ACCOUNT, Changes(outbox=(outbox("op-1", payload={"text": "other"}),)))
    (entry,) = (await store.load(ACCOUNT)).outbox
    assert entry.payload == {"text": "reply op-1"}


async def test_a_forgotten_application_ends_its_conversations(store: Store) -> None:
    other = "sip:other@contoso.com"
    await store.commit(ACCOUNT, everything())
    await store.commit(other, Changes(conversations=(conversation("conv9", account=other),)))

    ended = await store.forget_application(ACCOUNT, "application gone (410)", 2000.0)

    assert ended == 2
    snapshot = await store.load(ACCOUNT)
    assert (snapshot.application, snapshot.conversations, snapshot.outbox) == (None, (), ())
    records = await store.conversations()
    reasons = {c.conversation: (c.status, c.ended_reason) for c in records}
    assert reasons == {
        "/conv/conv1": ("ended", "application gone (410)"),
        "/conv/conv2": ("ended", "application gone (410)"),
        "/conv/conv9": ("active", None),
    }
    assert len((await store.load(other)).conversations) == 1
    assert await store.forget_application(ACCOUNT, "again", 2001.0) == 0


async def test_two_processes_committing_the_same_batch_apply_it_once(target: Target) -> None:
    first, second = await target.open(), await target.open()
    try:
        await first.commit(ACCOUNT, Changes(position=position(1)))
        same = Changes(
            position=position(2),
            after=position(1).events_next,
            transcript=(line("message_in", {"text": "once"}),),  # no key: only `after` guards
        )
        results = await asyncio.gather(first.commit(ACCOUNT, same), second.commit(ACCOUNT, same))
        assert sorted(r.applied for r in results) == [False, True]
        assert len(await first.transcript(ACCOUNT, "/conv/conv1")) == 1
    finally:
        await first.aclose()
        await second.aclose()

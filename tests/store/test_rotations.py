"""Round-robin turns in the store, on both backends: committed with a step, one per
account, flow and agent (the latest commit wins), loaded at start, migrated into an older
store."""

from __future__ import annotations

import pytest

from tests.store.builders import ACCOUNT, conversation, line
from tests.store.conftest import Target
from ucwa_flow.store import SCHEMA_VERSION, Changes, RotationRecord, Store, StoreError

MARCO = "sip:marco@contoso.com"
DESK = "sip:service-desk@contoso.com"


def turn(agent: str, flow: str = "desk", *, n: int = 1, at: float = 10.0) -> RotationRecord:
    return RotationRecord(ACCOUNT, flow, agent, n, at)


async def test_the_agent_accepted_last_comes_back_per_flow(store: Store) -> None:
    assert (await store.load(ACCOUNT)).rotations == ()
    await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO), turn(DESK, "sales"))))
    assert (await store.load(ACCOUNT)).rotations == (turn(MARCO), turn(DESK, "sales"))


async def test_one_row_per_agent_of_a_flow_the_latest_commit_wins(
    target: Target, store: Store
) -> None:
    await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO),)))
    await store.commit(ACCOUNT, Changes(rotations=(turn(DESK, n=2, at=20.0),)))
    await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO, n=3, at=30.0),)))
    await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO, n=3, at=30.0),)))  # idempotent
    # by turn within the flow
    assert (await store.load(ACCOUNT)).rotations == (
        turn(DESK, n=2, at=20.0),
        turn(MARCO, n=3, at=30.0),
    )
    assert target.raw("SELECT COUNT(*) FROM handoff_rotations") == [(2,)]
    # another account's flow of the same name is another row
    other = RotationRecord("sip:other@contoso.com", "desk", MARCO, 1, 30.0)
    await store.commit(other.account, Changes(rotations=(other,)))
    assert (await store.load(other.account)).rotations == (other,)
    assert len((await store.load(ACCOUNT)).rotations) == 2


async def test_the_position_is_committed_with_the_step_or_not_at_all(store: Store) -> None:
    step = Changes(
        conversations=(conversation("lene"),),
        transcript=(line("bridge_connected", {"agent": MARCO}, "lene"),),
        rotations=(turn(MARCO),),
    )
    assert step.rows == 3
    await store.commit(ACCOUNT, step)
    snapshot = await store.load(ACCOUNT)
    assert [c.conversation for c in snapshot.conversations] == ["/conv/lene"]
    assert snapshot.rotations == (turn(MARCO),)
    bad = Changes(conversations=(conversation("ann"),), rotations=(turn(DESK, at=1e400),))
    with pytest.raises(StoreError, match="round-robin position"):
        await store.commit(ACCOUNT, bad)
    foreign = RotationRecord("sip:other@contoso.com", "desk", DESK, 1, 20.0)
    with pytest.raises(StoreError, match="committed for account"):
        await store.commit(ACCOUNT, Changes(rotations=(turn(DESK, at=20.0), foreign)))
    snapshot = await store.load(ACCOUNT)
    assert [c.conversation for c in snapshot.conversations] == ["/conv/lene"]
    assert snapshot.rotations == (turn(MARCO),)


async def test_retention_and_a_lost_application_keep_the_positions(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO),)))
    await store.prune(before=1e9)
    await store.forget_application(ACCOUNT, "gone", 50.0)
    assert (await store.load(ACCOUNT)).rotations == (turn(MARCO),)


async def test_an_older_store_gets_the_rotations_table(target: Target) -> None:
    old = await target.open(_upto=4)
    try:  # a version 4 store in use: a conversation, no positions
        await old.commit(ACCOUNT, Changes(conversations=(conversation("lene"),)))
    finally:
        await old.aclose()
    assert target.raw("SELECT MAX(version) FROM schema_migrations") == [(4,)]
    with pytest.raises(Exception, match="handoff_rotations"):
        target.raw("SELECT COUNT(*) FROM handoff_rotations")
    store = await target.open()
    try:
        snapshot = await store.load(ACCOUNT)
        assert [c.conversation for c in snapshot.conversations] == ["/conv/lene"]
        assert snapshot.rotations == ()
        await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO),)))
        assert (await store.load(ACCOUNT)).rotations == (turn(MARCO),)
    finally:
        await store.aclose()
    assert target.raw("SELECT MAX(version) FROM schema_migrations") == [(SCHEMA_VERSION,)]


async def test_a_turn_only_rises(store: Store) -> None:
    await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO, n=3, at=30.0),)))
    await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO, n=2, at=40.0),)))  # an older one
    assert (await store.load(ACCOUNT)).rotations == (turn(MARCO, n=3, at=30.0),)

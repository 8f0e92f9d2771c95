"""Round-robin turns in the store, on both backends: committed with a step, one per
account, flow and agent (the latest commit wins), loaded at start, migrated into an older
store."""

from __future__ import annotations

import pytest

from tests.store.builders import ACCOUNT, conversation, line
from tests.store.conftest import Target
from ucwa_flow.runtime.rotation import Rotation
from ucwa_flow.store import SCHEMA_VERSION, Changes, Pruned, RotationRecord, Store, StoreError

MARCO = "sip:marco@contoso.com"
DESK = "sip:service-desk@contoso.com"
ANN = "sip:ann@contoso.com"


class _Host:
    """An engine without a journal, for :class:`Rotation`."""

    journal = None


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


async def test_retention_prunes_the_positions_older_than_its_cutoff(store: Store) -> None:
    """The agents of a removed flow, or who left, or have not accepted since the cutoff
    lose their place, in every account; a lost application keeps the positions."""
    other = RotationRecord("sip:other@contoso.com", "desk", MARCO, 1, 10.0)
    await store.commit(other.account, Changes(rotations=(other,)))
    removed = turn(ANN, "retired-flow", at=5.0)
    await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO), turn(DESK, n=2, at=20.0), removed)))
    assert await store.prune(before=15.0) == Pruned(0, 3)
    assert (await store.load(ACCOUNT)).rotations == (turn(DESK, n=2, at=20.0),)
    assert (await store.load(other.account)).rotations == ()
    assert await store.prune(before=20.0) == Pruned(0, 0)  # as old as the cutoff: kept
    await store.forget_application(ACCOUNT, "gone", 50.0)
    assert (await store.load(ACCOUNT)).rotations == (turn(DESK, n=2, at=20.0),)
    # Marco accepts again: a new place, after Desk's
    await store.commit(ACCOUNT, Changes(rotations=(turn(MARCO, n=3, at=30.0),)))
    assert (await store.load(ACCOUNT)).rotations == (
        turn(DESK, n=2, at=20.0),
        turn(MARCO, n=3, at=30.0),
    )


async def test_agents_pruned_from_a_rotation_count_as_never_having_accepted(
    store: Store,
) -> None:
    """A search none of whose agents kept a place starts at its first agent again."""
    agents = (ANN, MARCO, DESK)
    await store.commit(ACCOUNT, Changes(rotations=(turn(ANN, at=10.0), turn(MARCO, n=2, at=20.0))))
    before, after = Rotation(_Host()), Rotation(_Host())
    before.restore((await store.load(ACCOUNT)).rotations)
    assert before.first("desk", agents) == 2  # after Marco, who accepted last
    await store.prune(before=25.0)
    after.restore((await store.load(ACCOUNT)).rotations)
    assert after.first("desk", agents) == 0


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

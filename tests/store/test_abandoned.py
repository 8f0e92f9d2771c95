"""Invitations given up before the server named them, in the store, on both backends:
committed with a step, dropped once named, the newest kept, loaded at start, dropped with
a lost application."""

from __future__ import annotations

from tests.store.conftest import Target
from ucwa_flow.store import Abandoned, Changes, Store
from ucwa_flow.store._abandoned import KEPT

ACCOUNT = "sip:toshm@contoso.com"


def given_up(*ops: str, at: float = 10.0) -> Changes:
    return Changes(abandoned=tuple(Abandoned(op, at) for op in ops))


async def test_kept_until_named_and_loaded_oldest_first(store: Store) -> None:
    assert (await store.load(ACCOUNT)).abandoned == ()
    await store.commit(ACCOUNT, given_up("b", at=20.0))
    await store.commit(ACCOUNT, given_up("a", at=10.0))
    await store.commit(ACCOUNT, given_up("a", at=30.0))  # written again: changes nothing
    assert (await store.load(ACCOUNT)).abandoned == ("a", "b")
    assert (await store.load("sip:other@contoso.com")).abandoned == ()
    await store.commit(ACCOUNT, Changes(abandoned=(Abandoned("a", None),)))
    assert (await store.load(ACCOUNT)).abandoned == ("b",)
    # given up and named in one page: the last change wins
    both = (Abandoned("c", 40.0), Abandoned("c", None), Abandoned("d", None), Abandoned("d", 50.0))
    await store.commit(ACCOUNT, Changes(abandoned=both))
    assert (await store.load(ACCOUNT)).abandoned == ("b", "d")


async def test_the_newest_are_kept(target: Target, store: Store) -> None:
    ops = [f"op{i:05d}" for i in range(KEPT + 3)]
    await store.commit(
        ACCOUNT, Changes(abandoned=tuple(Abandoned(op, float(i)) for i, op in enumerate(ops)))
    )
    assert (await store.load(ACCOUNT)).abandoned == tuple(ops[3:])
    rows = target.raw("SELECT COUNT(*) FROM abandoned_invitations WHERE account = %s", (ACCOUNT,))
    assert rows == [(KEPT,)]


async def test_a_lost_application_drops_them(store: Store) -> None:
    await store.commit(ACCOUNT, given_up("a", "b"))
    await store.forget_application(ACCOUNT, "the application expired", 50.0)
    assert (await store.load(ACCOUNT)).abandoned == ()

"""A bot's requests go out only under the lease it was started with (docs/ha.md, "Fencing").

A worker that loses an account's lease and takes it again (a new token) starts a new bot
for it, while the old bot may still be closing: its replies queued, its client open. The
lease check of a request used to ask whether the *account* was held and provably valid,
so once the account was held again the old bot's requests passed it: a reply it still
had queued could go out beside the new bot's copy of it (the new bot sends what the old
one committed and did not record as sent, once its event channel shows it was not), and
the caller would hear it twice. A refused request also revoked the runner's current store, the new
bot's. Now each bot's check is its own lease's (the token it started with), and a refusal
revokes its own store's writes.

The accounts are on the simulator, on loopback, through the client each bot gets
(:meth:`AccountRunner._client`); the lease is the coordinator's bookkeeping
(:class:`Holding`), lost and taken again as its ``_lose`` and ``_grant`` do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import PASSWORD
from tests.service.world import HELPDESK, world
from ucwa_flow.service import Backoff
from ucwa_flow.service._account import AccountRunner, LeaseExpired, Server
from ucwa_flow.service._held import Held, Holding
from ucwa_flow.service._stores import StoreHub
from ucwa_flow.store import FencedStore, open_store

NOW = 1000.0  # the worker's monotonic clock, standing still: every lease below is valid


async def test_a_bot_sends_nothing_once_its_account_is_held_under_a_later_lease(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        inner = await open_store(str(tmp_path / "store"))
        held = Holding(ttl=10.0, margin=2.5, monotonic=lambda: NOW)
        runner = AccountRunner(
            w.account("helpdesk", HELPDESK),
            {},
            server=Server(w.url),
            stores=StoreHub(None, w.clock, retention=3600.0, probe=60.0),
            clock=w.clock,
            backoff=Backoff(),
        )
        runner.lease_valid = held.validity("helpdesk")

        # the first lease (token 4) and its bot's client, as _grant and _attempt make them
        held["helpdesk"] = Held(4, NOW + 60.0)
        runner.lease_token = 4
        runner._fenced = old_store = FencedStore(inner, 4)
        old = runner._client(PASSWORD)
        # lost, and taken again by the same worker (token 6): a new bot, a new client
        del held["helpdesk"]
        held["helpdesk"] = Held(6, NOW + 60.0)
        runner.lease_token = 6
        runner._fenced = new_store = FencedStore(inner, 6)
        new = runner._client(PASSWORD)
        try:
            await new.sign_in()  # the new bot talks to the server
            with pytest.raises(LeaseExpired):  # the old one, still open, does not
                await old.sign_in()
            assert old_store.revoked is not None
            assert new_store.revoked is None  # the new bot still commits
            await new.sign_in()
        finally:
            await old.aclose()
            await new.aclose()
            await inner.aclose()

"""The conversation stores of a deployment: where each account's conversations are kept.

``store:`` in the deployment file is a PostgreSQL URL (one store shared by every
account: the account's SIP URI separates the rows, as with ``run --store``) or a folder
(one SQLite file per account in it, named as ``run`` names the account's default file);
without it each account uses its default file in the user's state directory
(:func:`~ucwa_flow.store.default_state_path`), the very file ``run`` and ``transcripts
--account`` use. A store is opened when its first account starts, kept for the life of
the service, pruned in the background (``retention:``, one pruning task per store
target) and probed for readiness. Each account has its own store object, so on a shared
PostgreSQL server each has its own connection and one account's commits never wait
behind another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from urllib.parse import quote

from ucwa_flow.clock import Clock
from ucwa_flow.errors import OperationalError
from ucwa_flow.store import (
    ConversationQuery,
    Store,
    StoreError,
    default_state_path,
    describe_target,
    is_postgres_url,
    open_store,
    run_retention,
)

__all__ = ["StoreHub", "StoreNotOpened", "named", "store_target"]

log = logging.getLogger("ucwa_flow.service")


def store_target(store: str | None, user: str) -> str:
    """The store ``user``'s conversations are kept in (a URL or a SQLite file path)."""
    if store is not None and is_postgres_url(store):
        return store
    default = default_state_path(user)
    if store is None:
        return str(default)
    return str(Path(store).expanduser() / default.name)


def named(target: str, name: str | None) -> str:
    """A PostgreSQL ``target`` whose connections are called ``name`` on the server."""
    if name is None or not is_postgres_url(target):
        return target
    glue = "&" if "?" in target else "?"
    return f"{target}{glue}application_name={quote(name)}"


class StoreNotOpened(OperationalError):
    """An account's store could not be opened; ``retryable`` as the store's error said
    (``False``: a folder that cannot be created, a file that is not a database, a store
    of a newer version: a mistake in the deployment, not a passing trouble)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class StoreHub:
    """Opens each account's store once, and prunes and probes it."""

    def __init__(self, store: str | None, clock: Clock, *, retention: float, probe: float) -> None:
        self._store = store
        self._clock = clock
        self._retention = retention
        self._probe = probe
        self._open: dict[str, Store] = {}
        self._healthy: dict[str, bool] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._pruned: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        #: what the PostgreSQL connections are called (a worker's id; see leases)
        self.application_name: str | None = None

    @property
    def healthy(self) -> bool:
        """Every store opened so far answered its last probe (and none failed to open)."""
        return all(self._healthy.values())

    @property
    def unhealthy(self) -> list[str]:
        """The users whose store did not answer its last probe (or failed to open)."""
        return sorted(user for user, healthy in self._healthy.items() if not healthy)

    async def open(self, user: str) -> Store:
        """The store of ``user``; :class:`StoreNotOpened` (one line) when it cannot be
        opened (the account tries again later)."""
        target = store_target(self._store, user)
        async with self._locks.setdefault(user, asyncio.Lock()):
            if user in self._open:
                return self._open[user]
            try:
                # exclusive: a SQLite file another process serves is refused (StoreInUse)
                store = await open_store(named(target, self.application_name), exclusive=True)
            except StoreError as exc:
                self._healthy[user] = False
                message = f"cannot open the conversation store: {exc}"
                raise StoreNotOpened(message, retryable=exc.retryable) from None
            self._open[user] = store
            self._healthy[user] = True
            if target not in self._pruned:  # prune() covers every account of a store
                self._pruned.add(target)
                self._tasks.append(asyncio.create_task(self._prune(store), name="retention"))
            self._tasks.append(asyncio.create_task(self._watch(user, store), name="store probe"))
            return store

    async def check(self, users: list[str]) -> None:
        """Open the store of every one of ``users`` now: :class:`StoreNotOpened` for the
        first that cannot be opened for good. One that may yet open (locked, a full disk)
        is left for its account, which tries again with back-off."""
        for user in users:
            try:
                await self.open(user)
            except StoreNotOpened as exc:
                if not exc.retryable:
                    raise

    async def _prune(self, store: Store) -> None:
        with contextlib.suppress(StoreError):  # logged by run_retention
            await run_retention(store, self._clock, retention=self._retention)

    async def _watch(self, user: str, store: Store) -> None:
        while True:
            await self._clock.sleep(self._probe)
            try:
                await store.conversations(ConversationQuery(account=user, limit=1))
            except StoreError as exc:
                if self._healthy.get(user, True):
                    log.warning("store %s: %s", describe_target(store.target), exc)
                self._healthy[user] = False
            else:
                self._healthy[user] = True

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for store in self._open.values():
            try:
                await store.aclose()
            except StoreError as exc:
                log.warning("could not close %s: %s", describe_target(store.target), exc)
        self._open.clear()

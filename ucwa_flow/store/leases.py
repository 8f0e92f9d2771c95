"""Account leases on a shared PostgreSQL store: who serves which bot account.

Several ``ucwa-flow serve`` processes (*workers*) pointed at one PostgreSQL store share
the bot accounts of a deployment. Each account is owned by at most one worker at a time
through a row of ``leases``: the owner (``worker``), an expiry, and a **fencing token**
that grows by one with every new owner. :class:`LeaseBook` is the narrow interface::

    book = LeaseBook(await open_store(url))           # a store object of its own
    await book.join(me)                                # WorkerInfo: id, host, pid
    lease = await book.acquire(account, me.id, ttl)    # None: someone else holds it
    store_for_bot = FencedStore(store, lease.token)    # every write carries the token
    renewed = await book.heartbeat(me, ttl)            # seen_at + every lease it holds
    await book.release(account, me.id, lease.token)    # graceful hand-over, at once
    await book.leave(me.id)                            # release all, mark the worker left

Rules that make it safe:

* Every expiry decision uses the **database's clock** (``now()``), never a worker's: a
  lease is free when its ``expires_at <= now()`` or it has no worker.
* :meth:`LeaseBook.acquire` takes the lease in one ``INSERT ... ON CONFLICT DO UPDATE ...
  WHERE`` statement (after its locks, see :mod:`._lease_taking`): PostgreSQL locks the row and
  re-checks the condition on its newest version, so two workers racing for a free lease cannot
  both get it; the winner's token is the old one plus one (1 for an account never leased).
* Renewal (:meth:`LeaseBook.heartbeat`, :meth:`LeaseBook.renew`) only extends a lease that
  is still the worker's and not expired, by the database's clock. A worker must not rely on
  a lease past (the moment it *sent* its last successful renewal + ttl - a margin) on its
  own monotonic clock: the database computed a later expiry than that.
* A worker that lost its lease (paused past the expiry, cut off) is fenced: its writes
  carry its old token and the store refuses them in their own transaction
  (:class:`~ucwa_flow.store.StoreFenced`, :mod:`ucwa_flow.store._fencing`).

``account_configs`` records, per account, a digest of the deployment's spec of it
(:meth:`LeaseBook.claim_config`): a worker whose deployment file disagrees with a live (or
starting) worker's is refused with :class:`ConfigConflict`. SQLite stores are
single-process and have no leases: a LeaseBook needs a PostgreSQL store.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass

from ucwa_flow.store._errors import StoreError
from ucwa_flow.store._lease_taking import (
    LEASE_COLUMNS,
    STALLED,
    TTL,
    acquire_program,
    application_name,
    named,
)
from ucwa_flow.store._sql import Program, Rows, Sql
from ucwa_flow.store._store import Store

__all__ = [
    "LEFT_KEPT",
    "STALLED",
    "ConfigConflict",
    "Lease",
    "LeaseBook",
    "LeaseLost",
    "WorkerInfo",
    "application_name",
    "new_worker",
]

#: seconds a worker that left stays marked so (:meth:`LeaseBook.leave`): a statement of its
#: own cannot reach the server that late (TCP gives a connection up within about 15 minutes)
LEFT_KEPT = 86400.0


class LeaseLost(StoreError):
    """A renewal found the lease expired or owned by another worker."""


class ConfigConflict(StoreError):
    """Another live worker serves an account with a different deployment spec."""


@dataclass(frozen=True, slots=True)
class Lease:
    """One account's lease as the database saw it (ages and expiry by its clock)."""

    account: str
    worker: str | None  # None: released
    token: int
    expires_in: float  # seconds from the database's now (negative: expired)
    held_for: float  # seconds since acquired_at
    renewed_ago: float  # seconds since renewed_at

    @property
    def valid(self) -> bool:
        return self.worker is not None and self.expires_in > 0


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker process: ``id`` is unique per process run."""

    id: str
    host: str
    pid: int
    started_at: dt.datetime | None = None
    seen_ago: float | None = None  # seconds since its last heartbeat (database clock)
    #: seconds it still keeps away from the accounts (database clock; None: it takes them):
    #: a store it could not open (:meth:`LeaseBook.give_up`)
    away_for: float | None = None


def new_worker() -> WorkerInfo:
    """This process as a worker: ``host:pid:random``."""
    host = socket.gethostname()
    return WorkerInfo(f"{host}:{os.getpid()}:{uuid.uuid4().hex[:6]}", host, os.getpid())


#: the worker row ``w`` is live: seen in the last ``%s`` seconds (the database's clock) by a
#: renewal after it joined, and not left (LeaseBook.workers); the fair shares' rule and the
#: configurations'
_LIVE = (
    "(w.left_at IS NULL AND w.seen_at > now() - %s * interval '1 second' "
    "AND w.seen_at > w.started_at)"
)
#: the worker row ``w`` is starting: joined in the last ``%s`` seconds, not renewed yet, and
#: connected (its sessions are named after it): it holds the configurations it registered
#: (LeaseBook.claim_config), a worker that died before its first renewal does not, nor one
#: that left
_STARTING = (
    "(w.left_at IS NULL AND w.seen_at > now() - %s * interval '1 second' AND EXISTS (SELECT 1 FROM "
    "pg_stat_activity a WHERE starts_with(a.application_name, " + named("w.id") + ")))"
)


#: the worker row ``w`` takes accounts: not kept away from them (LeaseBook.give_up)
_TAKING = "(w.away_until IS NULL OR w.away_until <= now())"


def _lease(row: tuple[object, ...]) -> Lease:
    account, worker, token, expires, held, renewed = row
    return Lease(
        str(account),
        None if worker is None else str(worker),
        int(str(token)),
        float(str(expires)),
        float(str(held)),
        float(str(renewed)),
    )


class LeaseBook:
    """The leases, workers and account configurations of a PostgreSQL ``store`` (see the
    module docstring). Give it a store object of its own: its operations then never wait
    behind an account's commits. All methods may raise :class:`StoreError`."""

    def __init__(self, store: Store) -> None:
        if store.backend != "postgres":
            raise StoreError(
                f"{store.target}: leases need a PostgreSQL store (SQLite serves one process)"
            )
        self.store = store

    async def _do(self, program: Program[object]) -> Rows:
        result = await self.store._run(program, write=True)
        assert isinstance(result, list)
        return result

    # -- workers --------------------------------------------------------------------------

    async def join(self, worker: WorkerInfo) -> None:
        """Record ``worker`` as joined now: listed, not live until it renews (see
        :meth:`workers`). Joining again (a join cut short, tried again with the same id)
        starts it over: a worker that never renewed must not count as live, for the others
        would hand it accounts it may never take. A worker that left stays gone."""
        await self._do(
            _one(
                "INSERT INTO workers (id, host, pid, started_at, seen_at) "
                "VALUES (%s, %s, %s, now(), now()) ON CONFLICT (id) DO UPDATE "
                "SET started_at = now(), seen_at = now() WHERE workers.left_at IS NULL",
                (worker.id, worker.host, worker.pid),
            )
        )

    async def heartbeat(self, worker: WorkerInfo, ttl: float) -> list[Lease]:
        """Mark ``worker`` seen and extend every unexpired lease it holds to now + ``ttl``;
        returns those leases (one it held that is missing has expired or was taken).

        Workers not seen for ten lease times (a minute at least) are forgotten. A worker
        the others forgot that renews again (it was frozen that long: ``SIGSTOP``, a
        virtual machine paused, then resumed) is recorded again, as if it joined again
        (:meth:`join`): listed at once, live from its next renewal. It was never recorded
        again, and the others shared the accounts out without it for good.

        A worker that left (:meth:`leave`) is not recorded again, nor are its leases
        renewed: its row stays, marked left, for :data:`LEFT_KEPT`, so a heartbeat of its
        own still on its way to the server when it left (a heartbeat that hung, a
        connection given up whose statement reaches the server later) finds the mark,
        whichever order the two transactions run in: before, the upsert inserted the row
        the leave had deleted, and the worker that left was listed again (a ghost)."""
        forget = max(60.0, 10 * ttl)  # a worker killed never left: forget it after a while
        rows = await self._do(
            _three(
                Sql(
                    "INSERT INTO workers (id, host, pid, started_at, seen_at) "
                    "VALUES (%s, %s, %s, now(), now()) "
                    "ON CONFLICT (id) DO UPDATE SET seen_at = now() WHERE workers.left_at IS NULL",
                    (worker.id, worker.host, worker.pid),
                ),
                Sql(  # not waiting for a row a frozen acquire holds (_lease_taking._NOT_LEFT)
                    "DELETE FROM workers WHERE id IN (SELECT id FROM workers WHERE CASE "
                    "WHEN left_at IS NULL THEN seen_at < now() - %s * interval '1 second' "
                    "ELSE left_at < now() - %s * interval '1 second' END "
                    "FOR UPDATE SKIP LOCKED)",
                    (forget, LEFT_KEPT),
                ),
                Sql(
                    f"UPDATE leases SET expires_at = {TTL}, renewed_at = now() "
                    "WHERE worker = %s AND expires_at > now() AND NOT EXISTS (SELECT 1 FROM "
                    "workers w WHERE w.id = leases.worker AND w.left_at IS NOT NULL) "
                    "RETURNING " + LEASE_COLUMNS,
                    (ttl, worker.id),
                ),
            )
        )
        return [_lease(row) for row in rows]

    async def leave(self, worker: str) -> int:
        """Release every lease of ``worker`` at once and mark it left; returns how many.
        It is listed no more, counts in no share and holds no configuration, and nothing
        it still sends brings it back (:meth:`heartbeat`, :meth:`join`); the mark goes
        after :data:`LEFT_KEPT` (a row is made for it if it had none: forgotten). Its first
        statement locks the worker's row FOR UPDATE: an acquire of the worker's under way
        commits first and its lease is released here too; one that comes later takes
        nothing (:meth:`acquire`, ``_lease_taking._NOT_LEFT``)."""
        rows = await self._do(
            _three(
                Sql("SELECT 1 FROM workers WHERE id = %s FOR UPDATE", (worker,)),  # see _NOT_LEFT
                Sql(
                    "INSERT INTO workers (id, host, pid, started_at, seen_at, left_at) "
                    "VALUES (%s, '', 0, now(), now(), now()) "
                    "ON CONFLICT (id) DO UPDATE SET left_at = coalesce(workers.left_at, now())",
                    (worker,),
                ),
                Sql(
                    "UPDATE leases SET worker = NULL, expires_at = now() WHERE worker = %s "
                    "RETURNING account",
                    (worker,),
                ),
            )
        )
        return len(rows)

    async def workers(
        self, live_within: float | None = None, *, taking: bool = False
    ) -> list[WorkerInfo]:
        """The workers, oldest first; with ``live_within``, only the live ones: seen in the
        last ``live_within`` seconds (database clock) by a renewal after they joined. A
        worker that has only joined may still be refused (its deployment file disagrees,
        :meth:`claim_config`) and leave at once: counted, it would make the others hand
        accounts over to nobody. ``taking``: not the workers kept away from the accounts
        (:meth:`give_up`), which take none: the fair shares are the others'."""
        where = " WHERE w.left_at IS NULL"
        params: tuple[object, ...] = ()
        if live_within is not None:
            where = f" WHERE {_LIVE}"
            params = (live_within,)
        if taking:
            where += f" AND {_TAKING}"
        rows = await self._do(
            _one(
                "SELECT id, host, pid, started_at, EXTRACT(EPOCH FROM now() - seen_at), "
                "CASE WHEN away_until > now() THEN EXTRACT(EPOCH FROM away_until - now()) END "
                f"FROM workers w{where} ORDER BY started_at, id",
                params,
            )
        )
        return [
            WorkerInfo(
                str(i), str(h), int(str(p)), s, float(str(a)), None if u is None else float(str(u))
            )
            for i, h, p, s, a, u in rows
        ]

    # -- leases ---------------------------------------------------------------------------

    async def acquire(self, account: str, worker: str, ttl: float) -> Lease | None:
        """Take ``account``'s lease for ``ttl`` seconds if it is free or expired (token + 1);
        ``None`` when another worker holds it, or when the row is locked: a write of its
        owner is under way (it is taken at a later round, not waited for: a heartbeat must
        never wait behind a frozen worker's transaction; see :mod:`._fencing`). ``None``
        too when ``worker`` has left (:meth:`leave`), read under the worker row's lock
        (:mod:`._lease_taking`), which orders the acquire with the leave."""
        rows = await self._do(acquire_program(account, worker, ttl))
        return _lease(rows[0]) if rows else None

    async def renew(self, account: str, worker: str, token: int, ttl: float) -> Lease:
        """Extend one lease to now + ``ttl``; :class:`LeaseLost` if it expired or moved."""
        rows = await self._do(
            _one(
                f"UPDATE leases SET expires_at = {TTL}, renewed_at = now() WHERE account = %s "
                "AND worker = %s AND token = %s AND expires_at > now() RETURNING " + LEASE_COLUMNS,
                (ttl, account, worker, token),
            )
        )
        if not rows:
            raise LeaseLost(f"the lease of {account} (token {token}) expired or was taken")
        return _lease(rows[0])

    async def release(self, account: str, worker: str, token: int) -> bool:
        """Hand ``account`` over at once (a graceful stop); ``False`` if it was not held."""
        rows = await self._do(
            _one(
                "UPDATE leases SET worker = NULL, expires_at = now() WHERE account = %s "
                "AND worker = %s AND token = %s RETURNING account",
                (account, worker, token),
            )
        )
        return bool(rows)

    async def give_up(self, account: str, worker: str, token: int, away: float) -> bool:
        """Release ``account`` at once (as :meth:`release`) because ``worker`` cannot serve
        it (its store cannot be opened there for good), and mark ``worker`` as taking no
        account for ``away`` seconds (by the database's clock; a longer mark stays): the
        other workers leave it out of the fair shares meanwhile (:meth:`workers` with
        ``taking``), so one of them takes the account even when it has its share already.
        ``False`` if the lease was not held."""
        rows = await self._do(
            _two(
                Sql(
                    f"UPDATE workers SET away_until = greatest(away_until, {TTL}) WHERE id = %s",
                    (away, worker),
                ),
                Sql(
                    "UPDATE leases SET worker = NULL, expires_at = now() WHERE account = %s "
                    "AND worker = %s AND token = %s RETURNING account",
                    (account, worker, token),
                ),
            )
        )
        return bool(rows)

    async def mark_away(self, worker: str, away: float | None) -> None:
        """Mark ``worker`` as taking no account for ``away`` more seconds (by the database's
        clock), or, with ``None``, as taking accounts again: the mark follows the worker's
        own time away (:meth:`give_up` marks it too, with the lease it gives up; this is
        for a time away whose lease was lost or handed over meanwhile, a mark that could
        not be written, and one that ends)."""
        if away is None:
            await self._do(_one("UPDATE workers SET away_until = NULL WHERE id = %s", (worker,)))
        else:
            await self._do(
                _one(f"UPDATE workers SET away_until = {TTL} WHERE id = %s", (away, worker))
            )

    async def owners(self) -> list[Lease]:
        """Every lease, by account (the free and expired ones too)."""
        rows = await self._do(_one(f"SELECT {LEASE_COLUMNS} FROM leases ORDER BY account", ()))
        return [_lease(row) for row in rows]

    # -- configuration --------------------------------------------------------------------

    async def claim_config(self, account: str, worker: str, digest: str, live: float) -> None:
        """Register ``digest`` (of the deployment's spec of ``account``) for ``worker``.

        The registration is taken over when it is the same digest or when the worker that
        registered it is neither live (:meth:`workers`, within ``live`` seconds: it is gone,
        a rolling deploy) nor starting (joined in the last ``live`` seconds and connected,
        not renewed yet: two workers started at once with different files); otherwise
        :class:`ConfigConflict` names the worker that disagrees. A worker killed before
        its first renewal has no connection left: it held its registrations for a lease
        time, and a worker with a new file was refused meanwhile."""
        rows = await self._do(
            _two(
                Sql(
                    "INSERT INTO account_configs AS c (account, digest, worker, registered_at) "
                    "VALUES (%s, %s, %s, now()) ON CONFLICT (account) DO UPDATE SET "
                    "digest = excluded.digest, worker = excluded.worker, "
                    "registered_at = excluded.registered_at WHERE c.digest = excluded.digest "
                    "OR NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = c.worker "
                    f"AND ({_LIVE} OR {_STARTING}))",
                    (account, digest, worker, live, live),
                ),
                Sql("SELECT digest, worker FROM account_configs WHERE account = %s", (account,)),
            )
        )
        if rows and rows[0][0] != digest:
            raise ConfigConflict(
                f"account {account} is configured differently by worker {rows[0][1]} "
                "(another deployment file on the same store): refusing to serve it; "
                "deploy the same file to every worker"
            )


def _one(text: str, params: tuple[object, ...]) -> Program[Rows]:
    rows = yield Sql(text, params)
    return rows


def _three(first: Sql, second: Sql, third: Sql) -> Program[Rows]:
    yield first
    yield second
    rows = yield third
    return rows


def _two(first: Sql, second: Sql) -> Program[Rows]:
    yield first
    rows = yield second
    return rows

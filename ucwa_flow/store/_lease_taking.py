"""Taking a lease among workers that may freeze at any moment: :func:`acquire_program`.

A worker's acquire of an account's lease takes three locks, always in this order, so that
no two of a worker's own transactions wait on each other in a cycle: the account's
advisory lock (no other acquire of it is under way), the worker's own row (it has not
left: ``_NOT_LEFT``) and the lease's row. A lock another session holds past
:data:`STALLED` is a frozen worker's (SIGSTOP, a paused machine): its session is ended,
found by its name (:func:`application_name`), rather than waited for. The statements are
data (a :class:`~ucwa_flow.store._sql.Program`), run by the store in one transaction;
:class:`~ucwa_flow.store.leases.LeaseBook` is the interface.
"""

from __future__ import annotations

import hashlib

from ucwa_flow.store._sql import Program, Rows, Sql

__all__ = ["LEASE_COLUMNS", "STALLED", "TTL", "acquire_program", "application_name", "named"]

#: seconds an expired owner's session, or another worker's acquire of the account, may stay
#: in one transaction before the worker that takes the account over ends it (a worker
#: frozen mid-write or mid-acquire; see :mod:`._fencing`)
STALLED = 2.0


def application_name(worker: str) -> str:
    """What every store connection of ``worker`` is called on the PostgreSQL server:
    ``ucwa-flow <tag> <worker id>``, cut to the server's 63 bytes. The worker id starts
    with the host name, and pod names that share their first 50 characters are common, so
    the name is told by its tag (:data:`_TAG`, the first 12 hex digits of the id's
    SHA-256), which always survives the cut; the id after it is for people reading
    ``pg_stat_activity``."""
    tag = hashlib.sha256(worker.encode()).hexdigest()[:12]
    return f"ucwa-flow {tag} {worker}".encode()[:63].decode(errors="ignore")


def named(worker: str) -> str:
    """SQL: the start of the sessions' names of the worker whose id is the SQL ``worker``
    (as :func:`application_name` makes them)."""
    tag = f"left(encode(sha256(convert_to({worker}, 'UTF8')), 'hex'), 12)"
    return f"'ucwa-flow ' || {tag} || ' '"


LEASE_COLUMNS = (
    "account, worker, token, EXTRACT(EPOCH FROM expires_at - now()), "
    "EXTRACT(EPOCH FROM now() - acquired_at), EXTRACT(EPOCH FROM now() - renewed_at)"
)
TTL = "now() + %s * interval '1 second'"


#: the advisory lock every acquire of an account takes first (its transaction's: released
#: at its end), keyed (_ACQUIRING, hash of the leases table's oid and the account: workers
#: whose search paths differ but find one table share it). Two workers' acquires of one
#: account never wait on each other, even for an account with no row yet, whose
#: uncommitted INSERT the other's INSERT would wait for (a hash shared by two accounts
#: only makes one of them wait for the next round)
_ACQUIRING = 0x75637766  # "ucwf"
_LOCK_KEY = "hashtext('leases'::regclass::oid::text || ' ' || %s)"

#: the session whose acquire of the account holds the advisory lock, ended once it has been
#: in its transaction for STALLED: a worker frozen in the middle of its own acquire (between
#: the lock and the commit) keeps the lease's row, or the row it is inserting, for as long
#: as it stays frozen; the account would stay nobody's
_END_STALLED_ACQUIRE = (
    "SELECT pg_terminate_backend(a.pid) FROM pg_locks k JOIN pg_stat_activity a "
    "ON a.pid = k.pid WHERE k.locktype = 'advisory' AND k.granted "
    "AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    f"AND k.classid = {_ACQUIRING}::oid AND k.objid = {_LOCK_KEY}::oid AND k.objsubid = 2 "
    "AND a.pid <> pg_backend_pid() AND starts_with(a.application_name, 'ucwa-flow ') "
    "AND a.xact_start < now() - %s * interval '1 second'"
)

#: the sessions of an expired lease's owner that keep its row locked (a write checked, and
#: frozen before its commit; two of them lock the row together), ended once they have been
#: in their transaction for STALLED
_END_STALLED_OWNER = (
    "SELECT pg_terminate_backend(a.pid) FROM leases l JOIN pg_stat_activity a "
    "ON starts_with(a.application_name, " + named("l.worker") + ") "
    "WHERE l.account = %s AND l.expires_at <= now() AND a.pid <> pg_backend_pid() "
    "AND a.xact_start < now() - %s * interval '1 second'"
)


#: the acquiring worker (``%s``) has not left, its row (if it has one) locked FOR KEY SHARE
#: until the acquire commits, taken before the lease's row: the order the leave takes them
#: in (the other order was a deadlock when a worker took back its own expired lease as it
#: left). That lock does not conflict with a renewal's update of the row (FOR NO KEY
#: UPDATE: ``seen_at``, not its key), so the renewer never waits on the rounds' acquires,
#: but it does with :meth:`LeaseBook.leave`'s FOR UPDATE, so the two are ordered: an
#: acquire that reaches the row after the leave waits for the leave's commit and reads the
#: mark (nothing taken); a leave that reaches it after the acquire waits for the acquire's
#: commit, and its release of the worker's leases finds the new lease too. Without it, an
#: acquire whose answer was late (the process exited meanwhile) took a lease for a worker
#: that had left, held until it expired. A scalar sub-SELECT: under a NOT EXISTS the planner
#: moves ``left_at IS NOT NULL`` into the locking scan, and a row that does not match it is
#: not locked. A worker with no row (forgotten, not renewed since) is not ordered so; its
#: leave inserts the row. The heartbeats' clean-up of forgotten rows skips a row so locked
#: (a frozen acquire's), rather than waiting for it.
_NOT_LEFT = (
    "coalesce((SELECT w.left_at IS NULL FROM workers w WHERE w.id = %s FOR KEY SHARE), true)"
)


def acquire_program(account: str, worker: str, ttl: float) -> Program[Rows]:
    """The upsert of :meth:`LeaseBook.acquire`, after three locks: the account's advisory
    lock and the lease row's, both taken without waiting, and between them the worker
    row's (``_NOT_LEFT``), which waits only for the worker's own leave or a heartbeat's
    clean-up of the row. Nothing (``[]``) when another acquire of the account is under way,
    the worker has left, or the row exists and another transaction holds a lock on it."""
    got = yield Sql(f"SELECT pg_try_advisory_xact_lock({_ACQUIRING}, {_LOCK_KEY})", (account,))
    if not got[0][0]:  # another worker's acquire, or a frozen one: end it past STALLED
        yield Sql(_END_STALLED_ACQUIRE, (account, STALLED))
        return []
    # the worker's row before the lease's, as the leave locks them (the other order, for a
    # lease of the worker's own that expired, was a deadlock with its leave)
    staying = yield Sql(f"SELECT {_NOT_LEFT}", (worker,))
    if not staying[0][0]:
        return []
    exists = yield Sql("SELECT 1 FROM leases WHERE account = %s", (account,))
    if exists:
        mine = yield Sql(
            "SELECT 1 FROM leases WHERE account = %s FOR UPDATE SKIP LOCKED", (account,)
        )
        if not mine:  # a write under way, or a frozen one: end those stalled past STALLED
            yield Sql(_END_STALLED_OWNER, (account, STALLED))
            return []
    rows = yield Sql(
        "INSERT INTO leases AS l (account, worker, token, expires_at, acquired_at, "
        f"renewed_at) VALUES (%s, %s, 1, {TTL}, now(), now()) "
        "ON CONFLICT (account) DO UPDATE SET worker = excluded.worker, "
        "token = l.token + 1, expires_at = excluded.expires_at, "
        "acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at "
        "WHERE l.worker IS NULL OR l.expires_at <= now() RETURNING " + LEASE_COLUMNS,
        (account, worker, ttl),
    )
    return rows

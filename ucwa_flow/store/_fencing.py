"""Fencing: an account's write checked against the account's lease in its own transaction.

Several ``ucwa-flow serve`` workers share one PostgreSQL store; each account is owned by
one of them through a row of ``leases`` whose ``token`` grows with every new owner (see
:mod:`ucwa_flow.store.leases`). Every write of an account carries the token its worker got
(``store.commit(account, changes, fence=token)``); :func:`fenced` puts a check in front of
the write's program, inside the same transaction:

* PostgreSQL: ``SELECT token FROM leases WHERE account = %s FOR KEY SHARE``. The lock
  holds the lease row until the write commits, so a new owner's ``acquire`` (which locks
  the row ``FOR UPDATE`` before it changes it) cannot take it while a write already
  checked is under way, and a write checked after the acquire sees the new token. Either
  way no write with an older token commits after a newer owner took the account. The
  weakest lock that does so: the owner's renewals (an ``UPDATE`` of no key column) do not
  conflict with it. With ``FOR SHARE`` they did, and a worker whose loop ran late in the
  middle of its commits (a loaded machine) kept its own renewals waiting until its leases
  lapsed.
* SQLite (one process; its write transactions are serialised anyway): the same ``SELECT``
  without the lock clause.

A token that is not the row's (or an account without a lease row) fails the transaction
with :class:`~ucwa_flow.store.StoreFenced`: nothing of the write is kept.

**A writer frozen in the middle.** A worker paused (``SIGSTOP``, a frozen virtual machine)
between the check and its commit keeps the row locked for as long as it is paused, and
the server cannot tell (the transaction is pipelined: the session looks busy, not idle).
So :meth:`~ucwa_flow.store.leases.LeaseBook.acquire` never waits for a locked lease row:
it skips it, and when the lease has expired it ends the sessions of the expired owner
that have been in a transaction for :data:`~ucwa_flow.store._lease_taking.STALLED` seconds
(every worker's connections carry ``application_name`` ``ucwa-flow <tag> <worker id>``,
see :func:`~ucwa_flow.store.leases.application_name`): the
frozen write is rolled back, and the account is taken at the next round. A worker frozen
in the middle of its own acquire holds the row too (or the row it is inserting, for an
account never leased): every acquire takes an advisory lock of the account first, without
waiting, and the session holding it is ended the same way (``_lease_taking._END_STALLED_ACQUIRE``).
"""

from __future__ import annotations

from typing import TypeVar

from ucwa_flow.store._errors import StoreFenced
from ucwa_flow.store._sql import Dialect, Program, Sql

__all__ = ["fenced"]

T = TypeVar("T")


def fenced(account: str, token: int, program: Program[T], dialect: Dialect) -> Program[T]:
    """``program`` run only while ``token`` is ``account``'s lease token (see above)."""
    lock = " FOR KEY SHARE" if dialect == "postgres" else ""
    return _named(_fenced(account, token, program, lock), program)


def _fenced(account: str, token: int, program: Program[T], lock: str) -> Program[T]:
    rows = yield Sql(f"SELECT token, worker FROM leases WHERE account = %s{lock}", (account,))
    if not rows or int(rows[0][0]) != token:
        program.close()
        now = f"token {rows[0][0]} of worker {rows[0][1]}" if rows else "no lease"
        raise StoreFenced(
            f"a write of {account} with fencing token {token} was refused: the account has "
            f"{now} now (another worker owns it); nothing was written"
        )
    return (yield from program)


def _named(wrapper: Program[T], program: Program[T]) -> Program[T]:
    """Give ``wrapper`` the operation's name (the metrics label a store operation by it)."""
    name = getattr(program, "__name__", None)
    if name is not None:
        wrapper.__name__ = name  # type: ignore[attr-defined]
    return wrapper

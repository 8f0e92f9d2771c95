"""Fencing: an account's write checked against the account's lease in its own transaction.

Several ``ucwa-flow serve`` workers share one PostgreSQL store; each account is owned by
one of them through a row of ``leases`` whose ``token`` grows with every new owner (see
:mod:`ucwa_flow.store.leases`). Every write of an account carries the token its worker got
(``store.commit(account, changes, fence=token)``); :func:`fenced` puts a check in front of
the write's program, inside the same transaction:

* PostgreSQL: ``SELECT token FROM leases WHERE account = %s FOR SHARE``. The share lock
  holds the lease row until the write commits, so a new owner's ``acquire`` (an update of
  that row) waits for a write already checked, and a write checked after the acquire sees
  the new token. Either way no write with an older token commits after a newer owner took
  the account.
* SQLite (one process; its write transactions are serialised anyway): the same ``SELECT``
  without the lock clause.

A token that is not the row's (or an account without a lease row) fails the transaction
with :class:`~ucwa_flow.store.StoreFenced`: nothing of the write is kept.

**A writer frozen in the middle.** A worker paused (``SIGSTOP``, a frozen virtual machine)
between the check and its commit keeps the share lock for as long as it is paused: no new
owner could take the account, and one whose heartbeat waited for the row would lose its
own leases. So a fenced transaction on PostgreSQL first sets
``idle_in_transaction_session_timeout`` (:data:`STALLED`, for this transaction only): the
server ends a session that waits that long for its client in the middle of one, rolling
the write back and releasing the lock (the resumed worker gets a lost connection, then a
fenced or revoked write). :meth:`~ucwa_flow.store.leases.LeaseBook.acquire` skips a locked
row meanwhile instead of waiting for it.
"""

from __future__ import annotations

from typing import TypeVar

from ucwa_flow.store._errors import StoreFenced
from ucwa_flow.store._sql import Dialect, Program, Sql

__all__ = ["STALLED", "fenced", "stall_guard"]

T = TypeVar("T")

#: seconds a PostgreSQL session may wait for its client in the middle of a transaction of
#: the leases or of a fenced write before the server ends it (see the module docstring)
STALLED = 2.0


def stall_guard() -> Sql:
    """The statement that opens such a transaction (PostgreSQL only)."""
    return Sql(f"SET LOCAL idle_in_transaction_session_timeout = {round(STALLED * 1000)}")


def fenced(account: str, token: int, program: Program[T], dialect: Dialect) -> Program[T]:
    """``program`` run only while ``token`` is ``account``'s lease token (see above)."""
    lock = " FOR SHARE" if dialect == "postgres" else ""
    return _named(_fenced(account, token, program, lock), program)


def _fenced(account: str, token: int, program: Program[T], lock: str) -> Program[T]:
    if lock:
        yield stall_guard()
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

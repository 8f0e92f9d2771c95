"""What can go wrong with a store, each as one line a person can act on.

Every error a store raises on purpose is a :class:`StoreError` (an
:class:`~ucwa_flow.errors.OperationalError`, so the command line prints it as is). Driver
exceptions (``sqlite3``, ``psycopg``) never leave the package: the backends translate them
here, keeping only the first line of the driver's message.

``retryable`` tells the runtime what to do: ``True`` means the trouble may pass (a lock held
by another process, a full disk, a server restarting or unreachable) and the same call can be
tried again after a pause. A retried :meth:`~ucwa_flow.store.Store.commit` is safe even when
the failed one did reach the database, because every write a commit makes is idempotent.
"""

from __future__ import annotations

from ucwa_flow.errors import OperationalError

__all__ = [
    "StoreConflict",
    "StoreCorrupt",
    "StoreError",
    "StoreFenced",
    "StoreFull",
    "StoreInUse",
    "StoreLocked",
    "StoreTooNew",
    "StoreTooOld",
    "StoreUnavailable",
]


class StoreError(OperationalError):
    """A store operation failed; ``str(error)`` is one sentence naming the store."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class StoreUnavailable(StoreError):
    """The store cannot be used right now (unreachable server, lost connection, I/O)."""

    retryable = True


class StoreLocked(StoreUnavailable):
    """Another process held the store's write lock for longer than the busy timeout."""


class StoreFull(StoreUnavailable):
    """The disk (or the database's size limit) is full."""


class StoreCorrupt(StoreUnavailable):
    """The file is not a database, or the database is damaged: retrying will not help."""

    retryable = False


class StoreTooNew(StoreError):
    """The store was written by a newer ucwa-flow (a schema version this one does not know)."""


class StoreTooOld(StoreError):
    """A command that does not migrate (one that reads a store, or prunes it) opened a store
    of an older schema version: a bot of this version migrates it when it starts."""


class StoreInUse(StoreError):
    """A SQLite store is held by another ucwa-flow process running a bot on it (see
    :mod:`ucwa_flow.store._holder`). Not retryable: that process must stop first."""


class StoreConflict(StoreError):
    """A write broke one of the schema's rules (a bug in the caller: nothing was written)."""


class StoreFenced(StoreError):
    """A write of an account carried a fencing token that is no longer the account's lease
    token: another worker owns the account now. Not retryable: the writer must stop
    serving the account (its conversations are someone else's)."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of a driver's message, without a trailing full stop."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line:
            return line.rstrip(".")
    return type(exc).__name__

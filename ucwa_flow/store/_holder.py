"""One bot process per SQLite store file: an advisory lock held while a bot's store is open.

Two processes running a bot on one SQLite file (a systemd unit and a manual run, a
container restarted while the old one still drains) would both resume its conversations
and both open an event channel for its account, and fight over them. So the store a bot
writes (``open_store(path, exclusive=True)``: ``run`` and ``serve`` ask for it) takes an
OS advisory lock, ``flock(LOCK_EX | LOCK_NB)``, on a lock file beside the database,
``<file>.lock`` (``bot.sqlite3.lock``), and holds it until the store is closed. A second
process asking for it gets :class:`~ucwa_flow.store.StoreInUse` at once, one line naming
the file and the holder's pid. The commands that only read a store (``transcripts``,
``replay``, ``review``) do not ask for it, so they keep working beside a running bot.

Why ``flock`` and a file of its own:

- the kernel drops the lock when its process dies, however it dies (SIGKILL, OOM, a power
  cut), so a crashed bot never leaves a stale lock behind; the pid written into the file is
  only for the message, never trusted to decide (it may be a dead process's, or one in
  another container's pid namespace). The file is left in place on close (removing it
  would race with a process that has just opened it and is about to lock it).
- SQLite locks the database file with POSIX ``fcntl`` locks, which a close of *any*
  descriptor of the file in the process drops; a file of our own cannot interfere (on NFS,
  where Linux emulates ``flock`` with ``fcntl`` locks, either).
- one lock per file, not per folder: a folder holds one file per account, and two bots
  serving different accounts from one folder (two ``run``s with their default files in
  ``~/.local/state/ucwa-flow``) do not fight.

Within one process a second exclusive open of the same file shares the hold (counted,
released with the last store): ``flock`` locks belong to an open file description, so a
second ``open`` in the same process would conflict with the first, but the lock is there
to catch a second *process*, the operator's mistake; inside one process the code decides
what it opens (``serve`` opens each account's store once). A child made by ``fork`` does
not share its parent's hold: it takes its own, and is refused. The child closes, at once
(``os.register_at_fork``), the lock descriptors it inherited (``O_CLOEXEC`` only closes
them on ``exec``), so the lock goes when the parent lets go, however long the child lives;
it also starts with a guard lock of its own (one another thread of the parent held at the
fork would never be released in the child).

The lock file is its owner's alone (``0o600``, as the database): one that other users
could read would let any of them ``flock`` it and keep the bot from starting (or stop a
``serve`` account) for as long as they like. A bot run as another user than the file's
owner (after a run as root, say) cannot read the database either; it gets SQLite's own
error alone (the warning below is said only once the store has opened).

Where the lock cannot be taken for another reason than another holder (a file system
without ``flock``: some FUSE, 9p or SMB mounts answer ``ENOLCK``, ``EOPNOTSUPP``,
``EINVAL``; a lock file that cannot be created), the store opens anyway with a warning:
the lock guards against a mistake, SQLite's own locking keeps the file consistent without
it, and refusing would stop a bot that ran before on such a mount. On Windows (no
``fcntl``) there is no lock at all.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from ucwa_flow.store._errors import StoreInUse, first_line

if sys.platform != "win32":
    import fcntl

__all__ = ["Hold", "hold", "lock_path"]

log = logging.getLogger("ucwa_flow.store")

#: the lock file's name is the database file's with this added
SUFFIX = ".lock"
_BUSY = frozenset((errno.EWOULDBLOCK, errno.EAGAIN))


@dataclass
class _Held:
    fd: int
    pid: int  # the process that took it (a forked child does not share it)
    count: int


_HELD: dict[str, _Held] = {}  # by the lock file's real path
_GUARD = threading.Lock()  # each store opens on a thread of its own


def lock_path(database: Path) -> Path:
    """The lock file of the SQLite file ``database``."""
    return database.with_name(database.name + SUFFIX)


def _forked() -> None:
    """In a child just made by ``fork``: drop the parent's holds (only its own are the
    child's) and the guard (another thread may have held it at the fork)."""
    global _GUARD
    _GUARD = threading.Lock()
    held = list(_HELD.values())
    _HELD.clear()
    for each in held:
        with contextlib.suppress(OSError):
            os.close(each.fd)  # the parent's descriptor of the description keeps the lock


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


class Hold:
    """The lock on one store file, held until :meth:`release` (idempotent).

    ``unlocked``: why the lock could not be taken (no lock held), for :meth:`warn` to say
    once the store has opened: a store that cannot open says its own error alone."""

    def __init__(self, key: str | None, unlocked: str | None = None) -> None:
        self._key = key
        self._pid = os.getpid()  # a forked child's copy lets nothing go
        self.unlocked = unlocked

    def warn(self, target: str) -> None:
        """Say that the store opened without the lock, if it did."""
        if self.unlocked is not None:
            log.warning(
                "the store %s cannot be locked against a second ucwa-flow process (%s); "
                "going on without the lock: run one process on it at a time",
                target,
                self.unlocked,
            )

    def release(self) -> None:
        key, self._key = self._key, None
        if key is None or self._pid != os.getpid():
            return
        with _GUARD:
            held = _HELD.get(key)
            if held is None or held.pid != os.getpid():
                return
            held.count -= 1
            if held.count > 0:
                return
            del _HELD[key]
            with contextlib.suppress(OSError):
                os.ftruncate(held.fd, 0)  # no pid left behind to mislead
            os.close(held.fd)  # the lock goes with its description's last descriptor


def hold(database: Path, target: str) -> Hold:
    """Lock the SQLite file ``database`` (``target``, as messages name the store) for this
    process; :class:`StoreInUse` when another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - no flock: one process is up to you
        return Hold(None)
    path = lock_path(Path(os.path.realpath(database)))  # beside the file a symlink names
    key = str(path)
    with _GUARD:
        held = _HELD.get(key)
        if held is not None and held.pid == os.getpid():
            held.count += 1
            return Hold(key)
        try:  # another user's file (its owner's alone), a read-only folder
            fd = os.open(path, os.O_CREAT | os.O_CLOEXEC | os.O_RDWR, 0o600)
        except OSError as exc:
            return Hold(None, first_line(exc))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _pid_in(fd)
            os.close(fd)
            if exc.errno in _BUSY:
                raise _in_use(target, holder) from None
            return Hold(None, first_line(exc))
        _write_pid(fd)
        _HELD[key] = _Held(fd, os.getpid(), 1)
        return Hold(key)


def _in_use(target: str, pid: int | None) -> StoreInUse:
    who = f" (pid {pid})" if pid is not None else ""
    return StoreInUse(
        f"the store {target} is in use by another ucwa-flow process{who}; stop it first, "
        "or use a PostgreSQL store to share accounts between workers"
    )


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _write_pid(fd: int) -> None:
    with contextlib.suppress(OSError):  # no room: it is only for the message
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)

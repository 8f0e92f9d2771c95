"""The SQLite backend: the standard library's ``sqlite3`` on a thread of its own, and for
small writes on the event loop's; checkpoints on a thread of their own.

``sqlite3`` blocks, so each store owns one worker thread and one connection; reads and
large writes run there, one at a time, while the event loop waits on a future. A small
write (a commit of a few rows: one conversation's step) costs far less in SQLite than the
hop to that thread and back, so it runs on the caller's thread instead, when the worker is
idle (it never touches the connection at the same time) and the write lock is free at once
(the inline ``BEGIN IMMEDIATE`` does not wait: another process's lock sends the write to
the worker thread, which waits for it). Checkpoints, the only part of a commit that may
fsync, run beside the commits: automatic checkpoints are off, and a
:class:`~ucwa_flow.store._checkpointer.Checkpointer` runs them on a thread of its own, after
about :data:`CHECKPOINT_ROWS` rows and :data:`CHECKPOINT_SECONDS` after the first write not
checkpointed yet; only once the WAL has grown past its mark (steady writes) do the writes
go to the worker thread and checkpoint there after their commit, until it starts over.

The file is put in WAL mode with ``synchronous=NORMAL`` (a commit is durable against a
process crash at once, and against a power cut at the next checkpoint) and a busy timeout,
after which a lock held by another process becomes :class:`~ucwa_flow.store.StoreLocked`.

A store opened ``read_only`` (the commands that read one) writes nothing: its connections
are the read-only ones of :mod:`ucwa_flow.store._sqlite_readonly`, with no journal mode set,
no checkpoints and no folder or file created.

A bot's store (``exclusive``) also holds an advisory lock on ``<file>.lock`` for as long as
it is open, so that a second process running a bot on the same file is refused at once
(:mod:`ucwa_flow.store._holder`).

Write transactions begin with ``BEGIN IMMEDIATE`` (the write lock up front, so two writers
cannot deadlock upgrading), reads with a plain ``BEGIN``: under WAL they never wait for a
writer, so ``ucwa-flow transcripts`` can read a store a bot is writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ucwa_flow.store import _operations as ops
from ucwa_flow.store._changes import Changes, CommitResult
from ucwa_flow.store._checkpointer import WAL_KEPT_BYTES, Checkpointer
from ucwa_flow.store._errors import (
    StoreConflict,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreLocked,
    StoreUnavailable,
    first_line,
)
from ucwa_flow.store._holder import Hold, hold
from ucwa_flow.store._migrations import LATEST, migrate, require_latest, stored_version
from ucwa_flow.store._sql import Program
from ucwa_flow.store._sqlite_readonly import ReadOnlyFile
from ucwa_flow.store._store import Store

__all__ = ["CHECKPOINT_ROWS", "CHECKPOINT_SECONDS", "INLINE_ROWS", "SqliteStore"]

T = TypeVar("T")

_BUSY, _LOCKED, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 11, 13, 14, 26
#: errors of making the store's folder or file that pass (the others, a path that cannot be
#: a folder, no permission, a read-only file system, are the deployment's to fix)
_NO_SPACE = frozenset((errno.ENOSPC, errno.EDQUOT))
_PASSING = frozenset((errno.EIO, errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.EINTR))

#: a write of at most this many rows runs on the caller's thread (when it can at once)
INLINE_ROWS = 12
#: rows written between checkpoints (about 1,000 WAL pages, SQLite's own default)
CHECKPOINT_ROWS = 500
#: seconds (real time) a write waits at most for a checkpoint to start (a power cut's window)
CHECKPOINT_SECONDS = 1.0


class _NotNow:
    """The inline write found the write lock taken: the worker thread will wait for it."""


_NOT_NOW = _NotNow()


class SqliteStore(Store):
    """A store in one SQLite file (``":memory:"`` for a private in-memory one);
    ``exclusive``: held against other processes while open (see ``_holder``);
    ``read_only``: for a command that reads it (see ``_sqlite_readonly``)."""

    backend = "sqlite"

    def __init__(
        self,
        path: Path | str,
        busy_timeout: float,
        *,
        exclusive: bool = False,
        read_only: bool = False,
    ) -> None:
        super().__init__(str(path))
        self._path = path
        self._busy_timeout = busy_timeout
        self._exclusive = exclusive and str(path) != ":memory:"
        in_file = str(path) != ":memory:"
        self._reader = ReadOnlyFile(Path(path), busy_timeout) if read_only and in_file else None
        self._hold: Hold | None = None
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="ucwa-flow-store"
        )
        self._conn: sqlite3.Connection | None = None
        self._handed: Future[Any] | None = None  # the last work handed to the thread
        self._checkpoints = (
            None
            if not in_file or self._reader is not None
            else Checkpointer(  # the file _connect opens
                Path(path).expanduser(), rows=CHECKPOINT_ROWS, seconds=CHECKPOINT_SECONDS
            )
        )

    async def open(self, upto: int = LATEST, *, existing: bool = False) -> SqliteStore:
        """Open (creating the file and its folder if needed) and migrate to ``upto``; a
        store that fails to open is closed (its thread ended) before the error is raised.
        ``existing``: open the store as it is, for a command that reads it: refuse (a
        :class:`StoreError`) a file that holds no store yet (an empty file, another
        program's database) instead of creating its tables, and a store of another schema
        version than this one's instead of migrating it; looked for first without changing
        the file (nor creating a missing one). A ``read_only`` store is ``existing`` too."""
        try:
            if self._reader is not None:  # its connections are opened on each read
                await self._call(self._look)  # a store refused is left without a file more
                return self
            looked = existing and self._checkpoints is not None  # a file: read-only first
            if looked:
                await self._call(self._look)
            await self._call(self._connect)
            if not existing:
                await self._run(migrate("sqlite", self.target, upto), write=True)
            elif not looked:
                version = await self._run(stored_version("sqlite", self.target), write=False)
                self._as_it_is(version)
        except BaseException:
            # cancelled while the thread connects, the thread connects on (it cannot be
            # stopped), taking the hold: closing queues behind it, and is shielded from a
            # second cancel, so the hold is let go whoever gives up on the open
            await asyncio.shield(self.aclose())
            raise
        if self._hold is not None:  # only once it has opened: else its error says it all
            self._hold.warn(self.target)
        return self

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            if self._checkpoints is not None:  # first: closing the last connection checkpoints
                await self._checkpoints.aclose()
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        finally:
            executor.shutdown(wait=False)
            self._let_go()

    def commit_now(self, account: str, changes: Changes) -> CommitResult | None:
        rows = changes.rows
        if self._reader is not None or not self._may_inline(rows):
            return None
        program = ops.commit(account, changes, "sqlite")
        done = self._inline(program)
        if isinstance(done, _NotNow):
            program.close()
            return None
        self._wrote(rows)
        return done

    async def _run(self, program: Program[T], *, write: bool, rows: int | None = None) -> T:
        if write and self._reader is not None:
            program.close()
            raise StoreError(f"the store {self.target} was opened to be read, not written")
        if write and rows is not None and self._may_inline(rows):
            done = self._inline(program)
            if not isinstance(done, _NotNow):
                self._wrote(rows)
                return done
        checkpoints = self._checkpoints if write else None
        result: T = await self._call(lambda: self._drive(program, write, checkpoints))
        if write:
            self._wrote(max(rows or 0, 1))  # a migration's, a prune's: as one row
        return result

    def _wrote(self, rows: int) -> None:
        if self._checkpoints is not None:
            self._checkpoints.wrote(rows)

    def _may_inline(self, rows: int) -> bool:
        """Whether a write of ``rows`` rows may run on the caller's thread: a small one,
        the worker thread idle (so the connection is free), and the WAL neither oversized
        (then writes checkpoint after their commit) nor fresh (the write that starts it
        over syncs it): see ``_checkpointer``."""
        handed, checkpoints = self._handed, self._checkpoints
        return (
            rows <= INLINE_ROWS
            and self._executor is not None
            and (handed is None or handed.done())
            and not (checkpoints is not None and (checkpoints.oversized or checkpoints.fresh))
        )

    # -- on the caller's thread -----------------------------------------------------------

    def _inline(self, program: Program[T]) -> T | _NotNow:
        """Run a small write here, unless the write lock is not free at once."""
        conn = self._conn
        if conn is None:
            program.close()
            raise StoreError(f"the store {self.target} is closed")
        try:
            conn.execute("BEGIN IMMEDIATE")  # the busy timeout is 0 outside the worker
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_BUSY, _LOCKED):
                return _NOT_NOW
            program.close()
            raise self._translate(exc) from None
        return self._finish(conn, program)

    # -- on the store's thread ------------------------------------------------------------

    async def _call(self, work: Any) -> Any:
        if self._executor is None:
            raise StoreError(f"the store {self.target} is closed")
        handed = self._handed = self._executor.submit(work)
        result = await asyncio.wrap_future(handed)
        if self._handed is handed:  # done: no lock to take in _may_inline
            self._handed = None
        return result

    def _look(self) -> None:
        """Refuse a file that holds no store, or one of another schema version, before
        :meth:`_connect` changes it (looked at read-only, see ``_sqlite_readonly``)."""
        file = ReadOnlyFile(Path(self._path), self._busy_timeout, look=True)
        try:
            for _ in range(3):  # read again if a bot started on it meanwhile (see there)
                try:
                    version = self._read(file, stored_version("sqlite", self.target))
                except StoreError:
                    if file.unchanged():
                        raise
                    continue  # torn by a bot's checkpoint, not a broken file
                if file.unchanged():
                    break
            else:
                raise self._changed()
        finally:
            file.close()
        self._as_it_is(version)

    def _read(self, file: ReadOnlyFile, program: Program[T]) -> T:
        """Run ``program`` in a read transaction of ``file``'s (the caller checks that the
        file held still: :meth:`ReadOnlyFile.unchanged`)."""
        try:
            conn = file.connection()
            conn.execute(f"PRAGMA busy_timeout={round(self._busy_timeout * 1000)}")
            conn.execute("BEGIN")
        except FileNotFoundError:
            program.close()
            raise StoreError(
                f"the store {self.target} does not exist: check the file name"
            ) from None
        except (sqlite3.Error, OSError) as exc:
            program.close()
            raise self._translate(exc) from None
        return self._finish(conn, program)

    def _as_it_is(self, version: int | None) -> None:
        """Refuse, for a command that reads: no store (``None``), or another version."""
        if version is None:
            raise StoreError(
                f"the store {self.target} holds no ucwa-flow tables (no schema_migrations "
                "table): check the file name"
            )
        require_latest(self.target, version)

    def _connect(self) -> None:
        try:
            path: str | Path = self._path
            if str(path) != ":memory:":
                path = Path(path).expanduser()
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if self._exclusive:  # before the file is touched: StoreInUse, as is
                    self._hold = hold(path, self.target)
                # messages, rendered webhook headers and live secrets: for its owner only
                # (SQLite gives the -wal and -shm files the database file's permissions)
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            # used on the caller's thread too, never at the same time (see _may_inline)
            conn = sqlite3.connect(
                path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as exc:
            self._let_go()
            raise self._translate(exc) from None
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's
            conn.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
            conn.execute("PRAGMA busy_timeout=0")  # only the worker waits (see _drive)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA cache_size=-8000")
        except sqlite3.Error as exc:
            conn.close()
            self._let_go()
            raise self._translate(exc) from None
        self._conn = conn

    def _disconnect(self) -> None:
        if self._reader is not None:
            self._reader.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _let_go(self) -> None:
        """Release the hold on the file, if any (after the connection has closed)."""
        held, self._hold = self._hold, None
        if held is not None:
            held.release()

    def _drive(
        self, program: Program[T], write: bool, checkpoints: Checkpointer | None = None
    ) -> T:
        """Run ``program`` here, waiting up to the busy timeout for another process's
        locks; then, while the WAL is oversized, checkpoint (see ``_checkpointer``)."""
        if (reader := self._reader) is not None:
            try:
                result = self._read(reader, program)
            except StoreError:
                if reader.unchanged():
                    raise
                raise self._changed() from None  # torn by a bot's checkpoint, not broken
            if not reader.unchanged():
                raise self._changed()
            return result
        conn = self._conn
        if conn is None:
            program.close()
            raise StoreError(f"the store {self.target} is closed")
        try:
            conn.execute(f"PRAGMA busy_timeout={round(self._busy_timeout * 1000)}")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except (sqlite3.Error, OSError) as exc:
            program.close()
            _no_wait(conn)
            raise self._translate(exc) from None
        try:
            result = self._finish(conn, program)
        finally:
            _no_wait(conn)
        if checkpoints is not None:
            checkpoints.wrote_here()
            if checkpoints.oversized:
                checkpoints.caught_up(conn)
        return result

    def _finish(self, conn: sqlite3.Connection, program: Program[T]) -> T:
        """Run ``program`` in the transaction just begun, and commit it."""
        try:
            try:
                result = _steps(conn, program)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        except (sqlite3.Error, OSError) as exc:
            raise self._translate(exc) from None
        finally:
            program.close()
        return result

    def _changed(self) -> StoreUnavailable:
        return StoreUnavailable(
            f"the store {self.target} changed while it was read (a bot started on it): "
            "read it again"
        )

    def _translate(self, exc: BaseException) -> StoreError:
        """A driver error as one line naming the file."""
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        detail = first_line(exc)
        where = f"the store {self.target}"
        if isinstance(exc, sqlite3.IntegrityError):
            return StoreConflict(f"{where} refused a write ({detail}); nothing was written")
        if code in (_BUSY, _LOCKED):
            return StoreLocked(
                f"{where} is locked by another process (waited {self._busy_timeout:g} s)"
            )
        if code == _FULL or (isinstance(exc, OSError) and exc.errno in _NO_SPACE):
            return StoreFull(f"{where} cannot grow: the disk is full ({detail})")
        if code in (_NOTADB, _CORRUPT):
            return StoreCorrupt(f"{where} is not a usable database ({detail})")
        if isinstance(exc, OSError):  # making the folder or the file
            return StoreUnavailable(
                f"{where} cannot be opened ({detail})", retryable=exc.errno in _PASSING
            )
        if code == _CANTOPEN:
            return StoreUnavailable(f"{where} cannot be opened ({detail})", retryable=False)
        return StoreUnavailable(f"{where} failed ({detail})")


def _steps(conn: sqlite3.Connection, program: Program[T]) -> T:
    texts = _TEXTS
    try:
        statement = next(program)
        while True:
            text = texts.get(statement.text)
            if text is None:
                text = statement.text.replace("%s", "?")
                if len(texts) < _TEXTS_KEPT:  # the fixed statements; not every IN list
                    texts[statement.text] = text
            if statement.many is not None:
                conn.executemany(text, statement.many)
                rows = []
            else:
                cursor = conn.execute(text, statement.params)
                rows = cursor.fetchall() if cursor.description is not None else []
            statement = program.send(rows)
    except StopIteration as done:
        result: T = done.value
        return result


#: statements in SQLite's placeholders, by their text in the programs'
_TEXTS: dict[str, str] = {}
_TEXTS_KEPT = 200


def _no_wait(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):  # a closed connection waits for nothing
        conn.execute("PRAGMA busy_timeout=0")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # the connection is gone, or nothing to undo
            conn.execute("ROLLBACK")

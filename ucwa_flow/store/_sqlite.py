"""The SQLite backend: the standard library's ``sqlite3`` on a thread of its own.

``sqlite3`` blocks, so each store owns one worker thread and one connection created on it;
every operation runs there, one at a time, while the event loop waits on a future. The file
is put in WAL mode with ``synchronous=NORMAL`` (a commit is durable against a process crash
at once, and against a power cut at the next checkpoint) and a busy timeout, after which
a lock held by another process becomes :class:`~ucwa_flow.store.StoreLocked`.

Write transactions begin with ``BEGIN IMMEDIATE`` (the write lock up front, so two writers
cannot deadlock upgrading), reads with a plain ``BEGIN``: under WAL they never wait for a
writer, so ``ucwa-flow transcripts`` can read a store a bot is writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ucwa_flow.store._errors import (
    StoreConflict,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreLocked,
    StoreUnavailable,
    first_line,
)
from ucwa_flow.store._migrations import LATEST, migrate
from ucwa_flow.store._sql import Program
from ucwa_flow.store._store import Store

__all__ = ["SqliteStore"]

T = TypeVar("T")

_BUSY, _LOCKED, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 11, 13, 14, 26


class SqliteStore(Store):
    """A store in one SQLite file (``":memory:"`` for a private in-memory one)."""

    backend = "sqlite"

    def __init__(self, path: Path | str, busy_timeout: float) -> None:
        super().__init__(str(path))
        self._path = path
        self._busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="ucwa-flow-store"
        )
        self._conn: sqlite3.Connection | None = None

    async def open(self, upto: int = LATEST) -> SqliteStore:
        """Open (creating the file and its folder if needed) and migrate to ``upto``."""
        await self._call(self._connect)
        try:
            await self._run(migrate("sqlite", self.target, upto), write=True)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        finally:
            executor.shutdown(wait=False)

    async def _run(self, program: Program[T], *, write: bool) -> T:
        result: T = await self._call(lambda: self._drive(program, write))
        return result

    # -- on the store's thread ------------------------------------------------------------

    async def _call(self, work: Any) -> Any:
        if self._executor is None:
            raise StoreError(f"the store {self.target} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def _connect(self) -> None:
        try:
            path: str | Path = self._path
            if str(path) != ":memory:":
                path = Path(path).expanduser()
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                # messages, rendered webhook headers and live secrets: for its owner only
                # (SQLite gives the -wal and -shm files the database file's permissions)
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            conn = sqlite3.connect(path, timeout=self._busy_timeout, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise self._translate(exc) from None
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            conn.close()
            raise self._translate(exc) from None
        self._conn = conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _drive(self, program: Program[T], write: bool) -> T:
        conn = self._conn
        if conn is None:
            raise StoreError(f"the store {self.target} is closed")
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
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
        if code == _FULL:
            return StoreFull(f"{where} cannot grow: the disk is full ({detail})")
        if code in (_NOTADB, _CORRUPT):
            return StoreCorrupt(f"{where} is not a usable database ({detail})")
        if code == _CANTOPEN or isinstance(exc, OSError):
            return StoreUnavailable(f"{where} cannot be opened ({detail})", retryable=False)
        return StoreUnavailable(f"{where} failed ({detail})")


def _steps(conn: sqlite3.Connection, program: Program[T]) -> T:
    try:
        statement = next(program)
        while True:
            text = statement.text.replace("%s", "?")
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


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # the connection is gone, or nothing to undo
            conn.execute("ROLLBACK")

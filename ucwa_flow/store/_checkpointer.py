"""Copying a SQLite store's write-ahead log into its file, beside the writes.

The SQLite backend runs its file in WAL mode with ``synchronous=NORMAL``: a commit is
appended to the WAL without waiting for the disk, and it is safe from a power cut or an
OS crash only once a checkpoint has synced the WAL (then copied it into the database file
and synced that). SQLite's automatic checkpoints run inside the commit that crosses the
mark, so that commit waits for two ``fsync``\\ s; here they are off, and a
:class:`Checkpointer` runs them on a thread and a connection of its own instead, so a
commit never waits for one (a ``PASSIVE`` checkpoint waits for no reader or writer, and
writers go on appending to the WAL while it runs). One starts:

* once about ``rows`` rows were written since the last one (on the order of SQLite's own
  default of 1,000 pages), and
* ``seconds`` (real time) after the first write not checkpointed yet, so that a quiet
  store's commits do not wait long: a power cut loses at most about that much.

One runs at a time; writes that come while it runs are counted toward the next, which
starts when it ends (once enough rows came) or ``seconds`` after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

__all__ = ["Checkpointer"]


class Checkpointer:
    """Checkpoints the WAL of the SQLite file at ``path`` (see the module docstring).
    :meth:`wrote` is called on the event loop's thread, after each write."""

    def __init__(self, path: Path | str, *, rows: int, seconds: float) -> None:
        self._path = path
        self._rows, self._seconds = rows, seconds
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="ucwa-flow-checkpoint"
        )
        self._conn: sqlite3.Connection | None = None  # opened, and used, on that thread
        self._written = 0  # rows written since the last checkpoint started
        self._due: asyncio.TimerHandle | None = None
        self._running: Future[None] | None = None  # the checkpoint under way
        #: checkpoints run so far
        self.runs = 0

    def wrote(self, rows: int) -> None:
        """``rows`` rows were just committed: start a checkpoint if they make enough,
        else make sure one starts within ``seconds``."""
        self._written += rows
        if self._written >= self._rows:
            self._start()
        elif self._due is None:
            self._due = asyncio.get_running_loop().call_later(self._seconds, self._timer)

    def _timer(self) -> None:
        self._due = None
        self._start()

    def _start(self) -> None:
        if self._written == 0 or self._executor is None or self._running is not None:
            return  # nothing to do, closed, or the one running starts the next (_finished)
        if self._due is not None:
            self._due.cancel()
            self._due = None
        self._written = 0
        loop = asyncio.get_running_loop()
        self._running = self._executor.submit(self._checkpoint)
        self._running.add_done_callback(lambda _: _soon(loop, self._finished))

    def _finished(self) -> None:
        self._running = None
        if self._written >= self._rows:
            self._start()
        elif self._written and self._due is None:
            self._due = asyncio.get_running_loop().call_later(self._seconds, self._timer)

    def _checkpoint(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # the next one catches up
            if self._conn is None:
                self._conn = sqlite3.connect(
                    self._path, timeout=0, isolation_level=None, check_same_thread=False
                )
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.runs += 1

    async def aclose(self) -> None:
        """Stop: no checkpoint starts any more; waits for the one running, if any."""
        if self._due is not None:
            self._due.cancel()
            self._due = None
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        finally:
            executor.shutdown(wait=False)

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """``callback`` on ``loop``'s thread, unless the loop is gone (the store was dropped)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)

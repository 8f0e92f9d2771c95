"""Copying a SQLite store's write-ahead log into its file, beside the writes.

The SQLite backend runs its file in WAL mode with ``synchronous=NORMAL``: a commit is
appended to the WAL without waiting for the disk, and it is safe from a power cut or an
OS crash only once a checkpoint has synced the WAL (then copied it into the database file
and synced that). SQLite's automatic checkpoints run inside the commit that crosses the
mark, so that commit waits for two ``fsync``\\ s; here they are off, and a
:class:`Checkpointer` runs them on a thread and a connection of its own instead, so a
commit does not wait for one (a ``PASSIVE`` checkpoint waits for no reader or writer, and
writers go on appending to the WAL while it runs). One starts:

* once about ``rows`` rows were written since the last one (on the order of SQLite's own
  default of 1,000 pages), and
* ``seconds`` (real time) after the first write not checkpointed yet, so that a quiet
  store's commits do not wait long: a power cut loses at most about that much.

One runs at a time; writes that come while it runs are counted toward the next, which
starts when it ends (once enough rows came) or ``seconds`` after it. A checkpoint that
could not copy the whole WAL (a reader still on an older snapshot, another process's
checkpoint, an error) is tried again ``seconds`` later, writes or not, until one does.

The WAL starts over from its beginning only when a writer finds all of it copied. Under
steady writes a checkpoint beside them never gets there (new frames come in while it
copies), so once a checkpoint finds more than :data:`RESTART_FRAMES` frames it sets
:attr:`Checkpointer.oversized`, and the store then checkpoints on its writers' own thread,
after each commit, until one copies the whole WAL (as SQLite's own automatic checkpoints
do); the next writer starts the WAL over, its file cut back to :data:`WAL_KEPT_BYTES`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

__all__ = ["RESTART_FRAMES", "WAL_KEPT_BYTES", "Checkpointer"]

#: WAL frames (pages) past which the writers checkpoint themselves until the WAL starts over
RESTART_FRAMES = 4096
#: seconds between two RESTART checkpoints of the writers (each waits up to 50 ms for readers)
RESTART_EVERY = 1.0
#: bytes of WAL file kept when the WAL starts over (``journal_size_limit``)
WAL_KEPT_BYTES = 16 * 1024 * 1024


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
        self._loop: asyncio.AbstractEventLoop | None = None  # the one the timers are on
        self._written = 0  # rows written since the last checkpoint started
        self._due: asyncio.TimerHandle | None = None
        self._running: Future[bool] | None = None  # the checkpoint under way
        #: the WAL has grown past RESTART_FRAMES: the writers checkpoint (see the module)
        self.oversized = False
        #: a checkpoint copied the whole WAL: the next write starts it over, which syncs
        #: its new header, so it goes to the store's thread (not the event loop's)
        self.fresh = False
        self._clean = True  # every write is in a checkpoint that copied it all
        self._restarted = 0.0  # when the writers last tried a RESTART (their thread's)
        #: checkpoints that found the whole WAL copied into the file
        self.runs = 0

    def wrote(self, rows: int) -> None:
        """``rows`` rows were just committed: start a checkpoint if they make enough,
        else make sure one starts within ``seconds``."""
        if self._executor is None:
            return
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a store used from another loop: its timers are gone
            self._loop, self._due, self._running = loop, None, None
        self._written += rows
        self._clean = False
        if self._written >= self._rows:
            self._start()
        else:
            self._arm()

    def _arm(self) -> None:
        if self._due is None and self._loop is not None:
            self._due = self._loop.call_later(self._seconds, self._timer)

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
        loop = self._loop
        assert loop is not None  # wrote() came first
        running = self._running = self._executor.submit(self._checkpoint)
        running.add_done_callback(lambda _: _soon(loop, lambda: self._finished(running)))

    def _finished(self, done: Future[bool]) -> None:
        if done is not self._running:
            return  # one started on a loop the store no longer runs on
        self._running = None
        if self._executor is None:
            return  # closed meanwhile
        if done.cancelled() or done.exception() is not None or not done.result():
            self._written = max(self._written, 1)  # not all copied: try again
        elif not self._written:
            self._clean = True
        if self._written >= self._rows:
            self._start()
        elif self._written:
            self._arm()

    def _checkpoint(self) -> bool:
        """On the checkpoint thread: whether the whole WAL is in the file now."""
        try:
            conn = self._conn
            if conn is None:
                conn = self._conn = sqlite3.connect(
                    self._path, timeout=0, isolation_level=None, check_same_thread=False
                )
                conn.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
            busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if log > RESTART_FRAMES:
                self.oversized = True
        except sqlite3.Error:
            return False  # tried again (the file gone, locked, full...)
        if busy or copied < log:
            return False
        self.runs += 1
        self.fresh = True
        return True

    def caught_up(self, conn: sqlite3.Connection) -> None:
        """On the writers' thread, after a commit, while :attr:`oversized`: checkpoint on
        ``conn``, between writes (none can come in meanwhile), so that the WAL starts over.
        All copied but still long, a reader may still be in it (another process reading
        again and again): every :data:`RESTART_EVERY` seconds a ``RESTART`` checkpoint
        waits up to 50 ms for the readers to leave. :attr:`oversized` ends once a
        checkpoint finds it short: started over."""
        with contextlib.suppress(sqlite3.Error):  # the next write tries again
            busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if busy or copied < log:
                return
            if log <= RESTART_FRAMES:
                self.oversized = False
                return
            now = time.monotonic()
            if now - self._restarted >= RESTART_EVERY:
                self._restarted = now
                conn.execute("PRAGMA busy_timeout=50")
                try:
                    conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                finally:
                    conn.execute("PRAGMA busy_timeout=0")

    def wrote_here(self) -> None:
        """A write just committed on the store's thread: the WAL is no longer fresh."""
        self.fresh = False

    async def aclose(self) -> None:
        """Stop: no checkpoint starts any more; waits for the one running, if any."""
        if self._due is not None:
            self._due.cancel()
            self._due = None
        executor, self._executor = self._executor, None
        if executor is None:
            return
        clean = self._clean
        try:
            # a last one for what was written since (the bot's own close may not be the
            # last connection's, which would checkpoint: `transcripts prune` beside a bot)
            await asyncio.get_running_loop().run_in_executor(executor, self._last, clean)
        finally:
            executor.shutdown(wait=False)

    def _last(self, clean: bool) -> None:
        if not clean:
            self._checkpoint()
        self._disconnect()

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """``callback`` on ``loop``'s thread, unless the loop is gone (the store was dropped)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)

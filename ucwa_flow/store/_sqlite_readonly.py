"""Read-only connections to a SQLite store: for the commands that read one (``transcripts``,
``replay``, ``review``), and to look at a store before ``transcripts prune`` opens it.

A reader writes nothing to the store, nor to the files beside it while it can help it:

* the file is opened through its real path (symbolic links resolved): SQLite keeps the
  ``-wal`` and ``-shm`` files beside the real file, and whether a ``-wal`` file is there
  decides how to read it;
* a file in WAL mode with no ``-wal`` file beside it is a store no program has open (a bot's
  connection keeps its ``-wal`` file until it closes, and then checkpoints it into the file
  first): all its pages are in the file. Where ``immutable`` allows (a short look before a
  store is opened, which leaves no ``-wal`` or ``-shm`` file beside a store it refuses), or
  in a folder this user cannot write (where a read-only connection cannot read a WAL
  database at all, and no bot can run either), it is read as ``immutable``: no locks, no
  file created. A bot may start on it while it is read: its writes go to a ``-wal`` file,
  which the next read transaction sees and so reads through a read-only connection from
  then on; it writes the file itself only when it checkpoints, and a read during which the
  file changed (its size or modification time, which a file system with coarse times may
  not show) is refused as :meth:`ReadOnlyFile.unchanged` says. Elsewhere (the store of a
  command that keeps reading it, such as ``review --store``) it is read through a read-only
  connection, which SQLite's locks keep consistent whatever a bot does meanwhile, at the
  price of an empty ``-wal`` and ``-shm`` file it creates and leaves (a bot uses them);
* any other file (a rollback-journal database such as a ``VACUUM INTO`` copy, an empty
  file, the store of a running bot, or of a bot that crashed with its last writes in the
  ``-wal`` file) through a read-only connection (``mode=ro``): it sees what a bot has
  committed, never blocks the bot (a WAL reader takes no lock the writer waits for), never
  checkpoints nor deletes the ``-wal`` file, and leaves the journal mode as it is.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

__all__ = ["ReadOnlyFile"]

#: the first bytes of every SQLite database file
_MAGIC = b"SQLite format 3\x00"
#: the header's file format versions (offsets 18 and 19): 2 is WAL
_WAL = 2


class ReadOnlyFile:
    """Read-only connections to the SQLite file at ``path``, one at a time, waiting up to
    ``timeout`` seconds for another process's lock (a rollback-journal database's writer).

    Call :meth:`connection` before each read transaction and :meth:`unchanged` after it.
    Raises ``FileNotFoundError`` for a missing file (nothing is created), ``OSError`` for a
    file that cannot be read and :class:`sqlite3.Error` for one that is not a database."""

    def __init__(self, path: Path, timeout: float, *, look: bool = False) -> None:
        try:
            self.path = Path(path).expanduser().resolve()
        except RuntimeError:  # a loop of symbolic links (3.11): opening it says so
            self.path = Path(path).expanduser().absolute()
        self._wal = Path(f"{self.path}-wal")
        self._timeout = timeout
        #: immutable reads of a store no program has open: for a short look (``look``), or
        #: where nothing else reads it (a folder this user cannot write)
        self._immutable = look or not os.access(self.path.parent, os.W_OK)
        self._conn: sqlite3.Connection | None = None
        #: the file's size and modification time when an immutable connection opened it;
        #: ``None`` for a read-only (not immutable) connection
        self._seen: tuple[int, int, int] | None = None

    def connection(self) -> sqlite3.Connection:
        """The connection for the next read transaction: a new one when an immutable one
        no longer fits (a bot has opened the file since, or the file changed)."""
        conn = self._conn
        stale = self._seen is not None and (
            self._wal.exists() or _signature(self.path.stat()) != self._seen
        )
        if conn is not None and stale:
            self.close()
            conn = None
        if conn is None:
            conn = self._conn = self._open()
        return conn

    def unchanged(self) -> bool:
        """Whether the transaction just read held still: always for a read-only
        connection (SQLite's locks see to it); for an immutable one, unless the file
        changed while it was read (a bot started on it and checkpointed)."""
        if self._seen is None:
            return True
        try:
            return _signature(self.path.stat()) == self._seen
        except OSError:
            return False

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _open(self) -> sqlite3.Connection:
        with self.path.open("rb") as file:
            header = file.read(100)
            stat = os.fstat(file.fileno())
        uri = self.path.as_uri() + "?mode=ro"
        in_wal = header.startswith(_MAGIC) and _WAL in header[18:20]
        self._seen = None
        if in_wal and self._immutable and not self._wal.exists():
            uri += "&immutable=1"
            self._seen = _signature(stat)
        # used on the store's thread and (closing) the caller's, never at the same time
        return sqlite3.connect(
            uri, uri=True, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    """What a write to the file changes: its size, its modification time (an inode of
    its own when it was replaced)."""
    return stat.st_ino, stat.st_size, stat.st_mtime_ns

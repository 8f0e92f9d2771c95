"""Which schema version a SQLite file's ucwa-flow store has, if any, found without changing
the file.

The commands that only read a store (``transcripts``, ``replay``, ``review``) refuse a file
that holds none (a typo in the file name, another program's database, an empty file) and a
store of another schema version than theirs (they never migrate one). The store's own
connection cannot tell them so: it puts the file in WAL mode first (and SQLite writes a
header into an empty file), so the refusal would come after the file changed for good.
:func:`stored_version_of` looks first, read-only:

* a file in WAL mode with no ``-wal`` file beside it has all its pages in the file itself:
  it is read as ``immutable`` (no locks, no ``-wal`` or ``-shm`` file created, which a
  read-only connection to a WAL database otherwise leaves behind);
* any other file (a rollback-journal database, an empty file, a WAL database a program has
  open, such as the store of a running bot) through a read-only connection
  (``mode=ro``), which takes the usual locks and writes nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["STORE_TABLE", "VERSION", "stored_version_of"]

#: how a database tells it holds a store: its table of migrations
STORE_TABLE = (
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
)
#: the store's schema version (both dialects)
VERSION = "SELECT MAX(version) FROM schema_migrations"
#: the first bytes of every SQLite database file
_MAGIC = b"SQLite format 3\x00"
#: the header's file format versions (offsets 18 and 19): 2 is WAL
_WAL = 2


def stored_version_of(path: Path, timeout: float) -> int | None:
    """The schema version of the store in the SQLite file ``path``, ``None`` when it has no
    ``schema_migrations`` table, waiting up to ``timeout`` seconds for another process's
    lock. Raises ``FileNotFoundError`` for a missing file (nothing is created), ``OSError``
    for a file that cannot be read and :class:`sqlite3.Error` for one that is not a
    database."""
    with path.open("rb") as file:
        header = file.read(100)
    uri = path.absolute().as_uri() + "?mode=ro"
    in_wal = header.startswith(_MAGIC) and _WAL in header[18:20]
    if in_wal and not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    try:
        conn.execute("BEGIN")  # both reads from one snapshot
        if not conn.execute(STORE_TABLE).fetchone()[0]:
            return None
        return int(conn.execute(VERSION).fetchone()[0] or 0)
    finally:
        conn.close()

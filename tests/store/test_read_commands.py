"""The commands that read a PostgreSQL store, pointed at a database (or search_path) that
holds none: a typo in the URL. They created every table there, then said it was empty (``No
workers``, ``No conversations match.``), so the typo went unseen and left tables behind;
``replay`` and ``review --store`` did so too."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.e2e.test_cli import UCWA_FLOW
from tests.guards import WAIT
from tests.store.conftest import Target
from ucwa_flow.store import StoreError, open_store

HELPDESK = str(Path(__file__).parents[2] / "flows" / "helpdesk.flow.yaml")


@pytest.mark.parametrize(
    "command",
    [["workers"], ["transcripts", "list"], ["replay", HELPDESK], ["review", HELPDESK]],
    ids=["workers", "transcripts", "replay", "review"],
)
def test_a_database_without_a_store_is_refused_and_left_as_it_was(
    pg_target: Target, command: list[str]
) -> None:
    assert pg_target.url is not None
    assert pg_target.schema is not None
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(pg_target.schema)))
    url = f"{pg_target.url}&options=-csearch_path%3D{pg_target.schema}"
    done = subprocess.run(
        [UCWA_FLOW, *command, "--store", url],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("ucwa-flow: error: "), line
    assert "the store postgresql://" in line, line
    assert line.endswith(
        f"%3D{pg_target.schema} holds no ucwa-flow tables (no schema_migrations on its "
        "search_path): check the database name and the search_path"
    )
    assert pg_target.raw("SELECT 1 FROM pg_tables WHERE schemaname = %s", (pg_target.schema,)) == []


def _foreign(path: Path, kind: str) -> None:
    """Put at ``path`` a file that is no store: ``kind`` says which."""
    if kind == "not SQLite":
        path.write_text("name,count\nbob,3\n")
        return
    path.touch()
    if kind == "empty":
        return
    conn = sqlite3.connect(path)
    if kind == "another program's, in WAL mode":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE grafana (id INTEGER)")
    conn.commit()
    conn.close()


def _journal_mode(path: Path) -> str:
    conn = sqlite3.connect(path)  # the last one to close: leaves no -wal or -shm file
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize(
    "command",
    [
        ["transcripts", "list", "--state"],
        ["replay", HELPDESK, "--state"],
        ["review", HELPDESK, "--listen", "127.0.0.1:0", "--store"],
    ],
    ids=["transcripts", "replay", "review"],
)
@pytest.mark.parametrize(
    "kind", ["empty", "another program's", "another program's, in WAL mode", "not SQLite"]
)
def test_a_sqlite_file_without_a_store_is_refused_and_left_as_it_was(
    tmp_path: Path, command: list[str], kind: str
) -> None:
    """Refused before it is changed: the store's own connection puts a file in WAL mode
    (another program's database stayed so for good) and writes a header into an empty
    one; the file's bytes, its journal mode and the folder's files are as they were."""
    path = tmp_path / "app.db"
    _foreign(path, kind)
    before = path.read_bytes()
    mode = None if kind == "not SQLite" else _journal_mode(path)
    done = subprocess.run(
        [UCWA_FLOW, *command, str(path)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("ucwa-flow: error: "), line
    if kind == "not SQLite":
        assert line.endswith(f"the store {path} is not a usable database (file is not a database)")
    else:
        assert line.endswith(
            f"the store {path} holds no ucwa-flow tables (no schema_migrations table): "
            "check the file name"
        ), line
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]  # no -wal, -shm, .lock
    if mode is not None:
        assert _journal_mode(path) == mode == ("wal" if "WAL" in kind else "delete")


def test_a_missing_sqlite_file_is_not_created_by_a_reader(tmp_path: Path) -> None:
    """The commands check that the file exists first; the store refuses it too rather than
    create it (and its folder), then find it empty."""
    path = tmp_path / "state" / "bot.sqlite3"
    with pytest.raises(StoreError) as refused:
        asyncio.run(open_store(path, existing=True))
    assert str(refused.value) == f"the store {path} does not exist: check the file name"
    assert list(tmp_path.iterdir()) == []

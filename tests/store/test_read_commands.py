"""The commands that read a PostgreSQL store, pointed at a database (or search_path) that
holds none: a typo in the URL. They created every table there, then said it was empty (``No
workers``, ``No conversations match.``), so the typo went unseen and left tables behind;
``replay`` and ``review --store`` did so too."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.e2e.test_cli import UCWA_FLOW
from tests.guards import WAIT
from tests.store.conftest import Target

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


@pytest.mark.parametrize(
    "command",
    [
        ["transcripts", "list", "--state"],
        ["replay", HELPDESK, "--state"],
        ["review", HELPDESK, "--listen", "127.0.0.1:0", "--store"],
    ],
    ids=["transcripts", "replay", "review"],
)
@pytest.mark.parametrize("kind", ["empty", "another program's"])
def test_a_sqlite_file_without_a_store_is_refused_and_left_as_it_was(
    tmp_path: Path, command: list[str], kind: str
) -> None:
    path = tmp_path / "app.db"
    path.touch()
    if kind != "empty":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE grafana (id INTEGER)")
        conn.commit()
        conn.close()
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
    assert line.endswith(
        f"the store {path} holds no ucwa-flow tables (no schema_migrations table): "
        "check the file name"
    ), line
    conn = sqlite3.connect(path)
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
    conn.close()
    assert tables == ([] if kind == "empty" else ["grafana"])

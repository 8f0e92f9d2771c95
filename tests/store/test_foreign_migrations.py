"""A database of another program that has a ``schema_migrations`` table too (Rails, a
migration tool): the commands that read a store said it was from a newer ucwa-flow (Rails'
versions are times, 20240101120000) or ended in a traceback (``ValueError: invalid literal
for int()`` for a version such as ``001_init``). Now one line: it is not a ucwa-flow store;
a bot refuses it the same way, creating none of its tables there."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.e2e.test_cli import UCWA_FLOW
from tests.guards import WAIT
from tests.store.conftest import Target
from ucwa_flow.store import StoreError

#: how other programs keep their migrations, and what they hold
FOREIGN: dict[str, tuple[tuple[str, ...], tuple[Any, ...]]] = {
    "named versions": (
        ("CREATE TABLE schema_migrations (version varchar(40) PRIMARY KEY)",),
        ("001_init", "002_users"),
    ),
    "named versions, none yet": (  # a bot refused it with "no column named description"
        ("CREATE TABLE schema_migrations (version varchar(40) PRIMARY KEY)",),
        (),
    ),
    "rails": (
        (
            "CREATE TABLE schema_migrations (version varchar NOT NULL PRIMARY KEY)",
            "CREATE TABLE ar_internal_metadata (key varchar PRIMARY KEY, value varchar)",
        ),
        ("20240101120000", "20240315093000"),
    ),
    "numbered, with our columns' names": (  # as a tool might; no migration 1 of ours
        (
            "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, "
            "description text NOT NULL, applied_at double precision NOT NULL)",
        ),
        (1, 2),
    ),
}


def _foreign(target: Target, kind: str) -> None:
    if target.backend == "sqlite":
        assert target.path is not None
        target.path.parent.mkdir(parents=True, exist_ok=True)
    else:
        target.raw(f'CREATE SCHEMA "{target.schema}"')
    statements, versions = FOREIGN[kind]
    for statement in statements:
        target.raw(statement)
    for version in versions:
        if "description" in statements[0]:
            target.raw(
                "INSERT INTO schema_migrations VALUES (%s, %s, %s)", (version, "add users", 0.0)
            )
        else:
            target.raw("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))


def _tables(target: Target) -> list[tuple[Any, ...]]:
    if target.backend == "sqlite":
        return target.raw("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
    return target.raw(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (target.schema,)
    )


def _said(target: Target) -> str:
    where = (
        "check the file name"
        if target.backend == "sqlite"
        else "check the database name and the search_path"
    )
    return (
        "is not a ucwa-flow store: its schema_migrations table is another program's "
        f"(no ucwa-flow migration 1 in it); {where}"
    )


@pytest.mark.parametrize("kind", list(FOREIGN))
async def test_a_reader_and_a_bot_refuse_another_programs_migrations(
    target: Target, kind: str
) -> None:
    _foreign(target, kind)
    before = _tables(target)
    for options in ({}, {"existing": True}, {"read_only": True}):  # bot, prune, reader
        with pytest.raises(StoreError) as refused:
            await target.open(**options)
        message = str(refused.value)
        assert message.startswith("the store "), message
        assert message.endswith(_said(target)), message
        assert not refused.value.retryable
        assert _tables(target) == before


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_transcripts_list_says_so_in_one_line(
    target: Target, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    _foreign(target, kind)
    if target.backend == "sqlite":
        where = ["--state", str(target.path)]
    else:
        where = ["--store", f"{target.url}&options=-csearch_path%3D{target.schema}"]
    done = subprocess.run(
        [UCWA_FLOW, "transcripts", "list", *where],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    (said,) = done.stderr.splitlines()
    assert said.startswith("ucwa-flow: error: the store "), said
    assert said.endswith(_said(target)), said

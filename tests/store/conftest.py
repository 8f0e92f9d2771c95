"""Every store test runs against both backends: a SQLite file and a PostgreSQL schema.

PostgreSQL is the server ``UCWA_FLOW_TEST_POSTGRES`` names (a URL), else the local socket or
127.0.0.1:5432 (user ``postgres``, database ``test``). Each test gets a schema of its own,
dropped afterwards, so tests are isolated and run in any order. When no server answers, the
PostgreSQL cases are skipped, except under ``CI=true``, where a missing server fails them.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ucwa_flow.store import Store, open_store

DEFAULT_URLS = (
    "postgresql://postgres@/test",  # the local socket
    "postgresql://postgres@127.0.0.1:5432/test",
)

_reachable: dict[str, str | None] = {}


def postgres_url() -> str:
    """A reachable server's URL, or skip (fail under CI) with the reason."""
    if "url" not in _reachable:
        wanted = os.environ.get("UCWA_FLOW_TEST_POSTGRES")
        reasons = []
        _reachable["url"] = None
        for url in (wanted,) if wanted else DEFAULT_URLS:
            try:
                with psycopg.connect(url, connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error as exc:
                reasons.append(f"{url}: {str(exc).strip().splitlines()[0]}")
                continue
            _reachable["url"] = url
            break
        _reachable["why"] = "; ".join(reasons)
    url = _reachable["url"]
    if url is None:
        message = f"no PostgreSQL server reachable ({_reachable['why']})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must run the PostgreSQL store tests")
        pytest.skip(f"{message}; set UCWA_FLOW_TEST_POSTGRES to run these cases")
    return url


@dataclass
class Target:
    """Where one test's store lives, and how to reach it behind the store's back."""

    backend: str
    path: Path | None = None
    url: str | None = None
    schema: str | None = None

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else f"{self.url}"

    async def open(self, **options: Any) -> Store:
        if self.backend == "sqlite":
            assert self.path is not None
            return await open_store(self.path, **options)
        assert self.url is not None
        return await open_store(self.url, schema=self.schema, **options)

    def raw(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on a connection of the test's own (``%s`` placeholders)."""
        if self.backend == "sqlite":
            assert self.path is not None
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                return conn.execute(statement.replace("%s", "?"), params).fetchall()
            finally:
                conn.close()
        assert self.url is not None
        assert self.schema is not None
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description is not None else []


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target("sqlite", path=tmp_path / "state" / "bot.sqlite3")
    else:
        yield from postgres_target()


@pytest.fixture
def pg_target() -> Iterator[Target]:
    """A PostgreSQL target only, for the cases about the server itself."""
    yield from postgres_target()


def postgres_target() -> Iterator[Target]:
    """A schema of the test's own, dropped afterwards."""
    base = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    glue = "&" if "?" in base else "?"
    # the application name lets a test find (and kill) the store's server process
    yield Target("postgres", url=f"{base}{glue}application_name={schema}", schema=schema)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
async def store(target: Target) -> AsyncIterator[Store]:
    opened = await target.open()
    try:
        yield opened
    finally:
        await opened.aclose()

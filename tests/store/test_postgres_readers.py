"""The commands that read a PostgreSQL store create nothing and need no more than ``SELECT``.

Opened with ``schema=``, a reader ran ``CREATE SCHEMA IF NOT EXISTS``: it created the schema
it was pointed at by mistake, and a role allowed only to read (``SELECT`` on the store's
tables, no ``CREATE`` on the database) or a read-only session
(``default_transaction_read_only``, a hot standby) could not read a store at all (*permission
denied for database*, *cannot execute CREATE SCHEMA in a read-only transaction*). Now a
missing schema holds no store, and a reader's session is read-only itself.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.e2e.test_cli import UCWA_FLOW
from tests.guards import WAIT
from tests.store.builders import ACCOUNT
from tests.store.conftest import Target, postgres_url
from tests.store.test_readers_keep_the_schema import _build
from ucwa_flow.store import SCHEMA_VERSION, StoreError, open_store


def _schemas(name: str) -> list[tuple[object, ...]]:
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchall()


@pytest.mark.parametrize("options", [{"read_only": True}, {"existing": True}], ids=str)
async def test_a_reader_creates_no_schema(pg_target: Target, options: dict[str, bool]) -> None:
    assert pg_target.schema is not None
    with pytest.raises(StoreError) as refused:
        await pg_target.open(**options)
    assert str(refused.value).endswith(
        f"(schema {pg_target.schema}) holds no ucwa-flow tables (no schema_migrations on its "
        "search_path): check the database name and the search_path"
    ), refused.value
    assert await asyncio.to_thread(_schemas, pg_target.schema) == []


@pytest.fixture
def reader_role(pg_target: Target) -> Iterator[str]:
    """A role that may only read the store's tables: no CREATE on the database."""
    role = f"reader_{uuid.uuid4().hex[:12]}"
    name = sql.Identifier(role)
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(name))
    try:
        yield role
    finally:
        with psycopg.connect(postgres_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(name))
            conn.execute(sql.SQL("DROP ROLE {}").format(name))


def _as(target: Target, role: str) -> str:
    assert target.url is not None
    assert "postgres@" in target.url
    return target.url.replace("postgres@", f"{role}@", 1)


async def test_a_role_that_may_only_select_reads_a_store(
    pg_target: Target, reader_role: str
) -> None:
    assert pg_target.schema is not None
    await asyncio.to_thread(_build, pg_target, SCHEMA_VERSION)
    schema, role = sql.Identifier(pg_target.schema), sql.Identifier(reader_role)
    for grant in (
        "GRANT USAGE ON SCHEMA {} TO {}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}",
    ):
        pg_target.raw(sql.SQL(grant).format(schema, role).as_string(None))
    url = _as(pg_target, reader_role)
    store = await open_store(url, schema=pg_target.schema, read_only=True)
    async with store:
        (record,) = await store.conversations()
        key = (ACCOUNT, record.conversation)
        assert (await store.endings([key]))[key].data["why"] == "stop"
    with pytest.raises(StoreError):  # prune deletes: it needs more than SELECT
        async with await open_store(url, schema=pg_target.schema, existing=True) as pruning:
            await pruning.prune(before=2e9)
    assert pg_target.raw("SELECT count(*) FROM conversations") == [(1,)]


@pytest.mark.parametrize(
    "command", [["transcripts", "list"], ["transcripts", "export"], ["workers"]], ids=str
)
def test_the_reading_commands_read_in_a_read_only_session(
    pg_target: Target, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server whose sessions are read-only (a hot standby, or set so for the role): a
    guard that no reading command writes (through a URL, without ``schema=``, they did not
    create a schema before either)."""
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    _build(pg_target, SCHEMA_VERSION)
    options = f"-cdefault_transaction_read_only%3Don%20-csearch_path%3D{pg_target.schema}"
    done = subprocess.run(
        [UCWA_FLOW, *command, "--store", f"{pg_target.url}&options={options}"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def test_a_store_opened_with_a_schema_reads_in_a_read_only_session(
    pg_target: Target,
) -> None:
    await asyncio.to_thread(_build, pg_target, SCHEMA_VERSION)
    url = f"{pg_target.url}&options=-cdefault_transaction_read_only%3Don"
    async with await open_store(url, schema=pg_target.schema, read_only=True) as store:
        assert len(await store.conversations()) == 1

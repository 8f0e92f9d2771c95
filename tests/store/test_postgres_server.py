"""The PostgreSQL backend's server: unreachable, or gone in the middle of a run."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from tests.guards import WAIT
from tests.store.builders import ACCOUNT, conversation, position
from tests.store.conftest import Target, postgres_url
from ucwa_flow.store import Changes, StoreError, StoreUnavailable, open_store
from ucwa_flow.store._postgres import PostgresStore


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port nothing listens on: bound and never listening (released, another socket of the
    run, a server on port 0 of the other xdist worker, could take it meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def test_an_unreachable_server_is_one_retryable_line() -> None:
    with closed_port() as port, pytest.raises(StoreUnavailable) as caught:
        await open_store(f"postgresql://bot:sekret@127.0.0.1:{port}/ucwa", connect_timeout=5)
    message = str(caught.value)
    assert "\n" not in message
    assert "cannot be reached" in message
    assert "127.0.0.1" in message
    assert "sekret" not in message
    assert caught.value.retryable


def _with_database(url: str, name: str) -> str:
    """``url`` (the test server's) naming the database ``name`` instead."""
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


async def test_a_database_that_does_not_exist_is_refused_for_good() -> None:
    url = _with_database(postgres_url(), f"nosuch_{uuid.uuid4().hex[:12]}")
    with pytest.raises(StoreError) as caught:
        await open_store(url, connect_timeout=5)
    message = str(caught.value)
    assert not caught.value.retryable, message
    assert not isinstance(caught.value, StoreUnavailable)
    assert "\n" not in message
    assert " refused the connection (" in message
    assert "does not exist" in message
    assert message.endswith("; check the URL")


async def test_a_role_that_does_not_exist_is_refused_for_good() -> None:
    parts = urlsplit(postgres_url())
    host = parts.netloc.rpartition("@")[2]
    url = parts._replace(netloc=f"nosuch_{uuid.uuid4().hex[:8]}:sekret@{host}").geturl()
    with pytest.raises(StoreError) as caught:
        await open_store(url, connect_timeout=5)
    message = str(caught.value)
    assert not caught.value.retryable, message
    assert " refused the connection (" in message
    assert "sekret" not in message


async def test_a_role_that_may_not_log_in_is_refused_for_good() -> None:
    base = postgres_url()
    name = f"nologin_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
    try:
        parts = urlsplit(base)
        host = parts.netloc.rpartition("@")[2]
        with pytest.raises(StoreError) as caught:
            await open_store(parts._replace(netloc=f"{name}@{host}").geturl(), connect_timeout=5)
        assert not caught.value.retryable, str(caught.value)
        assert "is not permitted to log in" in str(caught.value)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


async def test_a_search_path_naming_no_schema_that_exists_says_so() -> None:
    """It was "the store ... failed (no schema has been selected to create in)": the
    server's words, which do not tell an operator that the URL's schema is missing."""
    base = postgres_url()
    glue = "&" if "?" in base else "?"
    url = f"{base}{glue}options=-csearch_path%3Dnosuch_{uuid.uuid4().hex[:12]}"
    with pytest.raises(StoreError) as caught:
        await open_store(url, connect_timeout=5)
    message = str(caught.value)
    assert not caught.value.retryable, message
    assert "\n" not in message
    assert " has no schema to keep its tables in (no schema has been selected" in message
    assert message.endswith(
        "the URL's search_path names no schema that exists; create it (CREATE SCHEMA name) "
        "or correct the URL"
    )


async def test_a_url_parameter_libpq_does_not_know_is_refused_for_good() -> None:
    with closed_port() as port, pytest.raises(StoreError) as caught:
        await open_store(f"postgresql://bot@127.0.0.1:{port}/ucwa?bogus=1", connect_timeout=5)
    assert not caught.value.retryable
    assert str(caught.value) == (
        f"the store postgresql://bot@127.0.0.1:{port}/ucwa?bogus=1: the URL cannot be used "
        '(invalid URI query parameter: "bogus")'
    )


async def test_a_refusal_after_the_store_connected_once_is_retried() -> None:
    """A fail-over or a server restarted with other rules: passing, as a lost connection."""
    base = postgres_url()
    name = f"gone_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    store = await open_store(_with_database(base, name), connect_timeout=5)
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        with pytest.raises(StoreError):  # the connection it had is gone
            await store.commit(ACCOUNT, Changes(position=position(1)))
        with pytest.raises(StoreError) as caught:  # a new one is refused: tried again
            await store.commit(ACCOUNT, Changes(position=position(1)))
        assert "does not exist" in str(caught.value)
        assert caught.value.retryable
    finally:
        await store.aclose()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


async def test_a_connection_killed_mid_run_is_retryable_and_comes_back(
    pg_target: Target,
) -> None:
    store = await pg_target.open()
    try:
        await store.commit(ACCOUNT, Changes(position=position(1), conversations=(conversation(),)))
        await asyncio.to_thread(kill_backends, pg_target.schema or "")

        with pytest.raises(StoreUnavailable) as caught:
            await store.commit(ACCOUNT, Changes(position=position(2)))
        message = str(caught.value)
        assert "\n" not in message
        assert "lost its connection" in message
        assert caught.value.retryable

        # the next call connects again; the retried commit goes through
        await store.commit(ACCOUNT, Changes(position=position(2)))
        snapshot = await store.load(ACCOUNT)
        assert snapshot.conversations == (conversation(),)
        assert snapshot.application is not None
        assert snapshot.application.events_next == position(2).events_next
    finally:
        await store.aclose()


def kill_backends(application_name: str) -> None:
    """Terminate the store's server process and wait until the server has let it go."""
    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        (killed,) = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (application_name,),
        ).fetchone() or (0,)
        assert killed == 1
        deadline = time.monotonic() + WAIT
        while conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchone():
            assert time.monotonic() < deadline, "the server did not end the connection"
            time.sleep(0.01)


def test_a_write_rolled_back_for_racing_another_is_retryable_and_says_so() -> None:
    store = PostgresStore("postgresql://bot:sekret@db/ucwa", schema=None, connect_timeout=5)
    error = store._translate(psycopg.errors.DeadlockDetected("deadlock detected"), connected=True)
    assert isinstance(error, StoreUnavailable)
    assert error.retryable
    assert str(error) == (
        "the store postgresql://bot:***@db/ucwa rolled back a write that raced another one "
        "(deadlock detected); nothing was written"
    )

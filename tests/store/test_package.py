"""The store package's surface: a SQLite user does not load the PostgreSQL driver."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ucwa_flow.store


def test_every_public_name_resolves() -> None:
    for name in ucwa_flow.store.__all__:
        assert getattr(ucwa_flow.store, name) is not None


def test_importing_the_store_loads_no_postgres_driver() -> None:
    code = "import sys, ucwa_flow.store; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


async def test_a_store_url_that_does_not_parse_is_one_line_without_its_password() -> None:
    from ucwa_flow.store import StoreError, open_store
    from ucwa_flow.store._postgres import public_url

    with pytest.raises(StoreError, match=r"^the store URL is not a valid URL \(Invalid IPv6"):
        await open_store("postgresql://bot:s3cret@[db/ucwa")
    assert public_url("postgresql://bot:s3cret@db:port/ucwa") == "postgresql://***"


def test_a_store_url_is_shown_without_passwords_and_as_written_otherwise() -> None:
    from ucwa_flow.store._postgres import public_url

    # a local socket URL keeps its "//" (urlunsplit drops it)
    assert public_url("postgresql:///ucwa?host=/run/postgresql") == (
        "postgresql:///ucwa?host=/run/postgresql"
    )
    assert public_url("postgresql://bot@/ucwa") == "postgresql://bot@/ucwa"
    # a password in the query is masked too; serve's application_name is left out
    assert public_url(
        "postgresql://db/ucwa?password=s3cret&application_name=w1&sslmode=require"
    ) == ("postgresql://db/ucwa?password=***&sslmode=require")
    assert public_url("postgresql://bot:s3cret@db:5432/ucwa") == "postgresql://bot:***@db:5432/ucwa"
    assert (
        public_url("postgresql://db/ucwa?sslpassword=k3y") == "postgresql://db/ucwa?sslpassword=***"
    )


def test_a_password_key_written_with_percent_escapes_is_masked_too() -> None:
    # libpq decodes a query key's escapes: pass%77ord is the password
    from psycopg.conninfo import conninfo_to_dict

    from ucwa_flow.store._postgres import public_url

    url = "postgresql://db/ucwa?pass%77ord=s3cret&application%5Fname=w1&sslmode=require"
    assert conninfo_to_dict(url)["password"] == "s3cret"
    assert public_url(url) == "postgresql://db/ucwa?pass%77ord=***&sslmode=require"

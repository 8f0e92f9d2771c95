"""Fixtures shared by the service tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.store.conftest import postgres_url


@pytest.fixture
def pg_store() -> Iterator[str]:
    """A PostgreSQL URL whose tables go to a schema of the test's own (search_path); skips
    (fails under ``CI=true``) without a server."""
    base = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    glue = "&" if "?" in base else "?"
    yield f"{base}{glue}options=-csearch_path%3D{schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

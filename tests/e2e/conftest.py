"""The stores of the durable end-to-end tests (see :mod:`tests.bot_stores`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot_stores import BACKENDS, bot_store
from ucwa_flow.store import Store


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The bot's store: a SQLite file, or a PostgreSQL schema of the test's own."""
    async with bot_store(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite store only, for what SQLite alone shows (or needs no second run)."""
    async with bot_store("sqlite", tmp_path) as opened:
        yield opened


@pytest.fixture
async def pg_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A PostgreSQL store only, for what is about the database server."""
    async with bot_store("postgres", tmp_path) as opened:
        yield opened

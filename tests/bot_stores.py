"""The store a durable bot under test keeps its conversations in.

``bot_store("sqlite", folder)`` is a SQLite file in ``folder``; ``bot_store("postgres",
folder)`` a PostgreSQL schema of the test's own (its ``application_name`` names it, so a test
can find and end the store's server connections), dropped afterwards. The e2e tests take them
as the fixtures of ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from tests.store.conftest import postgres_target
from ucwa_flow.store import Store, open_store

__all__ = ["BACKENDS", "bot_store"]

BACKENDS = ["sqlite", "postgres"]


@contextlib.asynccontextmanager
async def bot_store(backend: str, folder: Path) -> AsyncIterator[Store]:
    """An open store of ``backend`` (``sqlite`` or ``postgres``), closed (and a PostgreSQL
    schema dropped) on leaving."""
    if backend == "sqlite":
        opened = await open_store(str(folder / "bot.sqlite3"))
        try:
            yield opened
        finally:
            await opened.aclose()
        return
    assert backend == "postgres", backend
    where = postgres_target()
    opened = await next(where).open()
    try:
        yield opened
    finally:
        await opened.aclose()
        next(where, None)  # drops the schema

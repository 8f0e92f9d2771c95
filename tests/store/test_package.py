"""The store package's surface: a SQLite user does not load the PostgreSQL driver."""

from __future__ import annotations

import subprocess
import sys

import ucwa_flow.store


def test_every_public_name_resolves() -> None:
    for name in ucwa_flow.store.__all__:
        assert getattr(ucwa_flow.store, name) is not None


def test_importing_the_store_loads_no_postgres_driver() -> None:
    code = "import sys, ucwa_flow.store; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]

"""The bench modules' arguments: ``--help`` prints the module's usage, and a wrong value
ends the run with one line and exit status 2 (each ended in a ``ValueError`` traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
MODULES = [
    "engine_load",
    "engine_durable",
    "durable_floor",
    "input_log",
    "live_sink",
    "validate_time",
]


def _bench(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("module", MODULES)
def test_help_prints_the_modules_usage(module: str) -> None:
    done = _bench(module, "--help")
    assert (done.returncode, done.stderr) == (0, "")
    assert f"python -m bench.{module}" in done.stdout


@pytest.mark.parametrize("module", MODULES)
def test_a_value_that_is_no_number_is_one_line(module: str) -> None:
    done = _bench(module, "many")
    assert done.returncode == 2
    assert done.stdout.splitlines()[-1].startswith("error: ")
    assert "'many'" in done.stdout
    assert "Traceback" not in done.stderr

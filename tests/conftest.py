"""Session-wide settings of the test suite."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Let the suite's child processes take Ctrl-C as a person's terminal gives it.

    A shell starts a background job (``pytest &``, ``nohup``, CI runners) with SIGINT
    ignored, and an ignored signal stays ignored across ``exec``: a ``ucwa-flow run`` that
    a test stops with SIGINT (or a ``^C`` typed on its terminal) would then never stop.
    A Python handler is reset to the default in a child, so installing one here gives
    every child the disposition an interactive user's program has.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # before any test module is imported: environments captured at import time get it too
    # (a test's own folder replaces it for the test: _private_state_home)
    folder = tempfile.mkdtemp(prefix="ucwa-flow-tests-state-")
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    os.environ["XDG_STATE_HOME"] = folder


@pytest.fixture(autouse=True)
def _private_state_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test, and every process it starts, keeps default stores in a folder of its own.

    ``ucwa-flow run`` and ``serve`` on a real server keep conversations under
    ``$XDG_STATE_HOME/ucwa-flow`` by default. Without this a test that runs them would write
    into the user's home, and tests (or branches) would share one store: a store left by one
    run changes what the next one sees.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))

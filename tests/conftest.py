"""Session-wide settings of the test suite."""

from __future__ import annotations

import signal

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

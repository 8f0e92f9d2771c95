"""Fixtures of the observability tests: logging configured for a test and put back after."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from ucwa_flow import logcontext


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """A stream to configure logging to; the root logger and noisy loggers are restored."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {
        name: logging.getLogger(name).level
        for name in ("httpx", "httpcore", "transitions", "watchfiles")
    }
    guarded = {h: list(h.filters) for h in _every_handler()}
    yield io.StringIO()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in noisy.items():
        logging.getLogger(name).setLevel(old)
    for handler in _every_handler():
        handler.filters[:] = guarded.get(handler, handler.filters)
    logcontext.enrich_with(None)


def _every_handler() -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    return [h for lg in loggers for h in lg.handlers]

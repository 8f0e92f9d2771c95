"""Quiet flows for commands that report what flows do as results (private)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet_flows"]


@contextmanager
def quiet_flows() -> Iterator[None]:
    """Silence the ``ucwa_flow`` logger while the block runs: a flow's warnings (a failed
    template, a webhook failing as a script or recording says) are results for ``test`` and
    ``replay``, not log lines. The level is put back afterwards, exit included, so that a
    caller's process (a test run calling the command in-process) keeps its logging."""
    logger = logging.getLogger("ucwa_flow")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)

"""What an operator reads: ``ucwa-flow transcripts show`` of a stored conversation."""

from __future__ import annotations

import asyncio
import contextlib
import io

from ucwa_flow.cli import main
from ucwa_flow.store import Store

__all__ = ["assert_shown_in_order"]


async def assert_shown_in_order(store: Store, conversation: str, texts: list[str]) -> str:
    """``transcripts show`` of ``conversation`` in ``store`` (a SQLite file) holds each of
    ``texts``, in this order; what it printed."""
    shown = await asyncio.to_thread(_show, store.target, conversation)
    positions = [shown.find(text) for text in texts]
    assert -1 not in positions, shown
    assert positions == sorted(positions), shown
    return shown


def _show(state: str, conversation: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["transcripts", "show", conversation, "--state", state])
    return out.getvalue()

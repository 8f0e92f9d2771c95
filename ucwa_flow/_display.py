"""How times and conversations are shown to people: in transcripts, the review pages, the
live feed and replay reports, so that they all read the same."""

from __future__ import annotations

import datetime as dt

__all__ = ["iso", "short_id"]


def iso(at: float) -> str:
    """Epoch seconds as ISO-8601 UTC with milliseconds: ``2026-12-01T12:00:00.123Z``."""
    moment = dt.datetime.fromtimestamp(at, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def short_id(href: str) -> str:
    """The short id of a conversation: the last part of its href."""
    return href.rstrip("/").rpartition("/")[2] or href

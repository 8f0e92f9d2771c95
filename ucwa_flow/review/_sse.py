"""A small reader of server-sent events (``text/event-stream``) over lines of text.

Enough of the format for the live feed: ``event:`` and ``data:`` fields (several
``data:`` lines join with newlines), comments (``: ping``) skipped, a blank line ends an
event. ``id:`` and ``retry:`` are read and ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

__all__ = ["Event", "read_events"]


@dataclass(frozen=True)
class Event:
    """One event: its name (``message`` when none was given) and its data."""

    name: str
    data: str


async def read_events(lines: AsyncIterable[str]) -> AsyncIterator[Event]:
    """The events of a stream given as its lines (without their line ends)."""
    name, data = "", list[str]()
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield Event(name or "message", "\n".join(data))
            name, data = "", list[str]()
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)

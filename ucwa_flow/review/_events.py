"""The review app's own event stream: the live feed relayed to the browser.

The browser talks only to the review app (``/flows/{name}/events``, ``/live/events``),
which relays its :class:`~ucwa_flow.review._source.LiveSource` as server-sent events:

* ``event: status`` + ``data: {"state": "live"}`` (or ``"reconnecting"`` with a
  ``detail``) at once and whenever the source's status changes;
* ``event: snapshot`` + ``data: <snapshot JSON>`` at once and after each change;
* a ``: ping`` comment every :data:`PING_EVERY` seconds, so a proxy or the browser
  notices a dead connection.

The stream ends when the client goes away (the response is cancelled) or the server
shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from ucwa_flow.review._source import LiveSource, status_of

__all__ = ["PING_EVERY", "event_stream", "sse"]

PING_EVERY = 15.0


def sse(event: str, data: Any) -> str:
    """One server-sent event with a JSON ``data`` line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def event_stream(
    source: LiveSource,
    *,
    ping_every: float = PING_EVERY,
    closing: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """The events of ``source`` for one client; see the module's docstring. The stream
    ends when ``closing`` is set (the server stops: it need not cut open streams)."""
    latest: list[dict[str, Any]] = []  # the newest snapshot not sent yet: a slow client skips
    ended = asyncio.Event()
    ready = asyncio.Event()
    closed = closing or asyncio.Event()

    async def watch() -> None:
        await closed.wait()
        ready.set()

    async def pump() -> None:
        try:
            async for snapshot in source.changes():
                latest[:] = [snapshot]
                ready.set()
        finally:
            ended.set()
            ready.set()

    task = asyncio.create_task(pump(), name="ucwa-flow review relay")
    watcher = asyncio.create_task(watch(), name="ucwa-flow review relay closing")
    status: dict[str, Any] | None = None
    try:
        while True:
            if closed.is_set():
                return
            now = status_of(source)
            if now != status:
                status = now
                yield sse("status", status)
            if not latest and ended.is_set():
                return
            try:
                await asyncio.wait_for(ready.wait(), ping_every)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            ready.clear()
            if not latest or closed.is_set():
                continue
            snapshot = latest.pop()
            now = status_of(source)
            if now != status:
                status = now
                yield sse("status", status)
            yield sse("snapshot", snapshot)
    finally:
        for running in (task, watcher):
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running

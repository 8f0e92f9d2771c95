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


async def event_stream(source: LiveSource, *, ping_every: float = PING_EVERY) -> AsyncIterator[str]:
    """The events of ``source`` for one client; see the module's docstring."""
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        try:
            async for snapshot in source.changes():
                if queue.full():  # the client is slow: only the newest snapshot matters
                    queue.get_nowait()
                queue.put_nowait(snapshot)
        finally:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    task = asyncio.create_task(pump(), name="ucwa-flow review relay")
    status: dict[str, Any] | None = None
    try:
        while True:
            now = status_of(source)
            if now != status:
                status = now
                yield sse("status", status)
            try:
                snapshot = await asyncio.wait_for(queue.get(), ping_every)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            if snapshot is None:
                return
            now = status_of(source)
            if now != status:
                status = now
                yield sse("status", status)
            yield sse("snapshot", snapshot)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

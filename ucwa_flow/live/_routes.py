"""The live feed over HTTP: :func:`live_routes` (mounted on ``serve``'s admin app).

==================================  ===================================================
``GET /live``                       the snapshot (JSON)
``GET /live/events``                ``text/event-stream``: ``event: snapshot`` with
                                    ``data: <snapshot JSON>`` at once and after each
                                    change (at most about ten a second), and a
                                    ``: ping`` comment every :data:`PING_EVERY` seconds
``GET /live/conversations/{id}``    one conversation with its steps; ``404``
                                    ``{"error": ...}`` when it is not known
==================================  ===================================================

The event stream is starlette's :class:`~starlette.responses.StreamingResponse`, made to
watch for the client's disconnect whatever ASGI version the server speaks: when the reader
goes, the stream's task is cancelled, and with it the wait for the next change (nothing is
left behind: see :attr:`~ucwa_flow.live.LiveBoard.waiting`). sse-starlette would add a
dependency for the same two dozen lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ucwa_flow.live._source import LiveSource

__all__ = ["PING_EVERY", "live_routes", "sse_events"]

log = logging.getLogger("ucwa_flow.live")

#: seconds between two ``: ping`` comments of the event stream
PING_EVERY = 15.0

_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def live_routes(
    source: LiveSource,
    *,
    ping_every: float = PING_EVERY,
    closing: asyncio.Event | None = None,
) -> list[Route]:
    """The ``/live`` routes over ``source`` (see the module docstring). Once ``closing``
    is set, open event streams end (the server is stopping: it need not wait for them)."""

    async def live(request: Request) -> Response:
        return JSONResponse(source.snapshot())

    encode = _Encoder()  # readers share the JSON of a snapshot

    async def events(request: Request) -> Response:
        return EventStream(sse_events(source, ping_every, closing=closing, encode=encode))

    async def conversation(request: Request) -> Response:
        found = source.conversation(request.path_params["id"])
        if found is None:
            return JSONResponse({"error": "no such conversation (it may have ended long ago)"}, 404)
        return JSONResponse(found)

    return [
        Route("/live", live, methods=["GET"]),
        Route("/live/events", events, methods=["GET"]),
        Route("/live/conversations/{id}", conversation, methods=["GET"]),
    ]


async def sse_events(
    source: LiveSource,
    ping_every: float = PING_EVERY,
    *,
    event: str = "snapshot",
    closing: asyncio.Event | None = None,
    encode: Callable[[dict[str, Any]], str] | None = None,
) -> AsyncIterator[str]:
    """``source``'s changes as server-sent events, with a ping comment when quiet; it
    ends when the changes do or ``closing`` is set. ``encode`` makes the JSON of a
    snapshot (compact ``json.dumps`` by default)."""
    encode = encode or _compact
    changes = source.changes()
    pending: asyncio.Future[dict[str, Any]] | None = None
    closed: asyncio.Future[Any] = asyncio.ensure_future((closing or asyncio.Event()).wait())
    try:
        while not closed.done():
            if pending is None:
                pending = asyncio.ensure_future(_next(changes))
            either: set[asyncio.Future[Any]] = {pending, closed}
            await asyncio.wait(either, timeout=ping_every, return_when=asyncio.FIRST_COMPLETED)
            if closed.done():
                return
            if not pending.done():
                yield ": ping\n\n"
                continue
            done, pending = pending, None
            try:
                body = done.result()
            except StopAsyncIteration:
                return
            except Exception as exc:  # a remote source that failed: the reader reconnects
                log.warning("live: the event stream ends: %s", exc)
                return
            yield f"event: {event}\ndata: {encode(body)}\n\n"
    finally:
        for task in (pending, closed):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        aclose: Callable[[], Any] | None = getattr(changes, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


def _compact(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


class _Encoder:
    """The JSON of the last snapshot, made once for every reader of the same one (a
    live board gives them all the same object until the next change)."""

    def __init__(self) -> None:
        self._body: dict[str, Any] | None = None
        self._text = ""

    def __call__(self, body: dict[str, Any]) -> str:
        if body is not self._body:
            self._body, self._text = body, _compact(body)
        return self._text


async def _next(changes: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await anext(changes)


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response that ends when the client disconnects.

    starlette only listens for the disconnect below ASGI HTTP spec 2.4; from 2.4 it relies
    on ``send`` failing, which a server may instead ignore (a quiet stream would then run
    until its next ping at least). This one always listens.
    """

    def __init__(self, content: AsyncIterator[str]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:  # at once, not when the generator is collected
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()

"""One HTTP/1.1 connection of :class:`~ucwa_flow.ucwa._transport.Http11Transport` (private):
h11's state machine fed by the event loop.

The event loop tells the connection what happens to it (``data_received``,
``eof_received``, ``connection_lost``), so a pool can tell a usable connection from a closed
one without a system call; the request's side waits on futures those callbacks complete,
each wait bounded by the request's timeout (``httpx.ReadTimeout``/``WriteTimeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import h11
import httpx

__all__ = ["Connection", "Origin"]

Origin = tuple[bytes, bytes, int]


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: h11's state machine fed by the event loop."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self.idle = False
        self.broken = False  # closed by either side, or data while idle
        self._waiter: asyncio.Future[None] | None = None
        self._can_write: asyncio.Future[None] | None = None
        self._reset: Exception | None = None  # how the connection was lost, if not cleanly
        self.lost = False  # connection_lost came: the socket is closed
        self._gone: asyncio.Future[None] | None = None

    # -- the event loop's side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.idle:  # nothing was asked: the next response would be misread
            self.broken = True
            self.close()
            return
        self.h11.receive_data(data)
        self._wake()

    def eof_received(self) -> bool:
        self._lost()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self.broken:  # a reset: not the end of a body
            self._reset = exc
        self._lost()
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)
        self.lost = True
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)

    def pause_writing(self) -> None:
        self._can_write = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)
        self._can_write = None

    def _lost(self) -> None:
        if not self.broken:
            self.broken = True
            if self._reset is None:  # a clean close ends a body that runs until it
                with contextlib.suppress(RuntimeError):  # already closed on h11's side
                    self.h11.receive_data(b"")
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the request's side
    def usable(self, now: float, expiry: float) -> bool:
        return (
            not self.broken
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since < expiry
        )

    def close(self) -> None:
        self.broken = True
        if self.transport is not None:
            self.transport.close()

    def abort(self, why: str) -> None:
        """Close at once, unflushed; what is waiting for the server fails with ``why``."""
        if self._reset is None and not self.broken:
            self._reset = ConnectionAbortedError(why)
        self.broken = True
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def gone(self) -> asyncio.Future[None]:
        """Done once the socket is closed (``connection_lost``)."""
        if self._gone is None:
            self._gone = asyncio.get_running_loop().create_future()
            if self.lost or self.transport is None:
                self._gone.set_result(None)
        return self._gone

    async def write(self, data: bytes, within: float | None) -> None:
        transport = self.transport
        if self.broken or transport is None or transport.is_closing():
            raise httpx.WriteError("the connection was closed")
        transport.write(data)
        if self._can_write is not None:
            await self._wait(self._can_write, within, httpx.WriteTimeout)

    async def send_head(self, request: httpx.Request, data: bytes, within: float | None) -> None:
        """Write a request's head (its own method: tests freeze a process right after it)."""
        await self.write(data, within)

    async def next_event(self, within: float | None) -> Any:
        """h11's next event from the server, waiting up to ``within`` seconds per arrival."""
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            if self._reset is not None:
                raise httpx.ReadError(str(self._reset) or type(self._reset).__name__)
            if self.broken:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._wait(self._waiter, within, httpx.ReadTimeout)
            finally:
                self._waiter = None

    @staticmethod
    async def _wait(
        future: asyncio.Future[None], within: float | None, error: type[httpx.TimeoutException]
    ) -> None:
        if within is None:
            await future
            return
        handle = asyncio.get_running_loop().call_later(within, _expire, future, error)
        try:
            await future
        finally:
            handle.cancel()


def _expire(future: asyncio.Future[None], error: type[httpx.TimeoutException]) -> None:
    if not future.done():
        future.set_exception(error("timed out"))

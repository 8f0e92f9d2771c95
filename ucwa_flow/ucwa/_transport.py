"""A lean HTTP/1.1 transport for the UCWA client: h11 on an asyncio protocol (private).

:class:`Http11Transport` is what :class:`~ucwa_flow.ucwa._wire.Wire` plugs into each of its
two ``httpx.AsyncClient`` pools (httpx's one transport seam), in place of httpx's default
``AsyncHTTPTransport`` (httpcore on anyio). Everything above the transport is httpx's own:
auth (:class:`~ucwa_flow.ucwa.auth.WebTicketAuth`), redirects, timeouts as request
extensions, the ``httpx`` exceptions, content decoding.

Why: a bot talks to one front end, over a handful of keep-alive connections, with small
request and response bodies. httpcore's pool, made for any number of hosts and HTTP/2,
checks every pooled connection for every request (``is_idle``, ``has_expired``, and for
an idle one a ``getpeername`` and a ``poll`` system call), under a lock, through anyio's
stream layers; at a few hundred requests a second that bookkeeping was most of a bot's CPU
(docs/performance.md, "Transport"). Here the pool is a stack of idle connections per origin
(scheme, host, port), taken from the top (the most recently used: the others expire), and
a connection learns that the server closed it from the event loop (``connection_lost``,
``eof_received``), so taking one costs no system call and no scan.

What it keeps from httpcore:

* the ``connect``/``read``/``write``/``pool`` timeouts of ``request.extensions["timeout"]``,
  raised as ``httpx.ConnectTimeout`` / ``ReadTimeout`` / ``WriteTimeout`` / ``PoolTimeout``;
* failures as ``httpx.ConnectError`` (the ``ssl`` error as the cause, for
  :func:`~ucwa_flow.ucwa._tls.rejected_certificate`), ``ReadError``, ``WriteError``,
  ``RemoteProtocolError``; a connection whose exchange failed, or was cancelled, is closed;
* ``aclose`` closes every connection, those in use too (a pending long poll's request
  fails with ``httpx.ReadError``), and returns once their sockets are closed;
* the ``trace`` extension, with httpcore's event names, at the two moments the service's
  lease check needs (docs/ha.md, "A request in flight"):
  ``http11.send_request_headers.started`` before the request's head is written, and
  ``http11.send_request_body.started`` between the head and the body (a request with a
  body is written in two writes so that a worker frozen between them can still refuse the
  body). The trace callback gets ``{"request": request}`` (the ``httpx.Request``);
* ``max_connections`` (requests wait for a connection, within the ``pool`` timeout),
  ``max_keepalive`` idle connections, ``keepalive_expiry`` seconds of idleness.

Not supported: HTTP/2, proxies (when the environment names one, ``Wire`` does not use this
transport at all: httpx's own then goes through the proxy), bodies larger than
``max_body`` (default :data:`~ucwa_flow.bounded_body.MAX_UCWA_BODY`): the bytes that arrive
and, for a gzip or deflate body (inflated here, within the bound), the bytes they inflate to
are counted; past the bound, or for a ``Content-Length`` above it or a coding the bot did not
ask for, reading fails with :class:`~ucwa_flow.bounded_body.BodyTooLarge` (an
``httpx.RemoteProtocolError``) and the connection is closed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import h11
import httpx

from ucwa_flow.bounded_body import (
    ENCODINGS,
    MAX_UCWA_BODY,
    Capped,
    refused_encoding,
    too_large,
)
from ucwa_flow.ucwa._connection import Connection, Origin

__all__ = ["Http11Transport"]

Trace = Callable[[str, dict[str, Any]], Awaitable[None]]
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
_CLOSED = "the connection pool was closed"
_IDENTITY = (b"", b"identity")
_CODED = (b"content-encoding", b"content-length")  # dropped from an answer inflated here
#: seconds :meth:`Http11Transport.aclose` lets a connection close politely (a TLS
#: close_notify answered) before it is cut
_CLOSE_GRACE = 2.0


class Http11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections, a small pool per origin (see the module docstring).

    ``verify`` is the TLS context for ``https`` URLs. At most ``max_connections`` requests
    are in flight at once, each on a connection of its own; ``max_keepalive`` (default:
    ``max_connections``) idle connections are kept, each for ``keepalive_expiry`` seconds.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext,
        max_connections: int,
        max_keepalive: int | None = None,
        keepalive_expiry: float = 5.0,
        max_body: int = MAX_UCWA_BODY,
    ) -> None:
        self._ssl = verify
        self._max_body = max_body
        self._expiry = keepalive_expiry
        self._max_keepalive = max_connections if max_keepalive is None else max_keepalive
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[Origin, list[Connection]] = {}
        self._idle_count = 0
        self._busy: set[Connection] = set()  # in an exchange, or its body not yet read
        self._closed = False
        #: connections opened so far (tests and the bench count them)
        self.opened = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        if self._slots.locked():
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await self._slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout("no connection free in time") from None
        else:
            await self._slots.acquire()
        conn: Connection | None = None
        try:
            url = request.url
            if url.raw_scheme not in _DEFAULT_PORTS:
                raise httpx.UnsupportedProtocol(f"{url.scheme}: is not http: or https:")
            origin = (url.raw_scheme, url.raw_host, url.port or _DEFAULT_PORTS[url.raw_scheme])
            if self._closed:  # while this one waited for a slot
                raise httpx.ConnectError(_CLOSED)
            conn = self._take(origin) or await self._connect(origin, timeouts.get("connect"))
            if self._closing():  # while this one connected: not to be kept, nor closed politely
                conn.abort(_CLOSED)
                conn = None
                raise httpx.ConnectError(_CLOSED)
            self._busy.add(conn)
            status, headers, reason = await _exchange(conn, request, timeouts)
            encoding = _encoding(headers, self._max_body)
        except BaseException:
            if conn is not None:
                conn.close()
                self._busy.discard(conn)
            self._slots.release()
            raise
        body: httpx.AsyncByteStream = _Body(self, conn, timeouts.get("read"), self._max_body)
        if encoding is not None:  # inflated here, within the bound (``bounded_body``)
            body = Capped(body, self._max_body, encoding)
            headers = [(k, v) for k, v in headers if k.lower() not in _CODED]
        return httpx.Response(
            status,
            headers=headers,
            stream=body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def aclose(self) -> None:
        """Close every connection, the idle ones and those in use (a pending long poll:
        its request fails with ``httpx.ReadError``), and return once their sockets are
        closed."""
        self._closed = True
        closing = [conn for stack in self._idle.values() for conn in stack]
        self._idle.clear()
        self._idle_count = 0
        for conn in closing:
            conn.close()
        busy, self._busy = self._busy, set()
        for conn in busy:
            conn.abort(_CLOSED)
        closing += busy
        if not closing:
            return
        lost = [conn.gone() for conn in closing]
        await asyncio.wait(lost, timeout=_CLOSE_GRACE)
        late = [conn for conn in closing if not conn.lost]  # a TLS peer that never answered
        for conn in late:
            conn.abort(_CLOSED)
        if late:
            await asyncio.wait([conn.gone() for conn in late])

    def _take(self, origin: Origin) -> Connection | None:
        stack = self._idle.get(origin)
        now = time.monotonic()
        while stack:
            conn = stack.pop()
            self._idle_count -= 1
            conn.idle = False
            if conn.usable(now, self._expiry):
                return conn
            conn.close()
        return None

    async def _connect(self, origin: Origin, within: float | None) -> Connection:
        scheme, host, port = origin
        name = host.decode("ascii")
        tls = self._ssl if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(within):
                _, conn = await loop.create_connection(
                    lambda: Connection(origin),
                    name,
                    port,
                    ssl=tls,
                    server_hostname=name if tls is not None else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {name}:{port} timed out") from None
        except OSError as exc:  # "Connection refused", not asyncio's "Connect call failed"
            plain = not isinstance(exc, (ssl.SSLError, socket.gaierror))
            # a name that does not resolve: its own words ("Name or service not known")
            reason = os.strerror(exc.errno) if plain and exc.errno else exc.strerror or str(exc)
            raise httpx.ConnectError(reason or type(exc).__name__) from exc
        self.opened += 1
        return conn

    def _closing(self) -> bool:
        # read anew after an await (a type checker keeps the narrowing of ``_closed``)
        return self._closed

    def _release(self, conn: Connection) -> None:
        """Give back the slot, and keep ``conn`` for the next request if it can serve one."""
        self._slots.release()
        self._busy.discard(conn)
        h = conn.h11
        if (
            self._closed
            or conn.broken
            or h.our_state is not h11.DONE
            or h.their_state is not h11.DONE
            or h.trailing_data[0]  # more than the response: the next one would be misread
        ):
            conn.close()
            return
        h.start_next_cycle()
        now = time.monotonic()
        for stack in self._idle.values():  # the oldest idle one of each origin, if expired
            while stack and now - stack[0].idle_since >= self._expiry:
                stack.pop(0).close()
                self._idle_count -= 1
        if self._idle_count >= self._max_keepalive:
            conn.close()
            return
        conn.idle = True
        conn.idle_since = now
        self._idle.setdefault(conn.origin, []).append(conn)
        self._idle_count += 1


async def _exchange(
    conn: Connection, request: httpx.Request, timeouts: dict[str, float | None]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Send ``request`` on ``conn`` and read the response's head: (status, headers, reason);
    a request h11 refuses to write (a header with a line break) is httpx's
    ``LocalProtocolError``, as from httpx's own transport."""
    try:
        return await _exchange_unchecked(conn, request, timeouts)
    except h11.LocalProtocolError as exc:
        raise httpx.LocalProtocolError(str(exc)) from exc


async def _exchange_unchecked(
    conn: Connection, request: httpx.Request, timeouts: dict[str, float | None]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    trace: Trace | None = request.extensions.get("trace")
    info = {"request": request}
    h = conn.h11
    write = timeouts.get("write")
    if trace is not None:
        await trace("http11.send_request_headers.started", info)
    head = h11.Request(
        method=request.method, target=request.url.raw_path, headers=request.headers.raw
    )
    await conn.send_head(request, h.send(head) or b"", write)
    if _has_body(request.headers.raw):
        if trace is not None:
            await trace("http11.send_request_body.started", info)
        chunks = [h.send(h11.Data(data=chunk)) or b"" async for chunk in _chunks(request.stream)]
        chunks.append(h.send(h11.EndOfMessage()) or b"")
        await conn.write(b"".join(chunks), write)
    else:
        h.send(h11.EndOfMessage())
    read = timeouts.get("read")
    while True:
        event = await conn.next_event(read)
        if isinstance(event, h11.Response):
            return event.status_code, event.headers.raw_items(), event.reason
        if isinstance(event, h11.ConnectionClosed):
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        # an InformationalResponse (100 Continue): the real one follows


def _encoding(headers: list[tuple[bytes, bytes]], limit: int) -> bytes | None:
    """The ``Content-Encoding`` of a response's raw headers (``None`` for none); a
    ``Content-Length`` over ``limit``, or a coding the bot did not ask for, is a
    :class:`~ucwa_flow.bounded_body.BodyTooLarge`."""
    encoding = None
    for name, value in headers:
        size = len(name)  # cheaper than lowering every name: one answer per event
        if size == 16 and name.lower() == b"content-encoding":
            coded = value.strip().lower()
            if coded not in _IDENTITY:
                if encoding is not None or coded not in ENCODINGS:
                    raise refused_encoding(coded if encoding is None else encoding + b", " + coded)
                encoding = coded
        elif size == 14 and name.lower() == b"content-length" and int(value) > limit:
            raise too_large(limit)
    return encoding


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request's raw headers announce a body (``Content-Length`` above 0, or
    chunked): one without is complete with its head."""
    for name, value in headers:
        key = name.lower()
        if key == b"transfer-encoding" or (key == b"content-length" and value.strip() != b"0"):
            return True
    return False


async def _chunks(stream: Any) -> AsyncIterator[bytes]:
    async for chunk in stream:
        if chunk:
            yield chunk


class _Body(httpx.AsyncByteStream):
    """A response's body, read from its connection; closing it frees the connection."""

    def __init__(
        self, pool: Http11Transport, conn: Connection, timeout: float | None, limit: int
    ) -> None:
        self._pool = pool
        self._conn: Connection | None = conn
        self._timeout = timeout
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        left = self._limit
        try:
            while True:
                event = await conn.next_event(self._timeout)
                if isinstance(event, h11.Data):
                    left -= len(event.data)
                    if left < 0:
                        raise too_large(self._limit)
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    raise httpx.RemoteProtocolError("Server disconnected in the response body.")
        except BaseException:
            conn.close()
            raise

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool._release(conn)

"""The client's own HTTP/1.1 transport (``ucwa_flow.ucwa._transport``), on loopback.

A tiny asyncio server plays the front end, so that each test can make it misbehave in
exactly one way: close a kept-alive connection, say something nobody asked, never answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.guards import WAIT
from ucwa_flow.simulator import DEFAULT_PASSWORD, Simulator, serve
from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa._transport import Http11Transport

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]


@contextlib.asynccontextmanager
async def server(handle: Handler) -> AsyncIterator[str]:
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and body (Content-Length only), or b"" at the end."""
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return head + (await reader.readexactly(length) if length else b"")


async def held_poll(
    http: httpx.AsyncClient, url: str, held: list[asyncio.StreamReader]
) -> asyncio.Task[httpx.Response]:
    """A GET of ``url`` (a long poll the server never answers), once the server holds it
    (``held`` filled by the server's handler)."""
    poll = asyncio.create_task(http.get(url))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not held:
        assert not poll.done(), poll
        assert loop.time() < deadline, "the long poll never reached the server"
        await asyncio.sleep(0.01)
    return poll


def transport(**kwargs: Any) -> Http11Transport:
    return Http11Transport(verify=ssl.create_default_context(), max_connections=4, **kwargs)


async def test_a_connection_is_kept_alive_and_reused() -> None:
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError):
            while await read_request(reader):
                writer.write(OK)

    async with server(handle) as url:
        pool = transport()
        async with httpx.AsyncClient(transport=pool, timeout=WAIT) as http:
            for _ in range(10):
                assert (await http.get(url)).text == "ok"
            assert (await http.post(url, content=b"x" * 100_000)).text == "ok"
    assert (connections, pool.opened) == (1, 1)


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        writer.close()  # after one answer, whatever the keep-alive said

    async with server(handle) as url:
        pool = transport()
        async with httpx.AsyncClient(transport=pool, timeout=WAIT) as http:
            for _ in range(3):
                assert (await http.get(url)).text == "ok"
                await asyncio.sleep(0.05)  # the close reaches the client's event loop
    assert pool.opened == 3


async def test_a_connection_that_said_something_unasked_is_dropped() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError):
            while await read_request(reader):
                writer.write(OK + OK)  # a second answer nobody asked for

    async with server(handle) as url:
        pool = transport()
        async with httpx.AsyncClient(transport=pool, timeout=WAIT) as http:
            for _ in range(3):
                assert (await http.get(url)).text == "ok"
                await asyncio.sleep(0.05)
    assert pool.opened == 3


async def test_a_server_that_never_answers_is_a_read_timeout_and_frees_the_slot() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(WAIT)

    async with server(handle) as url:
        pool = Http11Transport(verify=ssl.create_default_context(), max_connections=1)
        async with httpx.AsyncClient(transport=pool, timeout=httpx.Timeout(0.2)) as http:
            for _ in range(2):  # the second one gets the only slot back
                with pytest.raises(httpx.ReadTimeout):
                    await http.get(url)


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with server(lambda r, w: None) as url:
        pass  # closed: nobody listens there any more
    async with httpx.AsyncClient(transport=transport(), timeout=WAIT) as http:
        with pytest.raises(httpx.ConnectError, match="Connection refused"):
            await http.get(url)


async def test_the_trace_sees_the_head_and_then_the_body_as_httpcore_names_them() -> None:
    seen: list[tuple[str, str]] = []

    async def trace(event: str, info: dict[str, Any]) -> None:
        seen.append((event, info["request"].method))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError):
            while await read_request(reader):
                writer.write(OK)

    async with (
        server(handle) as url,
        httpx.AsyncClient(transport=transport(), timeout=WAIT) as http,
    ):
        await http.post(url, content=b"hello", extensions={"trace": trace})
        await http.post(url, content=b"", extensions={"trace": trace})
        await http.get(url, extensions={"trace": trace})
    assert seen == [
        ("http11.send_request_headers.started", "POST"),
        ("http11.send_request_body.started", "POST"),
        ("http11.send_request_headers.started", "POST"),  # no body: the head is all of it
        ("http11.send_request_headers.started", "GET"),
    ]


async def test_a_refusing_trace_sends_nothing_of_the_body() -> None:
    received: list[bytes] = []

    async def refuse_body(event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_body.started"):
            raise httpx.RequestError("refused")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read())  # everything until the client closes

    async with (
        server(handle) as url,
        httpx.AsyncClient(transport=transport(), timeout=WAIT) as http,
    ):
        with pytest.raises(httpx.RequestError, match="refused"):
            await http.post(url, content=b"the body", extensions={"trace": refuse_body})
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
    assert received
    assert received[0].startswith(b"POST / HTTP/1.1")
    assert b"the body" not in received[0]


async def test_the_ucwa_client_sends_through_it_and_reuses_its_connections() -> None:
    async with serve(Simulator()) as url:
        client = UcwaClient("sip:toshm@contoso.com", DEFAULT_PASSWORD, server_url=url)
        async with client:
            app = await client.make_me_available()
            assert app.me_href is not None
            for _ in range(20):
                await client.get(app.me_href)
            pool = client._wire.http._transport
            assert isinstance(pool, Http11Transport)
            assert pool.opened <= 2  # sign-in's requests and the 20 GETs, one at a time
            assert isinstance(client._wire.poll._transport, Http11Transport)


async def test_a_proxy_the_environment_names_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """This transport cannot go through a proxy: with one in the environment the client
    keeps httpx's own transport, which does (it went straight to the server before)."""
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))  # a plain-http request: the absolute URL
        writer.write(OK)
        await writer.drain()
        writer.close()

    async with server(proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = UcwaClient("sip:bot@contoso.com", "pw", server_url="http://lync.contoso.test")
        try:
            assert not isinstance(client._wire.http._transport, Http11Transport)
            answer = await client._wire.http.get("http://lync.contoso.test/ucwa")
        finally:
            await client.aclose()
    assert answer.text == "ok"
    assert seen[0].startswith(b"GET http://lync.contoso.test/ucwa HTTP/1.1")


async def test_a_reset_in_a_body_without_a_length_is_a_read_error() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\npartial")  # runs until the connection closes
        await writer.drain()
        linger = struct.pack("ii", 1, 0)  # closing then sends an RST, not the body's end
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        writer.transport.abort()

    async with server(handle) as url, httpx.AsyncClient(transport=transport()) as http:
        with pytest.raises(httpx.ReadError):
            await http.get(url, timeout=WAIT)


async def test_a_name_that_does_not_resolve_says_so() -> None:
    async with httpx.AsyncClient(transport=transport()) as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.get("http://no-such-host.invalid/", timeout=WAIT)
    assert "Unknown error" not in str(caught.value)
    assert str(caught.value)


async def test_a_header_h11_refuses_is_an_httpx_error() -> None:
    async with server(lambda r, w: None) as url, httpx.AsyncClient(transport=transport()) as http:
        with pytest.raises(httpx.LocalProtocolError):
            await http.get(url, headers={"X-A": "a\r\nb"}, timeout=WAIT)


async def test_closing_it_closes_the_connections_in_use_too() -> None:
    """A request waiting for its answer (the event channel's long poll) when the pool
    closes fails at once, and its socket is closed, as the idle ones are, by the time
    ``aclose`` returns."""
    held: list[asyncio.StreamReader] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while request := await read_request(reader):
            if b"GET /hold" in request:
                held.append(reader)
                return  # never answered
            writer.write(OK)

    made: list[Any] = []

    class Recording(Http11Transport):
        async def _connect(self, origin: Any, within: float | None) -> Any:
            made.append(await super()._connect(origin, within))
            return made[-1]

    async with server(handle) as url:
        pool = Recording(verify=ssl.create_default_context(), max_connections=4)
        http = httpx.AsyncClient(transport=pool, timeout=WAIT)
        poll = await held_poll(http, f"{url}hold", held)
        assert (await http.get(url)).text == "ok"  # on a second connection, idle after
        try:
            await http.aclose()
            assert len(made) == 2
            assert [conn.transport.get_extra_info("socket").fileno() for conn in made] == [-1, -1]
            with pytest.raises(httpx.ReadError, match="the connection pool was closed"):
                await asyncio.wait_for(poll, WAIT)
            assert await asyncio.wait_for(held[0].read(), WAIT) == b""  # the server saw it go
        finally:
            poll.cancel()


async def test_a_request_waiting_for_a_slot_when_it_closes_opens_no_connection() -> None:
    """The one slot is taken by a long poll; a second request waits for it. Closing the
    pool frees the slot (the poll fails): the waiting request fails too, without dialling
    the server after the pool was closed."""
    held: list[asyncio.StreamReader] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await read_request(reader):
            held.append(reader)  # never answered

    async with server(handle) as url:
        pool = Http11Transport(verify=ssl.create_default_context(), max_connections=1)
        http = httpx.AsyncClient(transport=pool, timeout=WAIT)
        poll = await held_poll(http, f"{url}hold", held)
        waiting = asyncio.create_task(http.get(f"{url}next"))
        await asyncio.sleep(0)  # let it start waiting for the slot
        try:
            await http.aclose()
            with pytest.raises(httpx.ConnectError, match="the connection pool was closed"):
                await asyncio.wait_for(waiting, WAIT)
            with pytest.raises(httpx.ReadError):
                await asyncio.wait_for(poll, WAIT)
            assert pool.opened == 1
        finally:
            poll.cancel()
            waiting.cancel()

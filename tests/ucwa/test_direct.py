"""Requests sent straight to the lean transport (``ucwa_flow.ucwa._direct``) are the ones
httpx's ``AsyncClient`` sends: the same bytes on the wire, the same responses and errors.

A tiny asyncio server plays the front end (a WebTicket challenge, a token, 201s, a
redirect, an error) and records every request's bytes; the same operations go through a
:class:`~ucwa_flow.ucwa._wire.Wire` as shipped and through one whose direct senders are
turned off (httpx's ``AsyncClient.request``), and the two records are compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.guards import WAIT
from tests.ucwa.test_transport import read_request
from ucwa_flow.clock import SystemClock
from ucwa_flow.ucwa._direct import _PLAIN, Direct, url_of
from ucwa_flow.ucwa._http import resolve
from ucwa_flow.ucwa._wire import Wire
from ucwa_flow.ucwa.auth import WebTicketAuth
from ucwa_flow.ucwa.errors import ServerUnreachable, UcwaError
from ucwa_flow.ucwa.trust import SignInTrust

CHALLENGE = 'MsRtcOAuth href="/token",grant_type="urn:x,password"'
DEAD = "http://127.0.0.1:9/token"


def answer(head: bytes) -> bytes:
    line = head.split(b"\r\n", 1)[0].decode()
    target = line.split(" ")[1]
    if target.startswith("/token"):
        return reply(200, json.dumps({"access_token": "tok", "expires_in": 3600}))
    if b"authorization: bearer tok" not in head.lower():
        return reply(401, "", [("WWW-Authenticate", CHALLENGE)])
    if target.startswith("/deadgrant"):  # a token service nobody answers at
        return reply(401, "", [("WWW-Authenticate", CHALLENGE.replace("/token", DEAD))])
    if target.startswith("/redirect"):
        return reply(302, "", [("Location", "/elsewhere")])
    if target.startswith("/gone"):
        return reply(404, json.dumps({"code": "NotFound", "subcode": "ApplicationNotFound"}))
    return reply(
        201, json.dumps({"target": target}), [("Location", "/made/1"), ("Set-Cookie", "a=b")]
    )


def reply(status: int, body: str, headers: list[tuple[str, str]] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


@contextlib.asynccontextmanager
async def front_end(seen: list[bytes]) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while request := await read_request(reader):
                seen.append(request)
                writer.write(answer(request))
                await writer.drain()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    finally:
        srv.close()


def wire(*, direct: bool) -> Wire:
    # the front end is on loopback, outside the account's domain: trusted by name
    trust = SignInTrust.for_account("bot@contoso.com", hosts=["127.0.0.1"])
    auth = WebTicketAuth("bot@contoso.com", "pw", trust=trust)
    made = Wire(
        auth,
        who="sip:bot@contoso.com",
        clock=SystemClock(),
        transport=None,
        verify=ssl.create_default_context(),
        timeout=WAIT,
        max_concurrency=4,
        poll_connections=1,
    )
    assert isinstance(made._direct, Direct)
    assert isinstance(made._direct_poll, Direct)
    if not direct:
        made._direct = made._direct_poll = None  # httpx's AsyncClient.request
    return made


def described(response: httpx.Response) -> tuple[Any, ...]:
    nxt = response.next_request
    return (
        response.status_code,
        response.headers.raw,
        response.content,
        str(response.url),
        response.request.headers.raw,
        response.request.extensions,
        [(r.status_code, str(r.url)) for r in response.history],
        None if nxt is None else (nxt.method, str(nxt.url), nxt.headers.raw),
        response.elapsed >= response.elapsed.__class__(0),
        response.encoding,
        response.json() if response.content else None,
    )


async def operations(base: str, *, direct: bool) -> list[Any]:
    """Every kind of request the client sends, and what came of each."""
    w = wire(direct=direct)
    got: list[Any] = []

    async def send(method: str, path: str, **kwargs: Any) -> None:
        try:
            got.append(described(await w.send(method, base + path, retries=0, backoff=0, **kwargs)))
        except UcwaError as exc:
            got.append((type(exc).__name__, str(exc), getattr(exc, "unsent", None)))

    try:
        await send("GET", "/ucwa/me")  # challenged: a token grant, then again
        await send("POST", "/ucwa/conversations/1/accept")  # no body: Content-Length: 0
        await send("POST", "/ucwa/invitations/2/decline", json={"reason": "Local"})
        await send(
            "POST",
            "/ucwa/messaging/sendMessage?x=%20a&OperationContext=1-2",
            content="hé".encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        await send("GET", "/UCWA/./a/../me?q=a b")  # normalised and escaped by httpx
        await send("GET", "/ucwa/caf\u00e9")
        await send("GET", "/redirect")
        await send("GET", "/gone")
        await send("POST", "/deadgrant")  # unsent: the grant failed, not the request
        got.append(described(await w.long_poll(base + "/events?ack=1", read_timeout=WAIT)))
        got.append(described(await w.long_poll(base + "/redirect", read_timeout=WAIT)))
        await w.aclose()
        with pytest.raises(RuntimeError) as closed:
            await w.send("GET", base + "/ucwa/me", retries=0, backoff=0)
        got.append(str(closed.value))
    finally:
        await w.aclose()
    return got


async def test_the_direct_path_sends_and_answers_as_httpx_does() -> None:
    by_httpx: list[bytes] = []
    direct: list[bytes] = []
    async with front_end(by_httpx) as url:
        expected = await operations(url, direct=False)
    async with front_end(direct) as url:
        got = await operations(url, direct=True)
    port_a, port_b = (e.split(b"Host: 127.0.0.1:")[1][:5] for e in (by_httpx[0], direct[0]))
    assert [r.replace(port_b, port_a) for r in direct] == by_httpx
    assert len(by_httpx) == 13  # the grant and the request sent again included

    def same_port(items: list[Any]) -> str:
        return repr(items).replace(port_b.decode(), "PORT").replace(port_a.decode(), "PORT")

    assert same_port(got) == same_port(expected)


async def test_a_request_hook_runs_and_an_unreachable_server_is_reported_the_same() -> None:
    async def failed(direct: bool) -> tuple[str, bool, int]:
        w = wire(direct=direct)
        calls: list[str] = []

        async def hook(request: httpx.Request) -> None:
            calls.append(str(request.url))

        w.http.event_hooks["request"].append(hook)
        try:
            with pytest.raises(ServerUnreachable) as caught:
                await w.send("POST", "http://127.0.0.1:9/ucwa/x", retries=0, backoff=0)
        finally:
            await w.aclose()
        return str(caught.value), caught.value.unsent, len(calls)

    assert await failed(True) == await failed(False)
    assert (await failed(True))[2] == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://lync.contoso.com/ucwa/oauth/v1/applications/1/me",
        "https://LYNC.Contoso.com:443/ucwa/x?OperationContext=5f0e-11&b=%C3%A9",
        "http://lync.contoso.com:80/a/b/",
        "http://127.0.0.1:8443/a;b=c/d@e:f!$&'()*+,~_-",
        "http://[::1]:8080/ucwa/events?ack=3&timeout=30",
        "http://user:pw@host/p?",
        "https://host/p/.well/x",
        "https://host/p/./x",
        "https://host/p/../x",
        "https://host/p/%zz?x=%zz",
        "https://host/p q?x=<y>",
        "https://host/p?x=1#frag",
        "https://host/caf\u00e9?x=\u00e9",
        "https://h\u00f6st.example/p",
        "https://host/p{1}/`x`",
        "HTTPS://host/P",
        "https://host/a\tb",
    ],
)
def test_urls_are_what_httpx_makes_of_them(url: str) -> None:
    try:
        expected = httpx.URL(url)
    except httpx.InvalidURL as exc:
        with pytest.raises(httpx.InvalidURL, match=re.escape(str(exc))):
            url_of(url)
        return
    got = url_of(url)
    assert got._uri_reference == expected._uri_reference
    assert (str(got), got.raw_path, got.netloc, got.port) == (
        str(expected),
        expected.raw_path,
        expected.netloc,
        expected.port,
    )


# characters that matter to a URL parser, to build URLs and hrefs from (seeded: the same
# cases in every run)
PIECES = ["/", "a", ".", "..", "?", "#", ";", "%", "%2e", "%zz", " ", "\t", "\\", "é", ":"]
PIECES += ["@", "//", "=", "&", "~", "{", "`", "<", '"', "\x7f"]


def test_built_urls_equal_httpx_urls_in_many_shapes() -> None:
    origins = ["https://lync.contoso.com", "HTTPS://Lync.Contoso.com:443", "http://[::1]:80"]
    origins += ["http://u:p@h", "http://h:99999", "http://", "ftp://h", "http://bad host"]
    rng = random.Random(2)
    fast = 0
    for _ in range(3000):
        url = rng.choice(origins) + "/" + "".join(rng.choices(PIECES, k=rng.randint(0, 10)))
        try:
            expected = httpx.URL(url)
        except httpx.InvalidURL as exc:
            with pytest.raises(httpx.InvalidURL, match=re.escape(str(exc))):
                url_of(url)
            continue
        fast += _PLAIN.fullmatch(url) is not None
        assert url_of(url)._uri_reference == expected._uri_reference, url
    assert fast > 100  # the shortcut was taken, not only httpx.URL


def test_server_relative_hrefs_resolve_as_urljoin_resolves_them() -> None:
    bases = ["https://lync.contoso.com/ucwa/oauth/v1/applications/1", "http://127.0.0.1:8080"]
    bases += ["HTTPS://Lync.Contoso.com:443/x/y?q=1#f", "http://[::1]:80/a/", "http:/nohost"]
    bases += ["ftp://h/x", "http://u:p@h/x;p?q", "//h/x", "/rel", ""]
    rng = random.Random(1)
    for _ in range(5000):
        href = "/" + "".join(rng.choices(PIECES, k=rng.randint(0, 8)))
        base = rng.choice(bases)
        resolve.cache_clear()
        assert resolve(base, href) == urljoin(base, href), (base, href)


def test_the_installed_httpx_has_what_direct_relies_on() -> None:
    # on a release without these internals the client falls back to AsyncClient.request:
    # correct, but slower; this says so instead of letting it pass unnoticed
    from ucwa_flow.ucwa import _direct

    assert _direct.SUPPORTED


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "httpx"])
async def test_a_response_is_freed_without_the_cycle_collector(direct: bool) -> None:
    """httpx ties a response to its stream in a reference cycle; the wire unties every
    response it hands out (``_http.unbound``), so reference counting frees it, its request
    and its history (a challenged request's 401) at once: no garbage left for the
    collector's pauses (docs/performance.md, "Overload")."""
    import gc
    import weakref

    async with front_end([]) as base:
        w = wire(direct=direct)
        try:
            await w.send("GET", base + "/ucwa/warm", retries=0, backoff=0)  # token granted
            gc.collect()
            gc.disable()
            try:
                for path, method in (("/ucwa/me", "GET"), ("/ucwa/x/accept", "POST")):
                    response = await w.send(method, base + path, retries=0, backoff=0)
                    gone = [weakref.ref(response), weakref.ref(response.request)]
                    del response
                    assert [ref() for ref in gone] == [None, None], path
                polled = await w.long_poll(base + "/ucwa/events", read_timeout=WAIT)
                gone = [weakref.ref(polled)]
                del polled
                assert gone[0]() is None
            finally:
                gc.enable()
        finally:
            await w.aclose()

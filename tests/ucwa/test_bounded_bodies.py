"""No UCWA answer's body is held past the client's bound (``ucwa_flow.bounded_body``).

A tiny asyncio server on loopback plays a broken or hostile front end: an endless chunked
body, a small gzip body that inflates to many times the bound, a ``Content-Length`` far
above it, a coding nobody asked for. The requests go through a
:class:`~ucwa_flow.ucwa._wire.Wire` with a test-sized bound, over the client's own
transport and over httpx's (what a proxy setting uses); the event channel's handling is
shown on the scripted pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.responses import Response

from tests.guards import WAIT
from tests.ucwa.fake_pool import HOST, PASSWORD, FakePool, batch, participant_added, transport_for
from tests.ucwa.test_transport import read_request
from ucwa_flow.bounded_body import CUT_SHORT, MAX_UCWA_BODY, BodyTooLarge, BodyUnreadable, Inflater
from ucwa_flow.clock import ManualClock, SystemClock
from ucwa_flow.ucwa import ChannelStats, EventChannel, UcwaClient
from ucwa_flow.ucwa._http import json_of
from ucwa_flow.ucwa._transport import Http11Transport
from ucwa_flow.ucwa._wire import Wire
from ucwa_flow.ucwa.auth import WebTicketAuth
from ucwa_flow.ucwa.errors import ServerUnreachable
from ucwa_flow.ucwa.events import EventBatch
from ucwa_flow.ucwa.trust import SignInTrust

LIMIT = 64 * 1024  # the bound the tests give (the shipped one is MAX_UCWA_BODY)
CEILING = 32 * 1024 * 1024  # where the endless body's server gives up
TOO_LARGE = "the answer's body is larger than 65,536 bytes (the most read of one)"
Answer = Callable[["Front", asyncio.StreamWriter], Awaitable[None]]


class Front:
    """A front end answering every request with ``answer``; what it saw and sent."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.heads: list[bytes] = []
        self.sent = 0  # body bytes written (into the socket) in all
        self.handlers: set[asyncio.Task[object]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while head := await read_request(reader):
                self.heads.append(head)
                await self.answer(self, writer)
        writer.close()


@contextlib.asynccontextmanager
async def front(answer: Answer, w: Wire) -> AsyncIterator[tuple[Front, str]]:
    """The front end at the yielded URL; on the way out ``w`` is closed, and then the
    server, once its handlers saw the client go."""
    seen = Front(answer)
    srv = await asyncio.start_server(seen.handle, "127.0.0.1", 0)
    try:
        yield seen, f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/ucwa/events?ack=1"
    finally:
        await w.aclose()
        if seen.handlers:
            await asyncio.wait(seen.handlers, timeout=WAIT)
        srv.close()


def wire(lean: bool, limit: int = LIMIT) -> Wire:
    trust = SignInTrust.for_account("bot@contoso.com", hosts=["127.0.0.1"])
    return Wire(
        WebTicketAuth("bot@contoso.com", "pw", trust=trust),
        who="sip:bot@contoso.com",
        clock=SystemClock(),
        transport=None if lean else httpx.AsyncHTTPTransport(),
        verify=ssl.create_default_context() if lean else True,
        timeout=WAIT,
        max_concurrency=4,
        poll_connections=1,
        max_body=limit,
    )


def head(extra: str) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}\r\n".encode()


def coded(body: bytes, wbits: int = 31) -> bytes:
    """``body`` compressed: gzip (31), zlib-wrapped deflate (15), raw deflate (-15)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(body) + packer.flush()


async def endless(front: Front, writer: asyncio.StreamWriter) -> None:
    """A chunked body that goes on until the client stops reading (or ``CEILING``)."""
    writer.write(head("Transfer-Encoding: chunked\r\n"))
    chunk = b" " * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    while front.sent < CEILING:
        writer.write(frame)
        front.sent += len(chunk)
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def fixed(extra: str, body: bytes) -> Answer:
    """An answer of ``body``, with a ``Content-Length`` and the ``extra`` header lines."""

    async def answer(front: Front, writer: asyncio.StreamWriter) -> None:
        writer.write(head(f"{extra}Content-Length: {len(body)}\r\n") + body)
        front.sent += len(body)
        await writer.drain()

    return answer


def chunked(extra: str, body: bytes, size: int = 1000) -> Answer:
    """An answer of ``body`` in chunks of ``size`` bytes, and then the last chunk."""

    async def answer(front: Front, writer: asyncio.StreamWriter) -> None:
        writer.write(head(f"{extra}Transfer-Encoding: chunked\r\n"))
        for i in range(0, len(body), size):
            piece = body[i : i + size]
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        writer.write(b"0\r\n\r\n")
        front.sent += len(body)
        await writer.drain()

    return answer


pools = pytest.mark.parametrize("lean", [True, False], ids=["lean", "httpx-transport"])


@pools
async def test_an_endless_body_fails_the_request_and_its_connection_is_not_reused(
    lean: bool,
) -> None:
    w = wire(lean)
    async with front(endless, w) as (seen, url):
        with pytest.raises(ServerUnreachable) as caught:
            await w.send("GET", url, retries=1, backoff=0)
    assert str(caught.value) == f"GET {url} failed: {TOO_LARGE}"
    # a GET is asked again, on a new connection: the one with the body unread is closed
    assert (len(seen.heads), seen.connections) == (2, 2)
    # the client stopped reading, so the server could not send its whole body (twice)
    assert seen.sent < CEILING


@pools
async def test_a_gzip_body_inflating_past_the_bound_fails_the_request(lean: bool) -> None:
    bomb = coded(bytes(16 * LIMIT * 16))  # 16 MiB of zeros: a few kilobytes of gzip
    assert len(bomb) < LIMIT
    w = wire(lean)
    async with front(fixed("Content-Encoding: gzip\r\n", bomb), w) as (seen, url):
        with pytest.raises(BodyTooLarge) as caught:
            await w.long_poll(url, read_timeout=WAIT)
    assert str(caught.value) == TOO_LARGE  # the channel's warning says it (a later test)
    assert b"\r\naccept-encoding: gzip, deflate\r\n" in seen.heads[0].lower()


@pools
@pytest.mark.parametrize("wbits", [31, 15, -15], ids=["gzip", "deflate", "raw-deflate"])
async def test_a_compressed_body_within_the_bound_is_read_and_the_connection_kept(
    lean: bool, wbits: int
) -> None:
    text = "e" * (LIMIT // 2)  # inflated: 32 KiB, within the bound; a few hundred bytes coded
    small = b'{"a": "' + text.encode() + b'"}'
    encoding = "gzip" if wbits == 31 else "deflate"
    w = wire(lean)
    async with front(fixed(f"Content-Encoding: {encoding}\r\n", coded(small, wbits)), w) as (
        seen,
        url,
    ):
        got = [json_of(await w.send("GET", url, retries=0, backoff=0)) for _ in range(2)]
    assert got == [{"a": text}, {"a": text}]
    assert seen.connections == 1


async def test_a_body_exactly_at_the_bound_is_read() -> None:
    body = b'"' + b"x" * (LIMIT - 2) + b'"'
    w = wire(True)
    async with front(fixed("", body), w) as (_, url):
        response = await w.long_poll(url, read_timeout=WAIT)
    assert len(response.content) == LIMIT


@pools
async def test_a_content_length_above_the_bound_fails_before_the_body(lean: bool) -> None:
    async def announced(_: Front, writer: asyncio.StreamWriter) -> None:
        writer.write(head("Content-Length: 1073741824\r\n") + b" " * 1024)
        await writer.drain()
        writer.close()  # what is left of the gigabyte never comes

    w = wire(lean)
    async with front(announced, w) as (_, url):
        with pytest.raises(ServerUnreachable) as caught:
            await w.send("POST", url, retries=0, backoff=0)
    assert str(caught.value) == f"POST {url} failed: {TOO_LARGE}"


@pools
async def test_a_body_coded_as_nobody_asked_is_refused(lean: bool) -> None:
    w = wire(lean)
    async with front(fixed("Content-Encoding: br\r\n", b"\x1b\x00"), w) as (_, url):
        with pytest.raises(ServerUnreachable) as caught:
            await w.send("GET", url, retries=0, backoff=0)
    assert str(caught.value) == (
        f"GET {url} failed: the answer's body is coded as 'br', which was not asked for"
    )


def test_one_chunk_inflates_no_further_than_the_bound_a_piece_at_a_time() -> None:
    """httpx's decoders inflate a received chunk whole (16 KiB of gzip to 16 MiB)."""
    chunk = coded(bytes(16 * 1024 * 1024))
    inflater = Inflater(b"gzip", 4 * 1024 * 1024)
    pieces = list(inflater.pieces(chunk))
    assert sum(map(len, pieces)) == 4 * 1024 * 1024 + 1
    assert max(map(len, pieces)) == 256 * 1024
    assert list(inflater.pieces(chunk)) == []


@pytest.mark.parametrize("wbits", [31, 15, -15], ids=["gzip", "deflate", "raw-deflate"])
def test_a_body_inflated_in_pieces_is_the_body(wbits: int) -> None:
    body = bytes(range(256)) * 8000 + b"x" * 3_000_000  # output pending past each piece
    coding = b"gzip" if wbits == 31 else b"deflate"
    whole = coded(body, wbits)
    inflater = Inflater(coding, len(body))
    got = b"".join(
        p for i in range(0, len(whole), 1000) for p in inflater.pieces(whole[i : i + 1000])
    )
    assert got == body


def test_the_shipped_bound_is_far_above_a_burst_of_invitations() -> None:
    assert MAX_UCWA_BODY == 64 * 1024 * 1024
    assert Http11Transport.__init__.__kwdefaults__["max_body"] == MAX_UCWA_BODY  # type: ignore[index]


def cut_short() -> Response:
    """An event-channel answer whose gzip body lacks the last 8 bytes (its checksum and
    size): all of the batch inflates, and nothing vouches for it."""
    body = coded(json.dumps(batch(1, participant_added("x"))).encode())[:-8]
    return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})


@pytest.mark.parametrize("broken", ["too-large", "cut-short"])
async def test_the_event_channel_takes_a_body_over_the_bound_or_cut_short_for_a_broken_connection(
    caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    pool = FakePool()
    clock = ManualClock()
    client = UcwaClient(
        "sip:toshm@contoso.com",
        PASSWORD,
        server_url=HOST,
        transport=transport_for(pool),
        clock=clock,
        max_body=LIMIT,
    )
    await client.sign_in()
    await client.make_me_available()
    channel = EventChannel(client)
    huge = batch(1, *[participant_added(f"p{i}") for i in range(1000)])  # about 150 KB
    await pool.push(
        huge if broken == "too-large" else cut_short(), batch(1, participant_added("a"))
    )
    try:
        with caplog.at_level(logging.WARNING, logger="ucwa_flow.ucwa"):
            channel.start()
            pending = asyncio.ensure_future(anext(channel))
            while not pending.done():
                await clock.advance(1)
            first = pending.result()
    finally:
        await channel.aclose()
        await client.aclose()
    assert isinstance(first, EventBatch)
    assert [e.link.href.rsplit("/", 1)[1] for e in first.events] == ["a@contoso.com"]
    assert channel.stats == ChannelStats(reconnects=1, batches=1)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1, warned
    assert (TOO_LARGE if broken == "too-large" else CUT_SHORT) in warned[0]
    assert "Traceback" not in caplog.text


def test_what_follows_the_end_of_a_compressed_stream_is_dropped_unread() -> None:
    # zlib keeps (and copies again, for each later chunk) what follows the stream's end:
    # 32 MiB of trailing bytes cost seconds of CPU per answer, growing with their square
    inflater = Inflater(b"gzip", LIMIT)
    assert b"".join(inflater.pieces(coded(b'{"ok": 1}') + b"\x00" * 1024)) == b'{"ok": 1}'
    for _ in range(64):
        assert list(inflater.pieces(b"\x00" * 65536)) == []
    assert len(inflater._z.unused_data) <= 1024  # nothing more was handed to zlib


@pools
async def test_a_body_that_does_not_inflate_fails_the_request_as_a_broken_connection(
    lean: bool,
) -> None:
    # httpx.DecodingError is no TransportError: the event channel did not retry it, and
    # it ended the bot's run
    w = wire(lean)
    async with front(fixed("Content-Encoding: gzip\r\n", b"hello"), w) as (seen, url):
        with pytest.raises(ServerUnreachable) as caught:
            await w.send("GET", url, retries=0, backoff=0)
    assert str(caught.value).startswith(f"GET {url} failed: the answer's body does not inflate")
    assert seen.connections == 1


#: a JSON answer of some kilobytes once coded, so that half of it is inside its stream
DOCUMENT = json.dumps({"items": [f"item {i}" for i in range(3000)]}).encode()
# (framing, wbits, how many bytes of the coded document are cut from its end)
CUTS = {
    "gzip-length-half": (fixed, 31, len(coded(DOCUMENT)) // 2),  # half a JSON document
    "gzip-length-trailer": (fixed, 31, 8),  # the whole document, its checksum and size cut
    "gzip-chunked-half": (chunked, 31, len(coded(DOCUMENT)) // 2),
    "gzip-chunked-4": (chunked, 31, 4),
    "deflate-length-half": (fixed, 15, len(coded(DOCUMENT, 15)) // 2),
    "deflate-chunked-trailer": (chunked, 15, 4),  # its Adler-32 cut
    "raw-deflate-length-1": (fixed, -15, 1),
}


@pools
@pytest.mark.parametrize("case", list(CUTS))
async def test_a_compressed_body_cut_short_fails_the_request_as_a_broken_connection(
    lean: bool, case: str
) -> None:
    # httpx took the prefix for the whole body: half a JSON document, or (its trailer cut)
    # a document no checksum vouched for
    framing, wbits, cut = CUTS[case]
    body = coded(DOCUMENT, wbits)[:-cut]
    encoding = "gzip" if wbits == 31 else "deflate"
    w = wire(lean)
    async with front(framing(f"Content-Encoding: {encoding}\r\n", body), w) as (seen, url):
        for _ in range(2):
            with pytest.raises(ServerUnreachable) as caught:
                await w.send("GET", url, retries=0, backoff=0)
            assert str(caught.value) == f"GET {url} failed: {CUT_SHORT}"
        # the HTTP message was whole: its connection served the next request
        assert seen.connections == 1
        with pytest.raises(BodyUnreadable) as unread:  # (on the long-poll pool's own)
            await w.long_poll(url, read_timeout=WAIT)
    assert str(unread.value) == CUT_SHORT
    assert len(seen.heads) == 3


async def no_body(front: Front, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n")
    await writer.drain()


GZIP = "Content-Encoding: gzip\r\n"
DEFLATE = "Content-Encoding: deflate\r\n"
WHOLE = {  # the answer, and the body read from it
    "gzip-204": (no_body, b""),
    "gzip-length-0": (fixed(GZIP, b""), b""),
    "gzip-chunked-empty": (chunked(GZIP, b""), b""),
    "gzip-chunked": (chunked(GZIP, coded(DOCUMENT)), DOCUMENT),
    "deflate-chunked-1": (chunked(DEFLATE, coded(DOCUMENT, 15), 1), DOCUMENT),
    "raw-deflate-chunked": (chunked(DEFLATE, coded(DOCUMENT, -15)), DOCUMENT),
    "gzip-and-more": (fixed(GZIP, coded(DOCUMENT) + b"\x00" * 100), DOCUMENT),
}


@pools
@pytest.mark.parametrize("case", list(WHOLE))
async def test_an_empty_body_labelled_compressed_and_a_whole_stream_are_read(
    lean: bool, case: str
) -> None:
    """Some servers label a 204 or an empty answer ``gzip``: no bytes is no stream."""
    answer, body = WHOLE[case]
    w = wire(lean)
    async with front(answer, w) as (seen, url):
        got = [await w.send("GET", url, retries=0, backoff=0) for _ in range(2)]
    assert [r.content for r in got] == [body, body]
    assert seen.connections == 1

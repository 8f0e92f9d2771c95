"""A webhook call always ends in its success or failure branch, bounded: a huge answer is
a failure, not a variable of the conversation; a server that trickles its answer cannot
hold the call past its timeout; a request that the caller's text makes unsendable is a
failure, not an exception. Real servers on loopback (asyncio sockets speaking HTTP/1.1),
and a real bot on the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from tests.guards import WAIT
from tests.runtime.conftest import BOT
from ucwa_flow.bounded_body import CUT_SHORT
from ucwa_flow.flow import load_flow_text
from ucwa_flow.runtime.webhooks import MAX_ANSWER, MAX_JSON_DEPTH, WebhookCaller

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def _server(answer: Answer) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            await answer(writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.close()


async def test_an_answer_nested_deeper_than_python_goes_is_no_json_not_an_exception() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000  # well under the limit; json.loads recurses

    async def nested(writer: asyncio.StreamWriter) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}Content-Length: {len(deep)}\r\n\r\n".encode() + deep)
        await writer.drain()

    caller = WebhookCaller()
    try:
        async with _server(nested) as url:
            result = await asyncio.wait_for(
                caller.call("GET", url, headers={}, body=None, timeout=WAIT), WAIT
            )
    finally:
        await caller.aclose()
    assert (result.status, result.json, result.error) == (200, None, None)


async def test_an_answer_nested_deeper_than_the_limit_is_no_json() -> None:
    """Deep, but within ``json.loads``'s reach: kept, it became a variable that code that
    recurses (the committer's ``copy.deepcopy``) could not copy."""
    answers = {
        f"lists {depth}": ("[" * depth + "]" * depth).encode()
        for depth in (MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 900)
    }
    deep = MAX_JSON_DEPTH
    answers[f"objects {deep + 1}"] = ('{"a": ' * deep + '{"b": 1}' + "}" * deep).encode()
    found = {}
    caller = WebhookCaller()
    try:
        for what, body in answers.items():

            async def nested(writer: asyncio.StreamWriter, body: bytes = body) -> None:
                head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()

            async with _server(nested) as url:
                result = await caller.call("GET", url, headers={}, body=None, timeout=WAIT)
            assert (result.status, result.error) == (200, None)
            found[what] = result.json is not None
    finally:
        await caller.aclose()
    assert found == {
        f"lists {MAX_JSON_DEPTH}": True,
        f"lists {MAX_JSON_DEPTH + 1}": False,
        "lists 900": False,
        f"objects {MAX_JSON_DEPTH + 1}": False,
    }


async def test_an_answer_larger_than_the_limit_is_a_failure() -> None:
    async def huge(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
        chunks = [b"[", *[b"1," * 32_000] * 64, b"1]"]  # a JSON list of about 4 MB
        for chunk in chunks:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    caller = WebhookCaller()
    try:
        async with _server(huge) as url:
            result = await asyncio.wait_for(
                caller.call("GET", url, headers={}, body=None, timeout=WAIT), WAIT
            )
    finally:
        await caller.aclose()
    assert result.json is None
    assert result.error == f"GET {url} answered more than {MAX_ANSWER:,} bytes"
    assert not result.ok


async def test_a_trickling_answer_ends_at_the_timeout() -> None:
    async def trickle(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        while True:  # a byte now and then, each well within the read timeout
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.05)

    caller = WebhookCaller()
    try:
        async with _server(trickle) as url:
            result = await asyncio.wait_for(
                caller.call("GET", url, headers={}, body=None, timeout=0.5), WAIT
            )
    finally:
        await caller.aclose()
    assert result.error == f"GET {url} timed out after 0.5s"


async def test_a_request_the_callers_text_makes_unsendable_is_a_failure() -> None:
    """A line break in the URL, a letter beyond ASCII in a header: the failure branch,
    not an exception that would leave the conversation waiting for ever."""
    caller = WebhookCaller()
    try:
        broken = "http://127.0.0.1:9/find?q=line one\nline two"
        in_url = await caller.call("GET", broken, headers={}, body=None, timeout=WAIT)
        in_header = await caller.call(
            "GET", "http://127.0.0.1:9/find", headers={"X-Name": "Zoë"}, body=None, timeout=WAIT
        )
    finally:
        await caller.aclose()
    assert in_url.error is not None
    assert in_url.error.startswith("GET 'http://127.0.0.1:9/find?q=line one\\nline two' cannot")
    assert "\n" not in in_url.error  # one log line
    assert in_header.error is not None
    assert "cannot be sent" in in_header.error


async def test_a_conversation_whose_webhook_url_cannot_be_sent_takes_the_failure_branch(
    run_bot: Any,
) -> None:
    flow = load_flow_text(
        """
version: 1
name: lookup
start: ask
states:
  ask:
    messages:
      - any: true
        do:
          - webhook:
              url: "http://127.0.0.1:9/find?q={{ message }}"
              success: [{say: found}]
              failure: [{say: "lookup failed"}]
""",
        "lookup.flow.yaml",
    ).raise_for_errors()
    async with run_bot(flow) as run:
        lene = run.sim.virtual_user("sip:lenea@contoso.com")
        await lene.start_conversation(BOT, "line one\nline two")
        assert (await lene.wait_for_message(WAIT)).text == "lookup failed"


async def test_a_gzip_answer_is_not_inflated_far_past_the_limit() -> None:
    """httpx inflates each received chunk whole: 64 KiB of gzip became 64 MiB at once,
    before the limit's count saw any of it. What the call allocates stays near the limit."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(bytes(64 * MAX_ANSWER)) + packer.flush()  # about 64 KiB
    assert len(bomb) < MAX_ANSWER

    async def gzipped(writer: asyncio.StreamWriter) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        writer.write(f"{head}Content-Length: {len(bomb)}\r\n\r\n".encode() + bomb)
        await writer.drain()

    caller = WebhookCaller()
    try:
        async with _server(gzipped) as url:
            tracemalloc.start()
            try:
                result = await caller.call("GET", url, headers={}, body=None, timeout=WAIT)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    finally:
        await caller.aclose()
    assert result.error == f"GET {url} answered more than {MAX_ANSWER:,} bytes"
    assert peak < 8 * MAX_ANSWER, f"{peak:,} bytes allocated at the peak"


async def test_a_gzip_answer_within_the_limit_is_read() -> None:
    body = b'{"text": "' + b"a" * (MAX_ANSWER // 2) + b'"}'
    for coding, wbits in (("gzip", 31), ("deflate", 15), ("deflate", -15)):
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        coded = packer.compress(body) + packer.flush()

        async def answer(writer: asyncio.StreamWriter, c: str = coding, d: bytes = coded) -> None:
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {c}\r\n"
            writer.write(f"{head}Content-Length: {len(d)}\r\n\r\n".encode() + d)
            await writer.drain()

        caller = WebhookCaller()
        try:
            async with _server(answer) as url:
                result = await caller.call("GET", url, headers={}, body=None, timeout=WAIT)
        finally:
            await caller.aclose()
        assert (result.status, result.error) == (200, None), coding
        assert result.json == {"text": "a" * (MAX_ANSWER // 2)}, coding


async def test_a_gzip_answer_followed_by_more_than_the_limit_is_over_it() -> None:
    # the bytes after the end of the stream inflate to nothing, and were never counted: a
    # 32 MiB answer was read whole and taken for success
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    small = packer.compress(b'{"ok": 1}') + packer.flush()
    trailing = 2 * MAX_ANSWER

    async def padded(writer: asyncio.StreamWriter) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        length = len(small) + trailing
        writer.write(f"{head}Content-Length: {length}\r\n\r\n".encode() + small)
        with contextlib.suppress(ConnectionError):
            for _ in range(trailing // 65536):
                writer.write(bytes(65536))
                await writer.drain()

    caller = WebhookCaller()
    try:
        async with _server(padded) as url:
            result = await caller.call("GET", url, headers={}, body=None, timeout=WAIT)
    finally:
        await caller.aclose()
    assert result.error == f"GET {url} answered more than {MAX_ANSWER:,} bytes"


async def test_a_compressed_answer_cut_short_is_a_failure() -> None:
    """A gzip or deflate answer that ends inside its stream, though its HTTP framing says
    it is whole: httpx took the prefix for the answer (half a JSON document, or one whose
    checksum was cut)."""
    document = json.dumps({"items": [f"item {i}" for i in range(3000)]}).encode()
    cases = {  # coding, wbits, chunked, how many bytes cut (0: half)
        "gzip, half": ("gzip", 31, False, 0),
        "gzip, its trailer": ("gzip", 31, False, 8),
        "gzip chunked, half": ("gzip", 31, True, 0),
        "deflate, half": ("deflate", 15, False, 0),
        "raw deflate chunked, a byte": ("deflate", -15, True, 1),
    }
    found = {}
    caller = WebhookCaller()
    try:
        for case, (coding, wbits, chunked, cut) in cases.items():
            packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
            whole = packer.compress(document) + packer.flush()
            body = whole[: -(cut or len(whole) // 2)]
            head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\n"
            if chunked:
                framed = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
                sent = f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + framed
            else:
                sent = f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body

            async def answer(writer: asyncio.StreamWriter, sent: bytes = sent) -> None:
                writer.write(sent)
                await writer.drain()

            async with _server(answer) as url:
                result = await caller.call("GET", url, headers={}, body=None, timeout=WAIT)
            error = result.error and result.error.replace(url, "URL")  # (a port each)
            found[case] = (result.status, result.json, error)
    finally:
        await caller.aclose()
    assert found == {case: (None, None, f"GET URL failed: {CUT_SHORT}") for case in cases}


async def test_an_empty_answer_labelled_gzip_is_read() -> None:
    """Some servers label an empty answer (a 204 too) ``gzip``: no bytes is no stream."""
    found = {}
    for status, framing in (
        ("204 No Content", ""),
        ("200 OK", "Content-Length: 0\r\n"),
        ("200 OK", "Transfer-Encoding: chunked\r\n"),
    ):

        async def empty(writer: asyncio.StreamWriter, s: str = status, f: str = framing) -> None:
            writer.write(f"HTTP/1.1 {s}\r\nContent-Encoding: gzip\r\n{f}\r\n".encode())
            if "chunked" in f:
                writer.write(b"0\r\n\r\n")
            await writer.drain()

        caller = WebhookCaller()
        try:
            async with _server(empty) as url:
                result = await caller.call("GET", url, headers={}, body=None, timeout=WAIT)
        finally:
            await caller.aclose()
        found[f"{status} {framing}".strip()] = (result.status, result.json, result.error)
    assert found == {
        "204 No Content": (204, None, None),
        "200 OK Content-Length: 0": (200, None, None),
        "200 OK Transfer-Encoding: chunked": (200, None, None),
    }

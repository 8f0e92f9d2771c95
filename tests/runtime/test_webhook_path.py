"""A webhook URL whose path a client would rewrite is not sent: the failure branch.

``urlencode`` leaves ``/`` and ``.`` alone, so the name ``../../admin?x=1`` in
``/people/{{ name | urlencode }}/card`` made ``/people/../../admin%3Fx%3D1/card``, which
httpx sent as ``/admin%3Fx%3D1/card``, with the flow's headers: the caller chose the
resource. A real server on loopback records the paths it is asked for; a real bot on
the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.guards import WAIT
from tests.runtime.conftest import BOT
from ucwa_flow.flow import dot_segment, load_flow_text
from ucwa_flow.flow._url_segment import urlsegment
from ucwa_flow.runtime.webhooks import WebhookCaller


@contextlib.asynccontextmanager
async def _server() -> AsyncIterator[tuple[str, list[str]]]:
    """A server answering 200 ``{}``, and the request lines' targets it was sent."""
    asked: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            asked.append(head.split(b" ", 2)[1].decode())
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            writer.write(b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", asked
    finally:
        server.close()


_FLOW = """
version: 1
name: cards
start: ask
states:
  ask:
    messages:
      - any: true
        do:
          - webhook:
              url: "{base}/people/{{{{ message | {filter} }}}}/card"
              method: GET
              headers: {{Authorization: "Bearer secret"}}
              success: [{{say: sent}}]
              failure: [{{say: "refused: {{{{ webhook.error }}}}"}}]
"""


@pytest.mark.parametrize(
    ("filter_", "text", "path"),
    [
        # urlencode leaves "/" and ".": a path a client rewrites, not sent
        ("urlencode", "../../admin?x=1", None),
        # "%252e%252e": "%2e%2e" to a server that decodes once more, ".." to one
        # decoding twice
        ("urlencode", "%2e%2e", None),
        ("urlencode", "%41b", "/people/%2541b/card"),
        # "..%2F..%2Fadmin%3Fx%3D1": "../../admin?x=1" to a server decoding "%2F"
        ("urlsegment", "../../admin?x=1", None),
        ("urlsegment", "..", None),  # %2E%2E: still a dot-segment to a URL parser
        ("urlsegment", "..;x", None),  # ".." to Tomcat
        ("urlsegment", "ann b/c", "/people/ann%20b%2Fc/card"),
        ("urlsegment", "v1.2/..foo/a..b/...", "/people/v1.2%2F..foo%2Fa..b%2F.../card"),
    ],
)
async def test_a_path_a_client_would_rewrite_is_not_sent(
    run_bot: Any, filter_: str, text: str, path: str | None
) -> None:
    async with _server() as (base, asked):
        flow = load_flow_text(
            _FLOW.format(base=base, filter=filter_), "cards.flow.yaml"
        ).raise_for_errors()
        async with run_bot(flow) as run:
            lene = run.sim.virtual_user("sip:lenea@contoso.com")
            await lene.start_conversation(BOT, text)
            said = (await lene.wait_for_message(WAIT)).text
    if path is None:
        assert said.startswith("refused: GET '")
        assert "is not sent: its path has the segment" in said
        assert asked == []
    else:
        assert said == "sent"
        assert asked == [path]


async def test_the_caller_refuses_a_dot_segment_however_it_is_written() -> None:
    caller = WebhookCaller()
    try:
        async with _server() as (base, asked):
            results = [
                await caller.call("GET", base + tail, headers={}, body=None, timeout=WAIT)
                for tail in ("/a/../b", "/a/./b", "/a/%2E%2e/b", "/a\\..\\b", "/a/b?q=../c")
            ]
    finally:
        await caller.aclose()
    assert [r.error for r in results[:4]] == [
        f"GET '{base}/a/../b' is not sent: its path has the segment '..', "
        "which would send it to another path",
        f"GET '{base}/a/./b' is not sent: its path has the segment '.', "
        "which would send it to another path",
        f"GET '{base}/a/%2E%2e/b' is not sent: its path has the segment '%2E%2e', "
        "which would send it to another path",
        f"GET '{base}/a\\\\..\\\\b' is not sent: its path has the segment '..', "
        "which would send it to another path",
    ]
    assert results[4].ok  # a "../" in the query is no path
    assert asked == ["/a/b?q=../c"]


@pytest.mark.parametrize(
    "url",
    [
        "https://u:p]@h.example/x/../admin",
        "https://u:[p@h.example/x/../admin",
        "https://u\uff0f@h.example/x/../admin",  # a full-width solidus in the user info
    ],
)
def test_a_dot_segment_is_found_behind_an_authority_urlsplit_refuses(url: str) -> None:
    """``urlsplit`` raises on these; httpx sends them, path normalised to ``/admin``."""
    assert dot_segment(url) == ".."


def test_dots_that_are_no_segment_are_fine() -> None:
    assert dot_segment("https://h.example/v1.2/.well-known/a..b/?q=../x#../y") is None
    for path in ("/.../x", "/..foo", "/a%2Fb", "/100%25", "/50%", "/café/日本", "/%ff%fe"):
        assert dot_segment("https://h.example" + path) is None, path


@pytest.mark.parametrize(
    ("path", "segment"),
    [
        ("/a/..;/admin", "..;"),  # Tomcat and other Java servers cut ";params"
        ("/a/..;jsessionid=1/admin", "..;jsessionid=1"),
        ("/a/.;x/admin", ".;x"),
        ("/a/%2e%2e;x/admin", "%2e%2e;x"),
        ("/a/..%3Bx/admin", "..%3Bx"),
        ("/a/..%2Fadmin", "..%2Fadmin"),  # servers that decode "%2F" before routing
        ("/a/..%2fadmin", "..%2fadmin"),
        ("/a/..%5Cadmin", "..%5Cadmin"),  # and "%5C"
        ("/a/%2e%2e%2fadmin", "%2e%2e%2fadmin"),
        ("/a/x%2F..%2F..%2Fadmin", "x%2F..%2F..%2Fadmin"),
        ("/a/x%2F.", "x%2F."),
        ("/a/%252e%252e/admin", "%252e%252e"),  # decoded twice
        ("/a/%252e%252e%252fadmin", "%252e%252e%252fadmin"),
        ("/a/%25252e%25252e", "%25252e%25252e"),
        ("/a/%2525252541", "%2525252541"),  # still encoded after four decodings
        # look-alikes a server normalising Unicode (NFKC) reads as dots and slashes
        ("/a/\uff0e\uff0e/admin", "\uff0e\uff0e"),  # full-width full stops
        ("/a/%EF%BC%8E%EF%BC%8E/admin", "%EF%BC%8E%EF%BC%8E"),
        ("/a/\u2025/admin", "\u2025"),  # two dot leader
        ("/a/\u2024\u2024/admin", "\u2024\u2024"),  # one dot leader
        ("/a/\u3002\u3002/admin", "\u3002\u3002"),  # ideographic full stops (IDNA)
        ("/a/..\uff0fadmin", "..\uff0fadmin"),  # a full-width solidus
        ("/a/..%EF%BC%BCadmin", "..%EF%BC%BCadmin"),  # and reverse solidus
        ("/a/%c0%ae%c0%ae/admin", "%c0%ae%c0%ae"),  # overlong UTF-8
        ("/a/..%c0%afadmin", "..%c0%afadmin"),
        ("/a/%e0%80%ae%e0%80%ae/admin", "%e0%80%ae%e0%80%ae"),
        ("/a/%f0%80%80%ae%f0%80%80%ae/admin", "%f0%80%80%ae%f0%80%80%ae"),  # four bytes
        (
            "/a/\uff05\uff12\uff45\uff05\uff12\uff45/admin",
            "\uff05\uff12\uff45\uff05\uff12\uff45",
        ),  # ％２ｅ: NFKC, then decoded
        ("/a/%u002e%u002e/admin", "%u002e%u002e"),  # IIS's %u escapes
        ("/a/..%u002fadmin", "..%u002fadmin"),
        ("/a/..%00/admin", "..%00"),  # C code reads up to the NUL
        ("/a/..%2500/admin", "..%2500"),
        ("/a/..%00.jpg/admin", "..%00.jpg"),
        ("/a/..%20/admin", "..%20"),  # trailing blanks, stripped by Windows and IIS
        ("/a/.. /admin", ".. "),
        ("/a/..%09/admin", "..%09"),
        ("/a/.%20%20/admin", ".%20%20"),
    ],
)
def test_a_segment_a_server_decodes_to_a_dot_segment_is_refused(path: str, segment: str) -> None:
    assert dot_segment("https://h.example" + path) == segment


@pytest.mark.parametrize(
    "value",
    [
        "a/b",
        "a\\b",
        "v1.2",
        "..foo",
        "a..b",
        "...",
        "foo..",
        ".well-known",
        "100%",
        "%41",
        "a;b",
        "x/...y/z",
        "é/ü",
        "café",
        "日本",
        "a\u2025b",  # two dot leader in a name
        "\u2026",  # an ellipsis is "..." to NFKC: a name
        "... ",  # three dots are a name to Windows too, blank or not
        "a.. ",
    ],
)
def test_a_name_urlsegment_encoded_is_sent(value: str) -> None:
    """Dots and slashes in a name are no dot-segment, however often the server decodes."""
    assert dot_segment(f"https://h.example/people/{urlsegment(value)}/card") is None

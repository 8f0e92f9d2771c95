"""Hrefs of the server's data that lead to another origin than the application's are not
requested (a ``ForeignHref``, one line for the caller to log), over the embedded simulator
on loopback with a second server on loopback as the other origin: the bot's requests go
nowhere a server's data alone names (the server-side request forgery a hostile or broken
server could make of the bot). Sign-in still moves between hosts
(``test_sign_in_trust``); the event channel's links are refused as a bad event body."""

from __future__ import annotations

import http.server
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve
from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa._answer import Refused, read_answer
from ucwa_flow.ucwa._stats import ChannelStats
from ucwa_flow.ucwa.errors import ForeignHref

TOSH = "sip:toshm@contoso.com"
PASSWORD = "pass@word1"


@pytest.fixture
def foreign() -> Iterator[tuple[str, list[str]]]:
    """Another origin on loopback, recording every request it gets."""
    received: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            received.append(f"{self.command} {self.path} {self.headers.get('Authorization')}")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = do_DELETE = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def bot() -> AsyncIterator[UcwaClient]:
    clock = ManualClock()
    sim = Simulator(SimulatorConfig(seed=7), clock=clock)
    async with serve(sim, host="127.0.0.1", port=0) as url:
        client = UcwaClient(TOSH, PASSWORD, server_url=url, clock=clock)
        try:
            await client.sign_in()
            yield client
        finally:
            await client.aclose()


def _operations(client: UcwaClient, base: str) -> list[Callable[[], Awaitable[Any]]]:
    path = "/ucwa/oauth/v1/applications/1/communication/messagingInvitations/9"
    return [
        lambda: client.get(base + path),
        lambda: client.accept(base + path + "/accept"),
        lambda: client.send_message(base + path + "/messaging/sendMessage", "hi"),
        lambda: client.leave(base + path),
        lambda: client.long_poll(base + "/ucwa/oauth/v1/applications/1/events", read_timeout=1),
    ]


async def test_an_href_to_another_origin_is_not_requested(
    bot: UcwaClient, foreign: tuple[str, list[str]]
) -> None:
    base, received = foreign
    for operation in _operations(bot, base):
        with pytest.raises(ForeignHref, match=r"is not on the application's host http://"):
            await operation()
    assert received == []  # nothing reached it: no request, no token
    # the application's own links, server-relative or absolute, are followed
    own = bot.application.self_href
    assert (await bot.get(own))["_links"]
    assert (await bot.get(httpx.URL(own).raw_path.decode()))["_links"]


def _answer(url: str, next_href: str) -> httpx.Response:
    links = {"self": {"href": "/ucwa/oauth/v1/applications/104/events?ack=2"}}
    body = {"_links": {**links, "next": {"href": next_href}}, "sender": []}
    request = httpx.Request("GET", url)
    return httpx.Response(200, content=json.dumps(body).encode(), request=request)


@pytest.mark.parametrize("to", ["http://127.0.0.9:81/events?ack=3", "//evil.example/events"])
def test_an_event_body_linking_to_another_origin_is_refused(to: str) -> None:
    url = "https://pool.contoso.com/ucwa/oauth/v1/applications/104/events?ack=2"
    reading = dict(seen=deque[str](), prefetch=False, hold=60, stats=ChannelStats(), user=TOSH)
    with pytest.raises(Refused) as refused:
        read_answer(_answer(url, to), url, "/ucwa/oauth/v1/applications/104", **reading)
    assert "links to another host" in str(refused.value)
    assert refused.value.continue_at is None  # the same poll is asked again
    same = "/ucwa/oauth/v1/applications/104/events?ack=3"
    _, follow = read_answer(_answer(url, same), url, "/ucwa/oauth/v1/applications/104", **reading)
    assert follow == "https://pool.contoso.com" + same

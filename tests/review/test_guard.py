"""The review app against web pages in the machine's browser: DNS rebinding (a page whose
name resolves to 127.0.0.1 reading the conversations) is refused, over a real server."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.guards import WAIT
from tests.review.pages import HELPDESK
from tests.review.processes import Command
from ucwa_flow.live import LiveBoard
from ucwa_flow.review import FlowShelf, ReviewServer, create_app


async def test_the_machines_full_name_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    # colleagues reach a review page opened to the network by the machine's DNS name (this
    # test's machine may have none: it is given one)
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "reviewbox.corp.example")
    app = create_app(FlowShelf.load([HELPDESK]), live=LiveBoard(), hosts=["0.0.0.0"])
    server = ReviewServer(app, "127.0.0.1", 0)
    url = await server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            taken = await client.get("/live", headers={"Host": "reviewbox.corp.example:8300"})
            assert taken.status_code == 200
            other = await client.get("/live", headers={"Host": "other.corp.example:8300"})
            assert other.status_code == 403
    finally:
        await server.stop()


async def test_a_host_name_not_of_this_machine_is_refused() -> None:
    app = create_app(FlowShelf.load([HELPDESK]), live=LiveBoard(), hosts=["review.lan"])
    server = ReviewServer(app, "127.0.0.1", 0)
    url = await server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            for path in ("/", "/live", "/flows/helpdesk", "/static/review.js"):
                response = await client.get(path, headers={"Host": "rebind.attacker.example"})
                assert response.status_code == 403, path
                assert "DNS rebinding" in response.text
            port = url.rstrip("/").rsplit(":", 1)[1]
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"review.lan:{port}"):
                response = await client.get("/live", headers={"Host": host})
                assert response.status_code == 200, host
            refused = await client.post("/live", headers={"Origin": "http://attacker.example"})
            assert refused.status_code == 403
    finally:
        await server.stop()


async def _status_for_host(
    log: Path, name: str, *options: str, command: tuple[str, ...] = ("review",)
) -> tuple[int, str]:
    """What ``ucwa-flow review`` (or ``run --review``: ``command``; a real process on
    loopback, its output in ``log``) answers to a request for ``Host: name``."""
    served = Command([*command, str(HELPDESK), *options], log, stdin=True)
    try:
        url = await served.serving()
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            response = await client.get("/flows/helpdesk", headers={"Host": name})
            return response.status_code, response.text
    finally:
        await served.close()


REVIEW = ("review",)
RUN = ("run",)
#: where each command serves on a free port of loopback
_LISTEN = {REVIEW: ("--listen", "127.0.0.1:0"), RUN: ("--review", "127.0.0.1:0")}


@pytest.mark.parametrize("command", [REVIEW, RUN], ids=["review", "run --review"])
async def test_a_reverse_proxys_name_is_taken_when_allowed(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # served behind a proxy as review.example.com, every page was 403: no way to allow it
    # (`run --review` had no --allow-host), and the refusal did not say how to
    listen = _LISTEN[command]
    status, text = await _status_for_host(
        tmp_path / "1.log", "review.example.com", *listen, command=command
    )
    assert status == 403
    assert "DNS rebinding" in text
    assert text.strip().endswith(
        "use its IP address or localhost, or start the review with --allow-host review.example.com"
    ), text
    allowed = (*listen, "--allow-host", "Review.Example.com", "--allow-host", "other.example.org")
    status, text = await _status_for_host(
        tmp_path / "2.log", "review.example.com", *allowed, command=command
    )
    assert status == 200
    assert "helpdesk" in text
    status, text = await _status_for_host(
        tmp_path / "3.log", "rebind.attacker.example:8300", *allowed, command=command
    )
    assert status == 403
    assert text.endswith("--allow-host rebind.attacker.example\n"), text  # no port

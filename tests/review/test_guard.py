"""The review app against web pages in the machine's browser: DNS rebinding (a page whose
name resolves to 127.0.0.1 reading the conversations) is refused, over a real server."""

from __future__ import annotations

import socket

import httpx

from tests.guards import WAIT
from tests.review.pages import HELPDESK
from ucwa_flow.live import LiveBoard
from ucwa_flow.review import FlowShelf, ReviewServer, create_app


async def test_a_host_name_not_of_this_machine_is_refused() -> None:
    app = create_app(FlowShelf.load([HELPDESK]), live=LiveBoard(), hosts=["localhost"])
    server = ReviewServer(app, "127.0.0.1", 0)
    url = await server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            for path in ("/", "/live", "/flows/helpdesk", "/static/review.js"):
                response = await client.get(path, headers={"Host": "rebind.attacker.example"})
                assert response.status_code == 403, path
                assert "DNS rebinding" in response.text
            port = url.rstrip("/").rsplit(":", 1)[1]
            machine = socket.gethostname()
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"{machine}:{port}"):
                response = await client.get("/live", headers={"Host": host})
                assert response.status_code == 200, host
            refused = await client.post("/live", headers={"Origin": "http://attacker.example"})
            assert refused.status_code == 403
    finally:
        await server.stop()


async def test_a_page_opened_to_the_network_takes_any_name_but_no_cross_site_post() -> None:
    # --listen 0.0.0.0: colleagues' browsers name the machine as their network does
    app = create_app(FlowShelf.load([HELPDESK]), live=LiveBoard(), hosts=["0.0.0.0"])
    server = ReviewServer(app, "127.0.0.1", 0)
    url = await server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            response = await client.get("/live", headers={"Host": "reviewbox.corp.example"})
            assert response.status_code == 200
            refused = await client.post("/live", headers={"Origin": "http://attacker.example"})
            assert refused.status_code == 403
    finally:
        await server.stop()

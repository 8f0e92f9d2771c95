"""A flow whose name holds ``/`` (``team/helpdesk``): the index links it percent-encoded,
and that link, its files, its live routes and a name that only starts the same way are
answered as for any other flow, over a real server on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.guards import WAIT
from tests.review.pages import HELPDESK, Page
from ucwa_flow.live import LiveBoard
from ucwa_flow.review import FlowShelf, ReviewServer, create_app


def _renamed(folder: Path, name: str) -> Path:
    text = HELPDESK.read_text(encoding="utf-8").replace("\nname: helpdesk\n", f"\nname: {name}\n")
    path = folder / "team.flow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_flow_named_with_a_slash_is_reviewed(tmp_path: Path) -> None:
    app = create_app(FlowShelf.load([_renamed(tmp_path, "team/helpdesk")]), live=LiveBoard())
    server = ReviewServer(app, "127.0.0.1", 0)
    url = await server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            index = Page((await client.get("/")).text)
            links = [link.get("href") for link in index.select("a", "flow-link")]
            assert links == ["/flows/team%2Fhelpdesk"]
            page = await client.get("/flows/team%2Fhelpdesk")
            assert page.status_code == 200
            main = Page(page.text).select("main")[0]
            assert main.get("data-files") == "/flows/team%2Fhelpdesk/files/"
            source = await client.get("/flows/team%2Fhelpdesk/files/team.flow.yaml")
            assert source.status_code == 200
            assert "name: team/helpdesk" in source.json()["lines"]
            detail = await client.get("/flows/team%2Fhelpdesk/conversations/nobody")
            assert detail.json() == {"error": "no such conversation"}
            # the decoded path names other flows (or none): not this one
            for other in ("/flows/team/helpdesk", "/flows/team", "/flows/team%2F"):
                missing = await client.get(other)
                assert missing.status_code == 404, other
    finally:
        await server.stop()

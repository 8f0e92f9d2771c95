"""A web page in a real Chromium on the bot's machine cannot drive the admin endpoint: a
page of another origin that POSTs to ``/reload`` and ``/accounts/{id}/outbound`` (a
"no-cors" fetch, which the browser sends without asking) is refused, so nothing reloads
and nobody is invited.

The admin endpoint (no token, on loopback as the docs advise) and the attacker's page
(``http://localhost:PORT``, another origin) are real servers in a thread of the test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.admin.test_admin import FakeTarget
from tests.browser._pages import poll
from ucwa_flow._uvicorn import LoopServer
from ucwa_flow.admin import AdminServer, create_app
from ucwa_flow.observe.metrics import Metrics

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

T = TypeVar("T")

_ATTACK = """<!DOCTYPE html><title>loading</title><script>
const admin = new URLSearchParams(location.search).get("admin");
const body = JSON.stringify({flow: "survey", invitee: "sip:victim@contoso.com"});
const sent = (r) => r.type;
Promise.all([
  fetch(admin + "/reload", {method: "POST", mode: "no-cors"}).then(sent, String),
  fetch(admin + "/accounts/helpdesk/outbound", {method: "POST", mode: "no-cors", body})
    .then(sent, String),
]).then((answers) => { document.title = "sent: " + answers.join(" "); });
</script>"""


async def _attack_page(request: Request) -> HTMLResponse:
    return HTMLResponse(_ATTACK)


class _Servers:
    """The admin endpoint and the attacker's site, on a loop in a thread."""

    def __init__(self) -> None:
        self.target = FakeTarget()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.admin = AdminServer(create_app(self.target, Metrics(), None), "127.0.0.1", 0)
        site = Starlette(routes=[Route("/", _attack_page)])
        self.site = LoopServer(site, "127.0.0.1", 0, what="the page", hints={}, grace=1)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def __enter__(self) -> tuple[str, str]:
        self.thread.start()
        host, port = self.run(self.admin.start())
        _, site_port = self.run(self.site.serve())
        return f"http://{host}:{port}", f"http://localhost:{site_port}/"

    def __exit__(self, *exc: object) -> None:
        self.run(self.admin.stop())
        self.run(self.site.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture
def servers() -> Iterator[tuple[_Servers, str, str]]:
    running = _Servers()
    with running as (admin, page):
        yield running, admin, page


def test_another_sites_page_cannot_reload_or_start_outbound(
    browser: WebDriver, servers: tuple[_Servers, str, str]
) -> None:
    running, admin, page = servers
    browser.get(f"{page}?admin={admin}")
    title = poll(lambda: browser.title.startswith("sent") and browser.title, "the page's fetches")
    assert title == "sent: opaque opaque"  # both requests reached the endpoint
    assert running.target.reloads == 0
    assert running.target.started == []

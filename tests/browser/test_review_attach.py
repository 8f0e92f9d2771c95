"""``ucwa-flow review --attach`` on a running ``ucwa-flow serve``, in a real Chromium.

Three parts, as in production: ``serve`` (an OS process) runs the helpdesk on the simulator
that runs in this test's process; ``review --attach ADMIN_URL --token T`` (another OS process)
reads serve's live feed through its admin endpoint; the browser talks only to the review app.
A caller on the simulator says hello: the page counts one conversation in ``menu``, lists it,
and its transcript replays the path.

The simulator shares this test's event loop, so every browser call runs in a thread
(:func:`asyncio.to_thread`): the loop keeps serving the bot while the test waits on the page.
The delay from the caller's message to the count on the page is printed, never asserted.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser._apps import app_process
from tests.browser._pages import HELPDESK, poll, states_of
from tests.browser._review import (
    classes,
    css,
    live_count,
    one,
    open_page,
    report_delay,
    wait_live,
)
from tests.browser.conftest import Screenshot
from tests.e2e.serving import ServeProcess, Talker, eventually
from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users
from ucwa_flow.simulator.server import serve

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


PASSWORD = "d3sk-Pa55word!"
TOKEN = "admin-T0ken-browser-0123456789"
BOT = "sip:desk@contoso.com"
CALLER = "sip:caller0001@contoso.com"
#: two more callers, so the page counts more than one: one in menu, one in describe
OTHERS = ["sip:caller0002@contoso.com", "sip:caller0003@contoso.com"]


def _deploy(folder: Path) -> Path:
    path = folder / "deploy.yaml"
    path.write_text(
        "store: state\n"
        "stop_timeout: 5s\n"
        "admin:\n"
        '  listen: "127.0.0.1:0"\n'
        "  token_env: ADMIN_TOKEN\n"
        "accounts:\n"
        "  - id: desk\n"
        f"    user: {BOT}\n"
        "    password_env: DESK_PASSWORD\n"
        f"    flow: {HELPDESK}\n",
        encoding="utf-8",
    )
    return path


async def _ready(proc: ServeProcess) -> None:
    async with proc.admin() as admin:

        async def check() -> bool:
            body = (await admin.get("/readyz")).json()
            return any(a.get("signed_in") and a.get("channel_live") for a in body["accounts"])

        await eventually(check, "the desk account signed in", proc)


async def test_review_attached_to_serve_counts_and_replays_a_conversation(
    browser: WebDriver, screenshot: Screenshot, tmp_path: Path
) -> None:
    users = [
        *default_users(),
        SimulatorUser(BOT, "desk", PASSWORD),
        SimulatorUser(CALLER, "Caller One"),
        *(SimulatorUser(uri, f"Caller {n}") for n, uri in enumerate(OTHERS, start=2)),
    ]
    sim = Simulator(SimulatorConfig(users=users), SystemClock())
    try:
        async with serve(sim) as server:
            env = {"DESK_PASSWORD": PASSWORD, "ADMIN_TOKEN": TOKEN}
            proc = ServeProcess(
                [str(_deploy(tmp_path)), "--server", server], tmp_path / "serve.log", env, TOKEN
            )
            proc.start()
            try:
                admin = await proc.listening()
                await _ready(proc)
                args = ("review", str(HELPDESK), "--attach", admin, "--token", TOKEN)
                with app_process(tmp_path / "review", *args, "--listen", "127.0.0.1:0") as app:
                    url = await asyncio.to_thread(app.url)
                    await _check_pages(browser, screenshot, sim, url)
                    assert TOKEN not in app.output()
            finally:
                await proc.close()
    finally:
        sim.close()


async def _check_pages(
    browser: WebDriver, screenshot: Screenshot, sim: Simulator, url: str
) -> None:
    def page_is_live() -> None:
        open_page(browser, url + "/flows/helpdesk")
        wait_live(browser)
        for state in states_of(HELPDESK):
            assert live_count(browser, state) == "", state

    await asyncio.to_thread(page_is_live)
    caller = Talker(sim.virtual_user(CALLER), BOT)
    sent = time.monotonic()
    talk = asyncio.create_task(caller.say("hello", 2))
    await asyncio.to_thread(
        poll, lambda: live_count(browser, "menu") == "1", "a live count of 1 in menu", 0.005
    )
    report_delay("attached: caller's 'hello' -> live count 1 in menu", time.monotonic() - sent)
    await talk
    menu, hardware = (Talker(sim.virtual_user(uri), BOT) for uri in OTHERS)
    await asyncio.gather(menu.say("hi", 2), hardware.say("hey", 2))
    await hardware.say("2")

    def counted() -> None:
        poll(lambda: live_count(browser, "menu") == "2", "2 conversations in menu")
        poll(lambda: live_count(browser, "describe") == "1", "1 conversation in describe")
        assert len(css(browser, "li.conversation")) == 3
        connected = '#lifecycle [data-lifecycle="conversation"][data-lifecycle-state="Connected"]'
        poll(lambda: one(browser, connected).text == "3", "3 Connected in the lifecycle bar")
        screenshot("review-attach-live")

    await asyncio.to_thread(counted)

    def replay() -> None:
        [conversation] = [li for li in css(browser, "li.conversation") if "caller0001" in li.text]
        conversation.click()
        poll(lambda: css(browser, "#transcript li.step") or None, "the transcript's steps")
        last = one(browser, "#step-next")
        for _ in range(len(css(browser, "#transcript li.step")) + 1):
            last.click()
        poll(lambda: "visited" in classes(one(browser, "#node-menu")), "menu visited on the path")
        assert "visited" in classes(one(browser, "#node-welcome"))
        assert "visited" not in classes(one(browser, "#node-handoff"))
        screenshot("review-attach-transcript")

    await asyncio.to_thread(replay)

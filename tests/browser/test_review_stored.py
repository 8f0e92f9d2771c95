"""``ucwa-flow review --store``: a finished conversation a real ``ucwa-flow run`` kept in its
SQLite store, listed on the index and replayed on its flow's graph in a real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser._apps import app_process
from tests.browser._pages import HELPDESK, poll, states_of
from tests.browser._review import classes, css, one
from tests.browser.conftest import Screenshot

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


CHAT = ["hi", "2", "my printer jams all the time", "stop"]
PATH = ["welcome", "menu", "describe", "ask_employee_id"]


def test_a_stored_conversation_is_listed_and_replayed(
    browser: WebDriver, screenshot: Screenshot, tmp_path: Path
) -> None:
    store = tmp_path / "bot.sqlite3"
    with app_process(tmp_path / "run", "run", str(HELPDESK), "--state", str(store)) as run:
        for line in CHAT:
            run.type_line(line)
        assert run.finish() == 0, run.output()
    args = ("review", str(HELPDESK), "--store", str(store), "--listen", "127.0.0.1:0")
    with app_process(tmp_path / "review", *args) as app:
        browser.get(app.url() + "/")
        [link] = poll(lambda: css(browser, "li.stored a") or None, "the stored conversation")
        assert "helpdesk" in one(browser, "li.stored").text
        screenshot("review-index-stored")
        link.click()
        steps = poll(lambda: css(browser, "#transcript li.step") or None, "the replayed steps")
        assert any("my printer jams all the time" in step.text for step in steps)

        def current() -> list[str]:
            return [
                e.get_attribute("data-state") or "" for e in css(browser, "g.node.current-step")
            ]

        for _ in range(len(steps) + 1):
            one(browser, "#step-prev").click()
        one(browser, "#step-play").click()
        poll(lambda: current() == [PATH[-1]], f"the replay to play on to {PATH[-1]}")
        for state in states_of(HELPDESK):
            visited = "visited" in classes(one(browser, f"#node-{state}"))
            assert visited == (state in PATH), state
        screenshot("review-stored-replay")

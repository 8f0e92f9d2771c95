"""The review app attached to a running bot, in a real Chromium: a conversation driven on the
simulator appears in the live counts, and clicking it replays its path step by step.

``ucwa-flow run flows/helpdesk.flow.yaml --review 127.0.0.1:0`` runs as a user starts it, an
OS process on the embedded simulator; the test types the caller's lines on its stdin, as a
person types them in the terminal.

The time from a typed line to its count on the page is measured and printed (and written
to ``live-delays.txt`` next to the screenshots) for a person to read; it is never asserted:
the waits are bounded polls, so the tests do not depend on the machine's speed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser._apps import AppProcess, app_process
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

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


PATH = ["welcome", "menu", "ask_employee_id"]  # "hello", then "1"
#: the edges it takes: the accepted invitation (from the start), then each message
STEPS = set(itertools.pairwise(["start", *PATH]))


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[AppProcess]:
    """``ucwa-flow run flows/helpdesk.flow.yaml --review 127.0.0.1:0``, its stdin a pipe."""
    args = ("run", str(HELPDESK), "--review", "127.0.0.1:0", "--agent-delay", "0.2")
    with app_process(tmp_path / "run", *args) as app:
        yield app


def type_and_time(browser: WebDriver, bot: AppProcess, line: str, state: str) -> float:
    """Type ``line`` as the caller; the seconds until the page counts one conversation in
    ``state`` (a bounded wait; the time is measured, not asserted)."""
    sent = bot.type_line(line)
    poll(lambda: live_count(browser, state) == "1", f"a live count of 1 in {state}", 0.005)
    return time.monotonic() - sent


def test_a_conversation_appears_in_the_live_counts_and_its_path_is_highlighted(
    browser: WebDriver, screenshot: Screenshot, bot: AppProcess
) -> None:
    open_page(browser, bot.url() + "/flows/helpdesk")
    wait_live(browser)
    for state in states_of(HELPDESK):
        assert live_count(browser, state) == "", state
    assert not css(browser, "li.conversation"), [e.text for e in css(browser, "li.conversation")]

    delay = type_and_time(browser, bot, "hello", "menu")
    report_delay("'hello' typed -> live count 1 in menu", delay)
    bot.wait_for_stdout("bot: ")
    delay = type_and_time(browser, bot, "1", "ask_employee_id")
    report_delay("'1' typed -> live count 1 in ask_employee_id", delay)
    poll(lambda: live_count(browser, "menu") == "", "menu's count back to none")
    assert (
        one(
            browser, '#lifecycle [data-lifecycle="conversation"][data-lifecycle-state="Connected"]'
        ).text
        == "1"
    )
    screenshot("review-live-counts")

    conversation = one(browser, "li.conversation")
    assert conversation.get_attribute("data-conversation")
    conversation.click()
    steps = poll(lambda: css(browser, "#transcript li.step") or None, "the transcript's steps")
    texts = [step.text for step in steps]
    assert any("hello" in text for text in texts), texts
    assert any("1" in text for text in texts), texts

    # step by step: back to the first step, then forward to the last
    def current() -> list[str]:
        return [e.get_attribute("data-state") or "" for e in css(browser, "g.node.current-step")]

    previous, following = one(browser, "#step-prev"), one(browser, "#step-next")
    for _ in range(len(steps) + 1):
        previous.click()
    seen: list[str] = []
    for _ in range(len(steps) + 1):
        now = current()
        assert len(now) <= 1, now
        if now and (not seen or seen[-1] != now[0]):
            seen.append(now[0])
        following.click()
    assert seen == PATH, seen
    poll(lambda: current() == [PATH[-1]], "the last step current")
    for state in states_of(HELPDESK):
        visited = "visited" in classes(one(browser, f"#node-{state}"))
        assert visited == (state in PATH), state
    for source, target in sorted(STEPS):
        edges = css(browser, f'g.edge[data-from="{source}"][data-to="{target}"]')
        assert any("visited" in classes(e) for e in edges), (source, target)
    others = [
        (e.get_attribute("data-from"), e.get_attribute("data-to"), e.get_attribute("class"))
        for e in css(browser, "g.edge.visited")
    ]
    assert [o for o in others if o[:2] not in STEPS] == []
    screenshot("review-live-transcript")


def test_the_lifecycle_page_counts_the_live_conversations(
    browser: WebDriver, screenshot: Screenshot, bot: AppProcess
) -> None:
    open_page(browser, bot.url() + "/lifecycle/conversation")
    wait_live(browser)
    assert live_count(browser, "Connected") == ""
    sent = bot.type_line("hello")
    poll(lambda: live_count(browser, "Connected") == "1", "1 Connected", 0.005)
    report_delay("'hello' typed -> 1 Connected on the lifecycle page", time.monotonic() - sent)
    node = one(browser, "#node-Connected")
    assert node.get_attribute("data-state") == "Connected"
    screenshot("review-lifecycle-conversation")
    bot.wait_for_stdout("bot: ")
    bot.type_line("bye")
    poll(lambda: live_count(browser, "Connected") == "", "no conversation Connected")

"""A flow made of several files in a real Chromium: clicking a state defined in an included
file or a sub-flow shows that file's source at the state's line, and a state of the flow's
own file brings its source back.

The app runs as a user starts it, an OS process on a free port (see ``_apps.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser._apps import app_process
from tests.browser._pages import ROOT, poll
from tests.browser._review import classes, css, in_view, one, open_page
from tests.browser.conftest import Screenshot

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

RESET = ROOT / "flows" / "password-reset.flow.yaml"


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ucwa-flow review`` of the password-reset flow (an include, two sub-flows)."""
    folder = tmp_path_factory.mktemp("files")
    args = ("review", str(RESET), "--listen", "127.0.0.1:0")
    with app_process(folder / "app", *args) as app:
        yield app.url()


def _shows(browser: WebDriver, location: str, line: int, text: str) -> None:
    """Wait until ``#location`` reads ``location`` and only ``#L{line}`` (``text``) is current."""
    poll(lambda: one(browser, "#location").text == location or None, f"#location {location}")
    poll(
        lambda: (
            [e.get_attribute("id") for e in css(browser, "#source li.current")] == [f"L{line}"]
            or None
        ),
        f"#L{line} current",
    )
    source = one(browser, f"#L{line}")
    assert source.text.strip() == text
    poll(lambda: in_view(browser, source), f"#L{line} scrolled into view")


@pytest.mark.parametrize(
    ("state", "file", "line", "text"),
    [
        ("handoff", "lib/desk.states.yaml", 12, "handoff:"),
        ("confirm/ask", "lib/confirm.subflow.yaml", 16, "ask:"),
    ],
)
def test_clicking_a_state_of_another_file_shows_that_file(
    browser: WebDriver,
    screenshot: Screenshot,
    review: str,
    state: str,
    file: str,
    line: int,
    text: str,
) -> None:
    open_page(browser, review + "/flows/password-reset")
    node = one(browser, f'g.node[data-state="{state}"]')
    assert node.get_attribute("data-file") == file
    node.click()
    poll(lambda: "selected" in classes(node), f"{state} selected")
    _shows(browser, f"{file}:{line}", line, text)
    assert one(browser, "#source").get_attribute("data-file") == file
    current = [tab.text for tab in css(browser, "#source-files .source-file.current")]
    assert current == [file]
    lines = (RESET.parent / file).read_text(encoding="utf-8").splitlines()
    assert len(css(browser, "#source li")) == len(lines)
    screenshot(f"review-files-{state.replace('/', '-')}")

    # a state of the flow's own file: its source is back, at that state's key
    menu = one(browser, "#node-menu")
    menu.click()
    own = RESET.read_text(encoding="utf-8").splitlines()
    menu_line = own.index("  menu:") + 1
    _shows(browser, f"password-reset.flow.yaml:{menu_line}", menu_line, "menu:")
    assert len(css(browser, "#source li")) == len(own)

"""Small tools the browser tests share: the CLI as a user runs it, bounded waits in the
browser, and where an element is drawn."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tests.guards import WAIT
from ucwa_flow.flow import load_flow

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

ROOT = Path(__file__).resolve().parents[2]
HELPDESK = ROOT / "flows" / "helpdesk.flow.yaml"
T = TypeVar("T")


def ucwa_flow(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m ucwa_flow ARGS`` in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "ucwa_flow", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def states_of(path: Path) -> list[str]:
    """The state names of the flow file at ``path``, in file order."""
    flow = load_flow(path).flow
    assert flow is not None, path
    return list(flow.states)


def poll(check: Callable[[], T | None], what: str, interval: float = 0.02) -> T:
    """Call ``check`` until it returns something other than None/False (``WAIT`` real
    seconds at most, then the test fails naming ``what``); that value."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + WAIT
    while True:
        try:
            value = check()
        except StaleElementReferenceException:  # the page redrew what check was reading
            value = None
        if value is not None and value is not False:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def drawn_box(driver: WebDriver, element: WebElement) -> dict[str, float]:
    """The element's box on the page (CSS pixels): left, top, width, height."""
    box: dict[str, float] = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return {left: r.left + scrollX, top: r.top + scrollY, width: r.width, height: r.height};",
        element,
    )
    return box


def page_size(driver: WebDriver) -> tuple[float, float]:
    """The scrollable size of the document."""
    width, height = driver.execute_script(
        "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight];"
    )
    return float(width), float(height)


def fetched_urls(driver: WebDriver) -> list[str]:
    """Every resource the page loaded after the document itself (a self-contained page: none)."""
    urls: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )
    return urls

"""What the review app's pages show, read through the DOM the contract fixes
(docs/review.md): nodes, edges, the source pane, live counts, conversations, the transcript.

Every read is a fresh look at the page; waits are bounded polls (:func:`poll`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser._pages import poll
from tests.browser.conftest import screenshot_folder

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement


def state_lines(path: Path) -> dict[str, int]:
    """Each state's 1-based line in the flow file (the line of ``  name:`` under ``states:``),
    read from the text alone, independently of the app."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("states:")
    found = {}
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            found[line.strip().rstrip(":")] = number
        elif line and not line.startswith(" ") and not line.startswith("#"):
            break
    return found


def css(driver: WebDriver, selector: str) -> list[WebElement]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def one(driver: WebDriver, selector: str) -> WebElement:
    """The one element ``selector`` finds, once the page has it."""
    found = poll(lambda: css(driver, selector) or None, f"an element {selector!r}")
    assert len(found) == 1, f"{len(found)} elements {selector!r}"
    return found[0]


def classes(element: WebElement) -> set[str]:
    return set((element.get_attribute("class") or "").split())


def live_count(driver: WebDriver, state: str) -> str:
    """The text of the state's live count ('' for none)."""
    found = css(driver, f'text.live-count[data-state="{state}"]')
    assert len(found) == 1, f"{len(found)} live counts for {state}"
    return (found[0].get_attribute("textContent") or "").strip()


def wait_live(driver: WebDriver) -> None:
    poll(
        lambda: [e for e in css(driver, "#live-status") if e.text.strip() == "live"] or None,
        "#live-status to say live",
    )


def open_page(driver: WebDriver, url: str) -> None:
    """Load ``url`` and wait until its graph is there."""
    driver.get(url)
    one(driver, "svg#graph")


def in_view(driver: WebDriver, element: WebElement) -> bool:
    """Whether the element is within its scrolling pane's and the window's visible area."""
    return bool(
        driver.execute_script(
            """
            const el = arguments[0], r = el.getBoundingClientRect();
            let p = el.parentElement;
            while (p) {
              const s = getComputedStyle(p);
              if (/(auto|scroll)/.test(s.overflowY) && p.scrollHeight > p.clientHeight) {
                const q = p.getBoundingClientRect();
                if (r.bottom <= q.top || r.top >= q.bottom) return false;
              }
              p = p.parentElement;
            }
            return r.bottom > 0 && r.top < innerHeight && r.height > 0;
            """,
            element,
        )
    )


def report_delay(what: str, seconds: float) -> None:
    """Print how long the page took to show ``what`` and keep it in ``live-delays.txt``."""
    line = f"{what}: {seconds * 1000:.0f} ms"
    print(line)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with (screenshot_folder() / "live-delays.txt").open("a", encoding="utf-8") as out:
        out.write(f"{stamp} {line}\n")

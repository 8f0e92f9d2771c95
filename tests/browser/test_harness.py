"""The browser harness itself: Debian's Chromium through its own ChromeDriver, nothing
downloaded, and a missing browser skipped (or failed under ``CI=true``) with its reason."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import CHROMEDRIVER, CHROMIUM
from tests.guards import WAIT

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[2]


def test_the_browser_is_debians_chromium_and_nothing_was_downloaded(
    browser: WebDriver, selenium_manager_mark: Path
) -> None:
    capabilities = browser.capabilities
    assert capabilities["browserName"] in ("chrome", "chromium")
    version = subprocess.run(
        [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=WAIT, check=True
    ).stdout
    assert capabilities["browserVersion"] in version
    driver_version = subprocess.run(
        [str(CHROMEDRIVER), "--version"], capture_output=True, text=True, timeout=WAIT, check=True
    ).stdout
    assert capabilities["chrome"]["chromedriverVersion"].split()[0] in driver_version
    assert browser.service.path == str(CHROMEDRIVER)  # type: ignore[attr-defined]
    assert not selenium_manager_mark.exists()  # Selenium Manager never ran


_CONFTEST = """
from pathlib import Path
import tests.browser.conftest as harness
harness.CHROMIUM = Path("/nonexistent/chromium")
from tests.browser.conftest import browser, selenium_manager_mark  # noqa: F401
"""


@pytest.mark.parametrize(("ci", "outcome"), [("", "1 skipped"), ("true", "1 error")])
def test_a_missing_browser_is_a_skip_with_its_reason_but_an_error_under_ci(
    tmp_path: Path, ci: str, outcome: str
) -> None:
    (tmp_path / "conftest.py").write_text(_CONFTEST, encoding="utf-8")
    (tmp_path / "test_page.py").write_text("def test_page(browser):\n    pass\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env |= {"CI": ci, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            "-rs",
            "-q",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert outcome in done.stdout, done.stdout + done.stderr
    # the driver may be missing too on this machine: "A and B missing (...)"
    reason = re.search(
        r"no headless Chromium: (.*) missing \(apt-get install chromium", done.stdout
    )
    assert reason is not None, done.stdout
    assert "/nonexistent/chromium" in reason.group(1).split(" and ")
    if ci:
        assert "CI=true but no headless Chromium" in done.stdout

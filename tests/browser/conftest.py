"""A real headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver``.

The tests drive ``/usr/bin/chromium`` through ``/usr/bin/chromedriver`` and nothing else.
Selenium never downloads a browser or a driver here: the driver's path is given to the
``Service`` (which makes Selenium skip Selenium Manager altogether) and the browser's path to
the options. Should any code path reach Selenium Manager all the same, ``SE_OFFLINE=true``
keeps it off the network and ``SE_MANAGER_PATH`` names a tripwire in its place: a script
that leaves a mark and fails, so the session fails loudly (``test_harness.py`` checks that
the mark is absent).

Where no Chromium or ChromeDriver exists the tests are skipped with a reason that says what
to install; under ``CI=true`` a missing browser fails them instead: CI installs it
(``.ci/run``), so a skip there would hide that the browser tests never ran.

One browser per pytest process (the ``browser`` fixture is session-scoped; under
pytest-xdist each worker is a process of its own, with its own profile folder in its own
temporary folder). Screenshots go to ``$UCWA_FLOW_SCREENSHOTS`` or ``build/screenshots/``.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.guards import WAIT

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH, HEIGHT = 1280, 800

Screenshot = Callable[[str], Path]


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        return (
            f"no headless Chromium: {' and '.join(missing)} missing "
            "(apt-get install chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def selenium_manager_mark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file the Selenium Manager tripwire writes when something runs it (never)."""
    return tmp_path_factory.mktemp("selenium-manager") / "ran"


def _tripwire(mark: Path) -> Path:
    script = mark.parent / "selenium-manager"
    script.write_text(
        f'#!/bin/sh\necho "$@" >> {mark}\n'
        'echo "Selenium Manager must not run in the browser tests" >&2\nexit 1\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


@pytest.fixture(scope="session")
def browser(
    tmp_path_factory: pytest.TempPathFactory, selenium_manager_mark: Path
) -> Iterator[WebDriver]:
    """A headless Chromium WebDriver, one per pytest process, 1280x800."""
    reason = _missing()
    if reason is not None:
        if _in_ci():
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)

    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_OFFLINE", "true")
        env.setenv("SE_MANAGER_PATH", str(_tripwire(selenium_manager_mark)))
        env.setenv("SE_CACHE_PATH", str(selenium_manager_mark.parent))
        driver = _start(tmp_path_factory)
        try:
            yield driver
        finally:
            driver.quit()


def _start(tmp_path_factory: pytest.TempPathFactory) -> WebDriver:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WIDTH},{HEIGHT}",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    log = tmp_path_factory.mktemp("chromedriver") / "chromedriver.log"
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(log))
    driver = webdriver.Chrome(service=service, options=options)
    # the window's size includes room for the browser's own bars: the page gets exactly this
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver


def screenshot_folder() -> Path:
    """Where the tests' screenshots go: ``$UCWA_FLOW_SCREENSHOTS`` or ``build/screenshots``."""
    folder = os.environ.get("UCWA_FLOW_SCREENSHOTS") or str(ROOT / "build" / "screenshots")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def screenshot(browser: WebDriver, request: pytest.FixtureRequest) -> Screenshot:
    """``screenshot(name)`` saves what the browser shows as ``{folder}/{name}.png``.

    The PNG is a 256-colour one (pages are flat colours and text: a few tens of kB, small
    enough to commit the ones docs/review.md shows, as they are)."""
    from PIL import Image

    def save(name: str) -> Path:
        safe = re.sub(r"[^\w.-]+", "-", name).strip("-")
        path = screenshot_folder() / f"{safe}.png"
        data = browser.get_screenshot_as_png()
        assert data, f"no screenshot for {request.node.name}"
        with Image.open(io.BytesIO(data)) as shot:
            small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
            small.save(path, optimize=True)
        return path

    return save

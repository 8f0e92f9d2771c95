"""``serve --watch`` (``service/_watch.py``): what it logs of the changes it sees, and
that the watch leaves the process's loggers as it found them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guards import WAIT
from ucwa_flow.observe.logs import configure_logging
from ucwa_flow.service._watch import Watcher

pytestmark = pytest.mark.asyncio

_NOISY = ("httpx", "httpcore", "transitions", "watchfiles")


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The root logger's handlers and level and the noisy loggers' levels put back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in _NOISY}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, old in noisy.items():
        logging.getLogger(name).setLevel(old)


async def _change_seen(watched: Path, log_file: Path) -> None:
    """Watch ``watched`` until a change of it is seen, writing to ``log_file`` beside it
    too: the watch thread may not be watching yet, so both are written again each round."""
    seen = asyncio.Event()
    expected = [_resolved(watched)]

    async def changed(paths: list[Path]) -> None:
        assert [_resolved(path) for path in paths] == expected
        seen.set()

    watcher = Watcher([watched], changed, debounce=50)
    watcher.start()
    try:
        async with asyncio.timeout(WAIT):
            round_ = 0
            while not seen.is_set():
                round_ += 1
                _write_round(watched, log_file, round_)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await seen.wait()
    finally:
        await watcher.aclose()


def _resolved(path: Path) -> Path:
    return path.resolve()


def _write_round(watched: Path, log_file: Path, round_: int) -> None:
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"line {round_}\n")
    watched.write_text(f"name: helpdesk  # {round_}\n", encoding="utf-8")


@pytest.mark.parametrize("level", ["info", "debug"])
@pytest.mark.usefixtures("logging_restored")
async def test_a_log_file_beside_the_watched_file_gets_no_line_per_change(
    tmp_path: Path, level: str
) -> None:
    """watchfiles logged "1 change detected" at info for every change in the folder: with
    ``serve --watch deploy.yaml 2> serve.log`` in the deployment's folder, each of those
    lines changed the log file and made the next, ten a second for ever. Logging set up as
    ``serve`` does, to a file in the watched folder."""
    watched = tmp_path / "helpdesk.flow.yaml"
    watched.write_text("name: helpdesk\n", encoding="utf-8")
    log_file = tmp_path / "serve.log"
    with log_file.open("a", encoding="utf-8") as stream:
        handler = configure_logging("text", level, stream=stream)
        try:
            await _change_seen(watched, log_file)
        finally:
            logging.getLogger().removeHandler(handler)
    written = log_file.read_text(encoding="utf-8")
    assert "watchfiles" not in written
    assert "change detected" not in written
    assert "changes detected" not in written
    assert " changed: " in written


@pytest.mark.usefixtures("logging_restored")
async def test_the_watch_leaves_the_loggers_as_it_found_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # start() set the watchfiles logger to WARNING for the whole process: a program
    # embedding the service lost watchfiles' lines of its own watches too
    caplog.set_level(logging.INFO)
    watchfiles = logging.getLogger("watchfiles")
    watchfiles.setLevel(logging.INFO)
    watched = tmp_path / "helpdesk.flow.yaml"
    watched.write_text("name: helpdesk\n", encoding="utf-8")
    await _change_seen(watched, tmp_path / "other.txt")
    assert watchfiles.level == logging.INFO
    assert any(r.getMessage().startswith("changed: ") for r in caplog.records)

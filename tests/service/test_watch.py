"""``serve --watch`` (``service/_watch.py``): what it logs of the changes it sees."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest

from tests.guards import WAIT
from ucwa_flow.service._watch import Watcher

pytestmark = pytest.mark.asyncio


async def test_changes_to_other_files_in_the_watched_folder_log_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """watchfiles logged "1 change detected" at info for every change in the folder: with
    ``serve --watch deploy.yaml 2> serve.log`` in the deployment's folder, each of those
    lines changed the log file and made the next, ten a second for ever."""
    caplog.set_level(logging.INFO)
    watched = tmp_path / "helpdesk.flow.yaml"
    watched.write_text("name: helpdesk\n", encoding="utf-8")
    seen = asyncio.Event()

    async def changed(paths: list[Path]) -> None:
        assert [path.resolve() for path in paths] == [watched.resolve()]
        seen.set()

    watcher = Watcher([watched], changed, debounce=50)
    watcher.start()
    try:
        async with asyncio.timeout(WAIT):
            round_ = 0
            while not seen.is_set():  # the watch thread may not be watching yet: again
                round_ += 1
                (tmp_path / "serve.log").write_text(f"line {round_}\n", encoding="utf-8")
                watched.write_text(f"name: helpdesk  # {round_}\n", encoding="utf-8")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await seen.wait()
    finally:
        await watcher.aclose()
    noise = [r.getMessage() for r in caplog.records if r.name.startswith("watchfiles")]
    assert noise == []
    assert any(r.getMessage().startswith("changed: ") for r in caplog.records)

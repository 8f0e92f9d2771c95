"""``ucwa-flow`` commands of the review tests in OS processes: output to a log file,
the URL they print found by a bounded poll, killed at the end if still running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import httpx

from tests.e2e.serving import until
from tests.guards import WAIT
from tests.review.pages import ROOT

_URL = re.compile(r"(?:review: |at )(http://127\.0\.0\.1:\d+/)")


class Command:
    """``python -m ucwa_flow ARGS`` with stdout and stderr in ``log`` (stdin a pipe when
    ``stdin`` is true, else empty)."""

    def __init__(self, args: list[str], log: Path, *, stdin: bool = False) -> None:
        self.args = args
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("UCWA_FLOW_")}
        env |= {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ucwa_flow", *args],
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )
        self.url: str | None = None

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def say(self, line: str) -> None:
        self.stdin.write(line.encode() + b"\n")
        self.stdin.flush()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def serving(self) -> str:
        """Wait until the review URL is printed; the URL."""

        def found() -> bool:
            assert self.proc.poll() is None, f"the command ended early:\n{self.output()}"
            match = _URL.search(self.output())
            if match is not None:
                self.url = match.group(1)
            return match is not None

        await until(found, "the review's URL")
        assert self.url is not None
        return self.url

    async def wait(self) -> int:
        return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), WAIT)

    async def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(TimeoutError):
                await self.wait()


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """``(event name, JSON data)`` of a server-sent event stream, as they come."""
    name, data = "", []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data.append(line.partition(":")[2].strip())
        elif not line and data:
            yield name, json.loads("\n".join(data))
            name, data = "", []


async def snapshot_where(
    stream: AsyncIterator[tuple[str, Any]], holds: Any, what: str
) -> dict[str, Any]:
    """The first snapshot of ``stream`` for which ``holds(snapshot)`` is true (``WAIT`` at
    most)."""

    async def first() -> dict[str, Any]:
        async for name, data in stream:
            if name == "snapshot" and holds(data):
                return dict(data)
        raise AssertionError(f"the stream ended before {what}")

    try:
        return await asyncio.wait_for(first(), WAIT)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None

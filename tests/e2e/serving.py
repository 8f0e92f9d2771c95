"""Tools for tests of ``ucwa-flow serve`` as an OS process: the process, its admin endpoint,
and callers on the simulator that runs in the test's own process.

:class:`ServeProcess` runs ``python -m ucwa_flow serve DEPLOY --server URL ...`` with its
output (stdout and stderr together) in a log file of its own, and finds the admin
endpoint's address in that output (serve prints it once it listens: the deployment file asks
for port 0, so each test gets a free port of its own). :meth:`ServeProcess.admin` is an
``httpx.AsyncClient`` on it, with the bearer token when there is one.

:class:`Talker` is one caller, a simulator virtual user who starts a conversation with a bot
and waits for the answers to each thing it says.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.guards import WAIT
from ucwa_flow.simulator import VirtualUser

__all__ = ["ServeProcess", "Talker", "eventually", "metric", "until", "until_each"]

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
_ADMIN = re.compile(r"admin\b.*?(http://127\.0\.0\.1:\d+)")


async def until(ready: Callable[[], object], what: str) -> None:
    """Poll ``ready`` until it holds (``WAIT`` real seconds at most)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not ready():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def until_each(items: Sequence[T], done: Callable[[T], bool], what: str) -> None:
    """Poll until ``done`` holds for each of ``items``. ``WAIT`` bounds a stretch in which
    none more is done, not the whole wait: a burst of work (thousands of conversations)
    on a loaded 2-core machine may take longer than ``WAIT`` and still move on, while a
    stuck one stops moving."""
    loop = asyncio.get_running_loop()
    most, deadline = -1, 0.0
    while (count := sum(1 for item in items if done(item))) < len(items):
        if count > most:
            most, deadline = count, loop.time() + WAIT
        assert loop.time() < deadline, (
            f"timed out waiting for {what}: {count} of {len(items)}, none more in {WAIT:g} s"
        )
        await asyncio.sleep(0.1)


class ServeProcess:
    """``ucwa-flow serve`` in an OS process (see the module docstring).

    ``env`` is added to a copy of this process's environment without ``UCWA_FLOW_*``.
    ``module`` is what ``python -m`` runs (a test's own wrapper of ``ucwa_flow``, say).
    """

    def __init__(
        self,
        args: list[str],
        log: Path,
        env: dict[str, str],
        token: str | None = None,
        module: str = "ucwa_flow",
    ) -> None:
        self.args = args
        self.module = module
        self.log = log
        self.token = token
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("UCWA_FLOW_")} | {
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "serve", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=self.env,
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    async def listening(self) -> str:
        """Wait until the admin endpoint is announced; its base URL."""

        def found() -> bool:
            assert self.proc is not None
            assert self.proc.poll() is None, f"serve ended early:\n{self.tail()}"
            match = _ADMIN.search(self.output())
            if match is not None:
                self.url = match.group(1)
            return match is not None

        await until(found, "serve's admin endpoint")
        assert self.url is not None
        return self.url

    def admin(self) -> httpx.AsyncClient:
        assert self.url is not None
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=WAIT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stopped(self) -> bool:
        """Whether the process is stopped (``SIGSTOP``: ``T`` in ``/proc/PID/stat``)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text(encoding="utf-8")
        return stat.rsplit(")", 1)[1].split()[0] == "T"

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self) -> int:
        """Wait for the process to end (``WAIT`` at most); its exit status."""
        assert self.proc is not None
        return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), WAIT)

    async def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(TimeoutError):
                await self.wait()


@dataclass
class Talker:
    """A caller: says things to ``bot`` and waits until it heard ``replies`` more messages."""

    vu: VirtualUser
    bot: str
    conv: str | None = None
    said: list[str] = field(default_factory=list)

    def heard(self) -> list[str]:
        return [m.text.strip() for m in self.vu.received]

    async def say(self, text: str, replies: int = 1, *, subject: str = "") -> list[str]:
        """Say ``text`` (the first time: invite the bot with it) and wait for ``replies``
        more messages; returns them."""
        before = len(self.vu.received)
        self.said.append(text)
        if self.conv is None:
            self.conv = await self.vu.start_conversation(self.bot, text, subject=subject)
        else:
            self.vu.send(text, self.conv)
        await self.hear(before + replies, f"{replies} answer(s) to {text!r}")
        return self.heard()[before:]

    async def hear(self, count: int, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while len(self.vu.received) < count:
            state = self.vu.state(self.conv)
            assert state not in ("failed", "ended") or len(self.vu.received) >= count, (
                f"{self.vu.uri}: the conversation is {state} while waiting for {what}; "
                f"heard {self.heard()}"
            )
            assert loop.time() < deadline, f"{self.vu.uri}: timed out waiting for {what}"
            with contextlib.suppress(TimeoutError):
                await self.vu.wait_for_message(timeout=0.5)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, *logs: ServeProcess) -> None:
    """Poll the async ``check`` until it holds (``WAIT`` at most); on failure, the tails
    of ``logs``."""
    deadline = time.monotonic() + WAIT
    while not await check():
        tails = "\n".join(f"--- {p.log.name}\n{p.tail(15)}" for p in logs)
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{tails}"
        await asyncio.sleep(0.1)


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``, in /metrics ``text``."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total

"""The review app as a user starts it, for the browser tests: an OS process whose output is
read for the address it listens on.

:class:`AppProcess` runs ``python -m ucwa_flow ARGS`` (``review FLOW --listen 127.0.0.1:0``,
``run FLOW --review 127.0.0.1:0``, ``serve DEPLOY``) with stdout and stderr in log files of
its own and, for ``run``, its stdin a pipe the test types the caller's lines into, as a person
types them into the terminal. :meth:`AppProcess.url` waits until the process has printed the
review app's address (port 0 everywhere: each test gets a free port of its own).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.browser._pages import ROOT, poll
from tests.guards import WAIT

__all__ = ["REVIEW_URL", "AppProcess", "app_process"]

#: the review app's address as ``review`` and ``run --review`` announce it
REVIEW_URL = re.compile(
    r"review(?:ing)?\b[^\n]*?(https?://(?:127\.0\.0\.1|localhost|\[::1\]):\d+)", re.I
)


class AppProcess:
    """``python -m ucwa_flow ARGS`` in an OS process (see the module docstring)."""

    def __init__(
        self,
        args: list[str],
        folder: Path,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.args = args
        self.cwd = cwd
        self.stdout_log = folder / "stdout.log"
        self.stderr_log = folder / "stderr.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("UCWA_FLOW_")} | {
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.stdout_log.open("ab") as out, self.stderr_log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ucwa_flow", *self.args],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                cwd=self.cwd,
                env=self.env,
            )

    def output(self) -> str:
        """Everything printed so far, stdout then stderr."""
        return "".join(
            log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            for log in (self.stdout_log, self.stderr_log)
        )

    def stdout(self) -> str:
        return self.stdout_log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"{' '.join(self.args)} ended early ({self.proc.returncode}):\n{self.output()}"
            )
        return True

    def find(self, pattern: re.Pattern[str], what: str) -> str:
        """Wait until the output has ``pattern``; its first group."""

        def found() -> str | None:
            self.alive()
            match = pattern.search(self.output())
            return match.group(1) if match else None

        return poll(found, f"{what} in the output of {' '.join(self.args)}")

    def url(self) -> str:
        """The review app's base URL, once the process announced it."""
        return self.find(REVIEW_URL, "the review app's address").rstrip("/")

    def type_line(self, line: str) -> float:
        """Type ``line`` on the process's stdin; the ``time.monotonic()`` it was sent at."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return time.monotonic()

    def finish(self) -> int:
        """Close stdin (the end of the chat, as Ctrl-D) and wait for the process to end;
        its exit status."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(WAIT)

    def wait_for_stdout(self, text: str) -> None:
        poll(lambda: self.alive() and text in self.stdout(), f"{text!r} on stdout")

    def close(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(WAIT)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()


@contextlib.contextmanager
def app_process(
    folder: Path, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> Iterator[AppProcess]:
    """An :class:`AppProcess` of ``args`` (run in ``cwd``), started, killed on the way out."""
    folder.mkdir(parents=True, exist_ok=True)
    process = AppProcess(list(args), folder, env, cwd)
    process.start()
    try:
        yield process
    finally:
        process.close()

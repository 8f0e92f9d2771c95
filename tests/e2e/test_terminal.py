"""``ucwa-flow run flows/helpdesk.flow.yaml`` in a terminal: a usable chat.

The command runs in a pseudo terminal (it sees a TTY, so it is interactive). The test types
like a person: a line and Enter, then Ctrl-D (end of input) or Ctrl-C (interrupt, sent by
the terminal as SIGINT to the foreground process group).
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import time

import pytest

from tests.e2e.harness import ROOT
from tests.e2e.test_cli import ENV, UCWA_FLOW
from tests.e2e.test_helpdesk import HELLO
from tests.guards import WAIT

PROMPT = b"you> "


class Terminal:
    """A child process on a pseudo terminal; :attr:`screen` is everything it printed.

    Use it in a ``with`` block: a test that fails half-way must not leave the child running.
    """

    def __init__(self, *args: str) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the command at once
            os.chdir(ROOT)
            os.execve(UCWA_FLOW, [UCWA_FLOW, *args], ENV)
        self.pid, self.fd = pid, fd
        self.screen = b""
        self.status: int | None = None

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def read_until(self, needle: bytes, *, after: int = 0) -> bytes:
        """Read until ``needle`` appears past offset ``after`` of the screen."""
        deadline = time.monotonic() + WAIT
        while needle not in self.screen[after:]:
            assert time.monotonic() < deadline, f"no {needle!r} in {self.screen!r}"
            if not self._read(0.05):
                break
        return self.screen

    def wait(self) -> int:
        """Read to the end of output and return the exit status (``WAIT`` at most)."""
        deadline = time.monotonic() + WAIT
        while self._read(0.05):
            assert time.monotonic() < deadline, f"still running: {self.screen[-200:]!r}"
        _, status = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def _read(self, timeout: float) -> bool:
        """Read what is there; False once the child closed the terminal."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.screen += chunk
        return bool(chunk)


@pytest.mark.parametrize(("key", "name"), [(b"\x04", "Ctrl-D"), (b"\x03", "Ctrl-C")])
def test_a_terminal_chat_with_the_helpdesk(key: bytes, name: str) -> None:
    with Terminal("run", "flows/helpdesk.flow.yaml") as term:
        term.read_until(PROMPT)
        assert b"Chatting with the 'helpdesk' bot as sip:lenea@contoso.com" in term.screen
        # the bot waits for the caller's first message: the banner says to write first
        assert b"Type a line to start the conversation" in term.screen
        mark = len(term.screen)
        term.type(b"hello\r")
        term.read_until(b"4. Talk to an agent", after=mark)
        term.read_until(PROMPT, after=len(term.screen) - len(PROMPT))
        assert f"bot: {HELLO}".encode() in term.screen[mark:]
        # every bot line is drawn over the prompt, and the prompt comes back after it
        assert term.screen.rstrip().endswith(PROMPT.rstrip()), term.screen[-200:]
        term.type(key)
        status = term.wait()
        assert status == 0, (name, term.screen)
        assert b"Traceback" not in term.screen, term.screen
        if name == "Ctrl-C":
            assert term.screen.rstrip().endswith(b"stopped."), term.screen[-200:]


def test_after_the_bot_ends_the_chat_a_new_line_starts_a_new_conversation() -> None:
    with Terminal("run", "flows/helpdesk.flow.yaml") as term:
        # the banner says what is simulated before the person types
        term.read_until(b"sip:helpdesk-agents@contoso.com: a simulated agent who accepts")
        term.read_until(PROMPT, after=len(term.screen) - len(PROMPT))
        assert b"ticket_url = http://127.0.0.1:" in term.screen
        mark = len(term.screen)
        term.type(b"hello\r")
        term.read_until(b"4. Talk to an agent", after=mark)
        mark = len(term.screen)
        term.type(b"bye\r")
        # the end is said, with what to do next, and the prompt comes back
        term.read_until(b"type a line to start a new one, Ctrl-D to leave)\r\nyou> ", after=mark)
        assert b"* the bot ended the conversation" in term.screen[mark:]
        mark = len(term.screen)
        term.type(b"hello again\r")
        term.read_until(f"bot: {HELLO}".encode(), after=mark)
        term.read_until(b"4. Talk to an agent", after=mark)
        term.type(b"\x04")
        status = term.wait()
        assert status == 0, term.screen
        assert b"Traceback" not in term.screen, term.screen


def test_an_outbound_flows_banner_says_the_bot_invites() -> None:
    # the bot speaks first: "type a line to start the conversation" was wrong there
    with Terminal("run", "flows/outbound-survey.flow.yaml") as term:
        term.read_until(b"Ctrl-D or Ctrl-C to leave.")
        assert b"The bot invites you: answer it" in term.screen
        assert b"Type a line to start" not in term.screen
        term.type(b"\x04")
        assert term.wait() == 0, term.screen

"""The "What it must show" list, as a person would run it: ``ucwa-flow`` subprocesses.

Operational errors must end with one clear line on stderr and a non-zero exit status,
never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT
from tests.e2e.test_helpdesk import ASK_ID, HELLO, MENU
from tests.guards import WAIT
from tests.lines import Lines

UCWA_FLOW = str(Path(sys.executable).with_name("ucwa-flow"))
ENV = {k: v for k, v in os.environ.items() if not k.startswith("UCWA_FLOW_")} | {
    "PYTHONUNBUFFERED": "1",
    "NO_COLOR": "1",
}


def ucwa_flow(
    *args: str, stdin: str = "", timeout: float = WAIT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [UCWA_FLOW, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        timeout=timeout,
        check=False,
    )


HELPDESK_CHAT = (
    "you: hello\n"
    f"bot: {HELLO}\n"
    "bot: " + MENU.replace("\n", "\n     ") + "\n"
    "you: 1\n"
    f"bot: {ASK_ID}\n"
)


@pytest.mark.parametrize("spelling", ["flows/helpdesk.flow.yaml", "flows/helpdesk.yaml"])
def test_run_from_a_pipe_prints_the_conversation_and_exits_0(spelling: str) -> None:
    done = ucwa_flow("run", spelling, stdin="hello\n1\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == HELPDESK_CHAT
    assert "Traceback" not in done.stderr


HTML_FLOW = """\
version: 1
name: links
start: chat
settings:
  format: html
states:
  chat:
    messages:
      - any: true
        do:
          - say:
              html: 'Reset it on <a href="https://id.contoso.com/reset">the password page</a>.'
              text: "Reset it on the password page: https://id.contoso.com/reset"
"""


def test_the_terminal_gets_the_text_part_of_an_html_reply(tmp_path: Path) -> None:
    """The terminal shows text, so it offers only Plain: the flow's ``text:`` part, link kept."""
    flow = tmp_path / "links.flow.yaml"
    flow.write_text(HTML_FLOW, encoding="utf-8")
    done = ucwa_flow("run", str(flow), stdin="my password expired\n")
    assert done.returncode == 0, done.stderr
    assert "bot: Reset it on the password page: https://id.contoso.com/reset\n" in done.stdout


ROUTE_ONLY_FLOW = """\
version: 1
name: routed
start: ask
settings: {first_message: route_only}
states:
  ask:
    enter: [{say: "What is it about?"}]
    messages:
      - any: true
        say: "About {{ message }}."
    timeouts:
      - after: 20s
        do: [{say: "Still there?"}]
"""


def test_a_piped_line_after_a_route_only_first_message_is_sent_at_once(tmp_path: Path) -> None:
    """The first line only routes the invitation (no handler hears it): run waited for the
    bot to hear it, up to a minute, and sent the next line after the 20 s timeout."""
    flow = tmp_path / "routed.flow.yaml"
    flow.write_text(ROUTE_ONLY_FLOW, encoding="utf-8")
    done = ucwa_flow("run", str(flow), stdin="hello\nprinter\n", timeout=2 * WAIT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "you: hello\nbot: What is it about?\nyou: printer\nbot: About printer.\n"
    )


#: ``ucwa-flow`` on a slow disk: each commit of the store takes 0.3 s more, and none is made
#: at once on the caller's thread
_SLOW_STORE = """\
import asyncio, sys
from ucwa_flow.store._sqlite import SqliteStore
from ucwa_flow.store._store import Store
from ucwa_flow.cli import main

SqliteStore.commit_now = lambda self, account, changes: None
commit = Store.commit

async def slow(self, account, changes, *, fence=None):
    await asyncio.sleep(0.3)
    return await commit(self, account, changes, fence=fence)

Store.commit = slow
main(sys.argv[1:])
"""


def test_a_piped_line_after_a_route_only_first_message_waits_for_the_accept(
    tmp_path: Path,
) -> None:
    """run counted the routing line as heard on the decision to accept, which a durable bot
    acts on only once it is stored: on a slow disk the second line went out before the
    greeting ("you: printer" before "bot: What is it about?")."""
    flow = tmp_path / "routed.flow.yaml"
    flow.write_text(ROUTE_ONLY_FLOW, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _SLOW_STORE, "run", str(flow), "--caller", "sip:x@contoso.com"],
        input="hello\nprinter\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        timeout=2 * WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(
        "you: hello\nbot: What is it about?\nyou: printer\nbot: About printer.\n"
    ), done.stdout


def test_graph_prints_the_conversation_lifecycle_as_mermaid() -> None:
    done = ucwa_flow("graph", "--lifecycle", "conversation", "--format", "mermaid")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "stateDiagram-v2" in lines
    for state in ["Incoming", "Connecting", "Connected", "Disconnecting", "Disconnected"]:
        assert f'    state "{state}" as {state}' in lines
    assert "    Connecting --> Connected : connected" in lines
    assert "    Disconnected --> [*]" in lines


def assert_one_clear_line(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    last = done.stderr.rstrip("\n").splitlines()[-1]
    assert last == expected


def test_a_flow_with_errors_is_refused_with_its_diagnostics() -> None:
    done = ucwa_flow("run", "tests/flow/broken/f101-unknown-goto.flow.yaml")
    assert done.returncode == 1
    assert "F101 error: goto 'pasword': there is no state named 'pasword'" in done.stderr
    assert_one_clear_line(
        done,
        "ucwa-flow: error: tests/flow/broken/f101-unknown-goto.flow.yaml has errors; "
        "nothing was run",
    )


def test_an_unreachable_server_is_one_line() -> None:
    with _closed_port() as port:
        done = ucwa_flow(
            "run",
            "flows/echo.flow.yaml",
            "--server",
            f"http://127.0.0.1:{port}",
            "--user",
            "sip:toshm@contoso.com",
            "--password",
            "pass@word1",
        )
    assert_one_clear_line(
        done,
        f"ucwa-flow: error: cannot reach http://127.0.0.1:{port}: Connection refused",
    )
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:187500/", "is not a URL (Port out of range 0-65535)"),
        ("https://[::1/", "is not a URL (Invalid IPv6 URL)"),
    ],
)
def test_a_server_url_that_cannot_be_one_is_one_line(url: str, why: str) -> None:
    """A typo in the port, or an unclosed '[', was a traceback."""
    args = ("--user", "sip:toshm@contoso.com", "--password", "pass@word1")
    done = ucwa_flow("run", "flows/echo.flow.yaml", "--server", url, *args)
    assert done.returncode == 2  # a usage error, named as given (as `serve` does)
    assert_one_clear_line(done, f"Error: Invalid value for --server: server URL {url!r} {why}")


def test_server_without_user_is_a_usage_error() -> None:
    done = ucwa_flow("run", "flows/echo.flow.yaml", "--server", "http://127.0.0.1:1")
    assert done.returncode == 2
    assert_one_clear_line(
        done,
        "Error: --server needs --user and --password (or UCWA_FLOW_USER and UCWA_FLOW_PASSWORD)",
    )


def test_a_trusted_host_that_is_not_a_host_name_is_a_usage_error() -> None:
    done = ucwa_flow(
        "run",
        "flows/echo.flow.yaml",
        *("--server", "http://127.0.0.1:1", "--user", "sip:toshm@contoso.com"),
        *("--password", "pass@word1", "--trust-host", "https://lyncweb.fabrikam.com/"),
    )
    assert done.returncode == 2
    assert_one_clear_line(
        done,
        "Error: Invalid value for --trust-host: 'https://lyncweb.fabrikam.com/' is not a host "
        "name such as lyncweb.fabrikam.com or a domain suffix such as *.fabrikam.com (no "
        "scheme, port or path)",
    )


def test_a_trusted_domain_suffix_is_taken_and_a_top_level_one_refused() -> None:
    args = ("run", "flows/echo.flow.yaml", "--server", "http://127.0.0.1:1")
    args += ("--user", "sip:toshm@contoso.com", "--password", "pass@word1")
    wide = ucwa_flow(*args, "--trust-host", "*.local")
    assert wide.returncode == 2
    assert_one_clear_line(
        wide,
        "Error: Invalid value for --trust-host: '*.local' is too wide: *.local would trust a "
        "whole top-level domain or address range; name your organisation's domain, such as "
        "*.contoso.local",
    )
    taken = ucwa_flow(*args, "--trust-host", "*.contoso.local")
    assert taken.returncode == 1  # past the options: the server is not there
    assert "cannot reach" in taken.stderr


def test_a_trusted_host_on_the_simulator_is_a_usage_error() -> None:
    done = ucwa_flow("run", "flows/echo.flow.yaml", "--trust-host", "lyncweb.fabrikam.com")
    assert done.returncode == 2
    assert_one_clear_line(
        done,
        "Error: --trust-host is for a real server (--server URL): the embedded simulator "
        "needs no other host",
    )


@pytest.fixture
def simulator() -> Iterator[str]:
    """``ucwa-flow simulate --port 0`` as a subprocess; yields its base URL."""
    proc = subprocess.Popen(
        [UCWA_FLOW, "simulate", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=ENV,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("Simulated Skype for Business server at "), first
    url = first.split(" at ", 1)[1].split()[0].rstrip("/")
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert "Traceback" not in err


def test_a_wrong_password_against_the_simulator_is_one_line(simulator: str) -> None:
    done = ucwa_flow(
        "run",
        "flows/echo.flow.yaml",
        "--server",
        simulator,
        "--user",
        "sip:toshm@contoso.com",
        "--password",
        "not-the-password",
    )
    assert_one_clear_line(
        done, "ucwa-flow: error: wrong user name or password for toshm@contoso.com at 127.0.0.1"
    )
    assert len(done.stderr.splitlines()) == 1, done.stderr


@contextlib.contextmanager
def _closed_port() -> Iterator[int]:
    """A port nothing listens on: bound and never listening, so a connection is refused,
    and no other socket of the run (a server on port 0 of the other xdist worker, or of the
    command under test, say) can take it meanwhile, as it could once released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_sigterm_stops_run_as_ctrl_c_does() -> None:
    """``systemctl stop`` sends SIGTERM: the bot stops through its clean-up, status 0."""
    with subprocess.Popen(
        [UCWA_FLOW, "run", "flows/echo.flow.yaml"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=ENV,
    ) as bot:
        assert bot.stdin is not None
        assert bot.stdout is not None
        try:
            bot.stdin.write("hello\n")
            bot.stdin.flush()
            assert bot.stdout.readline() == "you: hello\n"  # the chat is up and answering
            bot.send_signal(signal.SIGTERM)
            _out, err = bot.communicate(timeout=WAIT)
        finally:
            if bot.poll() is None:
                bot.kill()
    assert bot.returncode == 0, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "stopped."


def test_the_simulators_temporary_store_is_removed_after_the_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [UCWA_FLOW, "run", "flows/echo.flow.yaml"],
        input="hello\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV | {"TMPDIR": str(tmp_path)},
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "You said: hello" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_run_names_the_bot_with_the_sip_it_signs_in_with(simulator: str, tmp_path: Path) -> None:
    args = ["run", "flows/echo.flow.yaml", "--server", simulator, "--user", "toshm@contoso.com"]
    args += ["--password", "pass@word1", "--state", str(tmp_path / "bot.sqlite3")]
    with subprocess.Popen(
        [UCWA_FLOW, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=ENV,
    ) as bot:
        try:
            assert bot.stderr is not None
            started = Lines(bot.stderr).until("serving as")  # within WAIT, warnings or not
        finally:
            bot.send_signal(signal.SIGINT)
            bot.wait(timeout=WAIT)
    assert started.startswith(f"echo: serving as sip:toshm@contoso.com on {simulator}"), started


def test_https_to_a_plain_http_server_says_to_try_http(simulator: str) -> None:
    https = simulator.replace("http://", "https://") + "/"
    done = ucwa_flow(
        "run", "flows/echo.flow.yaml", "--server", https,
        "--user", "sip:toshm@contoso.com", "--password", "pass@word1",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"ucwa-flow: error: cannot reach {https}: "), line
    assert line.endswith(
        "; the server does not speak TLS there (a plain HTTP server?): "
        f"try {simulator.replace('https://', 'http://')}/"
    ), line

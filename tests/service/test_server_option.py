"""``run``/``serve``: an error about the server URL names where the value came from.

``--server`` is also read from ``UCWA_FLOW_SERVER``; an error about a value that came from
the environment names ``UCWA_FLOW_SERVER``, not an option the user never typed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guards import WAIT

ROOT = Path(__file__).resolve().parents[2]
UCWA_FLOW = str(Path(sys.executable).with_name("ucwa-flow"))
FLOW = str(ROOT / "flows" / "echo.flow.yaml")
DEPLOY = str(ROOT / "deploy.example.yaml")
WHY = "server URL 'ftp://x' is not an http(s) URL such as https://lyncdiscover.contoso.com"
SIGN_IN = ("--user", "sip:toshm@contoso.com", "--password", "pass@word1")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("UCWA_FLOW_")} | {"NO_COLOR": "1"}


def _error(args: list[str], env: dict[str, str]) -> str:
    # in a process of its own: `run` configures the process's logging as it starts
    done = subprocess.run(
        [UCWA_FLOW, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV | env,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    "command", [["run", FLOW, *SIGN_IN], ["serve", DEPLOY]], ids=["run", "serve"]
)
def test_a_bad_server_url_from_the_environment_names_the_variable(command: list[str]) -> None:
    line = _error(command, {"UCWA_FLOW_SERVER": "ftp://x"})
    assert line == f"Error: Invalid value for UCWA_FLOW_SERVER: {WHY}"


@pytest.mark.parametrize(
    "command", [["run", FLOW, *SIGN_IN], ["serve", DEPLOY]], ids=["run", "serve"]
)
def test_a_bad_server_url_given_as_an_option_names_the_option(command: list[str]) -> None:
    # the option wins over the variable, and is what the error names
    line = _error([*command, "--server", "ftp://x"], {"UCWA_FLOW_SERVER": "https://ok.test"})
    assert line == f"Error: Invalid value for --server: {WHY}"


def test_a_server_from_the_environment_without_a_user_names_the_variable() -> None:
    line = _error(["run", FLOW], {"UCWA_FLOW_SERVER": "http://127.0.0.1:1"})
    assert line == (
        "Error: UCWA_FLOW_SERVER needs --user and --password "
        "(or UCWA_FLOW_USER and UCWA_FLOW_PASSWORD)"
    )

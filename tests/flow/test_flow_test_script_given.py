"""A test script given where a flow is expected: one line that says what it is.

A tester who passes ``helpdesk.test.yaml`` to ``graph``, ``diff``, ``replay``, ``run``,
``review`` or ``test --explore`` got the script's keys checked as a flow's: seven ``S``
errors (``unknown key 'flow'``, ``missing required key 'version'``...) and "the flow has 7
error(s)", or, from the explorer, the path twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.guards import WAIT
from ucwa_flow.cli import cli
from ucwa_flow.flow import FlowFileError, load_flow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def script(tmp_path: Path) -> Path:
    for name in ("helpdesk.flow.yaml", "helpdesk.test.yaml"):
        shutil.copy(ROOT / "flows" / name, tmp_path / name)
    return tmp_path / "helpdesk.test.yaml"


def _line(path: Path) -> str:
    return (
        f"ucwa-flow: error: {path}: is a test script (.test.yaml), not a flow: give the flow "
        "it tests (the script's `flow:`)"
    )


def test_load_flow_refuses_a_test_script(script: Path) -> None:
    with pytest.raises(FlowFileError, match="is a test script"):
        load_flow(script)


@pytest.mark.parametrize(
    "args",
    [
        ["graph", "{script}"],
        ["diff", "{flow}", "{script}"],
        ["replay", "{script}", "{flow}"],
        ["run", "{script}"],
        ["review", "{script}", "--listen", "127.0.0.1:0"],
        ["test", "--explore", "{script}"],
    ],
    ids=lambda args: args[0] if args[0] != "test" else "explore",
)
def test_a_test_script_given_as_the_flow_is_one_line(script: Path, args: list[str]) -> None:
    flow = script.with_name("helpdesk.flow.yaml")
    argv = [a.format(script=script, flow=flow) for a in args]
    done = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", *argv],
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 2, done.stderr.decode()
    assert done.stderr.decode().splitlines() == [_line(script)]
    assert done.stdout == b""


def test_exploring_a_folder_says_it_is_a_folder(tmp_path: Path) -> None:
    # it said "no such flow file" of a folder that exists
    result = CliRunner().invoke(cli, ["test", "--explore", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == f"ucwa-flow: error: {tmp_path}: is a directory, not a flow file"

"""A file that does not exist is the same mistake in every command: one line, status 2.

The form is ``ucwa-flow: error: MESSAGE`` on stderr (the message names the file), and
the status is 2, as for any other mistake in the command line, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_cli import ucwa_flow
from tests.guards import WAIT

MISSING = "nowhere/missing"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", f"{MISSING}.flow.yaml"], f"{MISSING}.flow.yaml: no such flow file"),
        (["validate", f"{MISSING}.flow.yaml"], f"{MISSING}.flow.yaml: no such flow file"),
        (["graph", f"{MISSING}.flow.yaml"], f"{MISSING}.flow.yaml: no such flow file"),
        (["test", f"{MISSING}.test.yaml"], f"{MISSING}.test.yaml: no such test script"),
        (["simulate", "--users", f"{MISSING}.yaml"], f"{MISSING}.yaml: no such users file"),
        (
            ["run", "flows/echo.flow.yaml", "--ca-bundle", f"{MISSING}.pem"],
            f"CA bundle {MISSING}.pem does not exist",
        ),
        (
            ["simulate", "--cert", f"{MISSING}.pem", "--key", f"{MISSING}.key", "--port", "0"],
            f"TLS certificate file {MISSING}.pem does not exist",
        ),
    ],
    ids=["run", "validate", "graph", "test", "simulate-users", "run-ca-bundle", "simulate-cert"],
)
def test_a_missing_file_is_one_line_and_status_2(args: list[str], message: str) -> None:
    done = ucwa_flow(*args, timeout=WAIT)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"ucwa-flow: error: {message}"), done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # review lost the slash and said "flow: no such flow file" of a misspelt folder
        (["review", "flow/"], "flow/: no such flow file or folder; did you mean flows/?"),
        (["validate", "flow/"], "flow/: no such flow file or folder; did you mean flows/?"),
        (["test", "flow/"], "flow/: no such test script or folder; did you mean flows/?"),
        (["review", "nw/"], "nw/: no such flow file or folder"),
        (
            ["graph", "flows/helpdsk.flow.yaml"],
            "flows/helpdsk.flow.yaml: no such flow file; did you mean flows/helpdesk.flow.yaml?",
        ),
    ],
    ids=["review", "validate", "test", "review-far", "graph-file"],
)
def test_a_misspelt_path_is_one_line_with_the_nearest_name(args: list[str], message: str) -> None:
    done = ucwa_flow(*args, timeout=WAIT)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"ucwa-flow: error: {message}\n"
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "flows"], "flows: is a directory, not a flow file"),
        # a folder with flows in it is checked whole (tests/flow/test_flow_subflows.py)
        (
            ["validate", "docs"],
            "docs: no flows (*.flow.yaml, *.subflow.yaml, *.states.yaml) in it",
        ),
        (["graph", "flows"], "flows: is a directory, not a flow file"),
        (["simulate", "--users", "flows"], "flows: is a directory, not a users file"),
    ],
    ids=["run", "validate", "graph", "simulate-users"],
)
def test_a_directory_for_a_file_is_the_same_one_line(args: list[str], message: str) -> None:
    done = ucwa_flow(*args, timeout=WAIT)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"ucwa-flow: error: {message}\n"


def test_a_store_file_that_is_not_a_store_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bot.sqlite3"
    bad.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    done = ucwa_flow("run", "flows/echo.flow.yaml", "--state", str(bad), timeout=WAIT)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ucwa-flow: error: cannot open the conversation store: "), lines
    assert str(bad) in lines[0]


def test_state_and_store_together_are_a_usage_error(tmp_path: Path) -> None:
    done = ucwa_flow(
        "run",
        "flows/echo.flow.yaml",
        "--state",
        str(tmp_path / "a.sqlite3"),
        "--store",
        "postgresql://nobody@127.0.0.1:1/none",
        timeout=WAIT,
    )
    assert done.returncode == 2, done.stderr
    assert "--state PATH (a SQLite file) or --store URL (PostgreSQL), not both" in done.stderr


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("users.yaml", "users: [\n", "users.yaml:2:1: users file is not valid YAML: "),
        (
            "users.json",
            '{"users": [\n  {"uri": }\n]}',
            "users.json:2:11: users file is not valid JSON: ",
        ),
        (  # json.loads' RecursionError was a traceback
            "users.json",
            '{"users": ' + "[" * 5000 + "]" * 5000 + "}",
            "users.json: users file is JSON nested deeper than 64 levels",
        ),
        (  # libyaml's composer recursed on the C stack: a segmentation fault (exit 139)
            "users.yaml",
            "users: " + "[" * 30000 + "]" * 30000,
            "users.yaml:1:71: users file is YAML nested deeper than 64 levels",
        ),
    ],
    ids=["yaml", "json", "json-too-deep", "yaml-too-deep"],
)
def test_a_users_file_that_does_not_parse_names_the_place(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    done = ucwa_flow("simulate", "--port", "0", "--users", str(tmp_path / name), timeout=WAIT)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"ucwa-flow: error: {tmp_path / where}"), done.stderr
    assert len(done.stderr.splitlines()) == 1

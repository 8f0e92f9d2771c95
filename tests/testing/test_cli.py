"""``ucwa-flow test``: results, failures with file:line, coverage table, exit status."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from tests.testing.conftest import FLOWS, ROOT
from tests.trimmed import trimmed_helpdesk_script
from ucwa_flow.cli import cli


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["test", *args])
    return result.exit_code, result.output


def test_the_example_flows_pass_with_every_state_covered() -> None:
    # as a user runs it: a separate process, from the repository root, with the warnings a
    # user sees (the suite's zygote forks it: a PYTHONWARNINGS of its own started it afresh).
    # It runs every example script (6 s of CPU), no wait for an event: WAIT (60 s) ended it
    # beside a full suite and other load (a load average of 9 on two cores); pyproject's
    # hang guard bounds it instead
    proc = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "test", "flows/", "--coverage"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert not [line for line in lines if line.startswith("FAIL")]
    assert any(line.startswith("PASS flows/helpdesk.test.yaml: ") for line in lines)
    table = lines[lines.index(next(x for x in lines if x.startswith("flow "))) :]
    rows = {row.split()[0]: row for row in table[1:] if row and not row.startswith(" ")}
    for name in ("echo", "helpdesk", "hr-menu", "after-hours", "outbound-survey"):
        assert name in rows
        assert rows[name].split()[3] == "100.0%", rows[name]  # states column
    assert proc.stderr == ""


def test_a_wrong_expectation_fails_with_file_line_and_a_difference(
    write: Callable[..., Path],
) -> None:
    script = write(
        "echo.test.yaml",
        f"""
        flow: {FLOWS / "echo.flow.yaml"}
        scenarios:
          - name: right
            steps:
              - invite: hi
              - expect: {{say: {{contains: I repeat everything}}}}
          - name: wrong
            steps:
              - invite: hello there
              - expect: {{say: {{contains: I repeat everything}}}}
              - expect: {{say: "You said: hello where"}}
        """,
    )
    code, out = _invoke(str(script))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"PASS {os.path.relpath(script)}: right (")
    assert lines[1].startswith(f"FAIL {os.path.relpath(script)}: wrong (")
    assert lines[2] == (
        f'     {script}:11: expected the bot to say "You said: hello where", '
        'but it said "You said: hello there"'
    )
    assert lines[3:5] == [
        "       expected: You said: hello where",
        "       said:     You said: hello there",
    ]
    assert lines[-1] == "2 scenarios: 1 passed, 1 failed"


def test_fail_under_and_quiet(tmp_path: Path) -> None:
    script = FLOWS / "echo.test.yaml"
    code, out = _invoke(str(script), "--fail-under", "100", "-q")
    assert (code, out.splitlines()[0]) == (0, "4 scenarios: 4 passed, 0 failed")
    code, out = _invoke(str(FLOWS / "helpdesk.test.yaml"), "--fail-under", "100", "-q")
    assert code == 0  # the example scripts take every transition
    code, out = _invoke(str(trimmed_helpdesk_script(tmp_path)), "--fail-under", "100", "-q")
    assert code == 1
    assert "FAIL coverage: helpdesk: transition coverage" in out
    assert "is below 100%" in out
    assert "helpdesk  " in out  # the table is shown to explain the failure


def test_quiet_with_coverage_prints_failures_summary_and_coverage(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    script = write(
        "echo.test.yaml",
        f"""
        flow: {FLOWS / "echo.flow.yaml"}
        scenarios:
          - name: right
            steps: [invite]
          - name: wrong
            steps: [invite, {{expect: {{say: nope}}}}]
        """,
    )
    results = tmp_path / "results.json"
    runner = CliRunner()
    outcome = runner.invoke(cli, ["test", str(script), "-q", "--coverage", "--json", str(results)])
    assert outcome.exit_code == 1
    lines = outcome.stdout.splitlines()
    assert not [line for line in lines if line.startswith("PASS")]
    assert lines[0].startswith(f"FAIL {os.path.relpath(script)}: wrong (")
    assert "2 scenarios: 1 passed, 1 failed" in lines
    assert lines[lines.index("") + 1].split() == ["flow", "file", "states", "transitions"]
    assert "echo: transitions never taken:" in lines
    assert json.loads(results.read_text(encoding="utf-8"))["failed"] == 1
    assert outcome.stderr == ""  # it said "wrote results and coverage to ..." all the same


def test_script_errors_and_missing_paths(write: Callable[..., Path], tmp_path: Path) -> None:
    bad = write("bad.test.yaml", f"flow: {FLOWS / 'echo.flow.yaml'}\nscenarios: [{{name: x}}]\n")
    code, out = _invoke(str(bad))
    assert code == 1
    assert f"{bad}:2:13: S002" in out
    assert "S002 error: scenarios[0]: missing required key 'steps'" in out
    assert "the script has errors; nothing was run" in out
    code, out = _invoke(str(tmp_path / "nowhere"))
    assert code == 2
    assert "nowhere: no such test script or folder" in out


def test_the_command_leaves_the_loggers_level_as_it_found_it() -> None:
    # run in-process (as these tests do), it silenced ucwa_flow for every later test of
    # the same worker: their log assertions failed depending on test order
    logger = logging.getLogger("ucwa_flow")
    before = logger.level
    logger.setLevel(logging.INFO)
    try:
        code, _ = _invoke(str(FLOWS / "echo.test.yaml"), "-q")
        assert code == 0
        assert logger.level == logging.INFO
    finally:
        logger.setLevel(before)


def test_a_flow_given_as_a_script_says_what_to_run() -> None:
    # the flow was read as a script: "unknown key 'version' (expected one of: flow, ...)"
    code, out = _invoke(str(FLOWS / "echo.flow.yaml"))
    assert code == 2
    assert out.strip() == (
        f"ucwa-flow: error: {FLOWS / 'echo.flow.yaml'}: is a flow, not a test script "
        f"(.test.yaml): run `ucwa-flow test {FLOWS / 'echo.test.yaml'}`, `ucwa-flow test "
        f"{FLOWS}`, or write scripts with `ucwa-flow test --explore {FLOWS / 'echo.flow.yaml'}`"
    )


def test_a_folder_of_yml_scripts_says_to_name_them_yaml(tmp_path: Path) -> None:
    (tmp_path / "echo.test.yml").write_text("flow: echo.flow.yaml\n", "utf-8")
    code, out = _invoke(str(tmp_path))
    assert code == 2
    assert out.strip() == (
        f"ucwa-flow: error: {tmp_path}: no test scripts (*.test.yaml) in it "
        "(echo.test.yml: end its name in .yaml, not .yml)"
    )


def test_names_and_texts_from_a_script_are_printed_with_control_characters_escaped(
    write: Callable[..., Path],
) -> None:
    # a script from a pull request with a scenario named "\e]0;...\a" set the terminal's
    # title of whoever ran the tests, and its texts could clear the screen
    script = write(
        "esc.test.yaml",
        "flow: " + str(FLOWS / "echo.flow.yaml") + "\nscenarios:\n"
        '  - name: "echo\\e]0;owned\\a"\n    steps:\n'
        '      - invite: "hi"\n      - expect: {say: "nope\\e[2J"}\n',
    )
    code, out = _invoke(str(script))
    assert code == 1
    assert "\x1b" not in out
    assert "\x07" not in out
    assert ": echo\\u001b]0;owned\\u0007 (" in out

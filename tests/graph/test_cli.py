"""``ucwa-flow graph`` as a user runs it: a real subprocess, with PATH under test control."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guards import WAIT
from ucwa_flow.flow import load_flow

ROOT = Path(__file__).resolve().parents[2]
HELPDESK = ROOT / "flows" / "helpdesk.flow.yaml"


def _run(
    *args: str, path: str | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "graph", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=WAIT,
        check=False,
    )


def test_mermaid_to_stdout_lists_every_state_of_the_helpdesk() -> None:
    done = _run("flows/helpdesk.flow.yaml", "--format", "mermaid")
    assert done.returncode == 0, done.stderr.decode()
    text = done.stdout.decode()
    assert text.splitlines()[3] == "stateDiagram-v2"
    flow = load_flow(HELPDESK).flow
    assert flow is not None
    for name in flow.states:
        assert f'state "{name}" as ' in text
    assert f"[*] --> {flow.start}" in text
    assert "--> [*]" in text
    assert done.stderr == b""


def test_short_spelling_of_the_flow_file_works() -> None:
    done = _run("flows/helpdesk.yaml")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == _run("flows/helpdesk.flow.yaml").stdout.decode()


def test_dot_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "helpdesk.gv"
    done = _run("flows/helpdesk.flow.yaml", "-o", str(out))  # format from the extension
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    text = out.read_text()
    assert text.startswith('digraph "helpdesk" {')
    assert '"menu" -> "handoff" [label="no match 3+", style="dotted"' in text


def test_engine_graphviz_without_graphviz_prints_the_install_hint(tmp_path: Path) -> None:
    out = tmp_path / "helpdesk.svg"
    args = ("flows/helpdesk.flow.yaml", "--engine", "graphviz", "-o", str(out))
    done = _run(*args, path=str(tmp_path))
    assert done.returncode == 1
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1
    assert "apt-get install graphviz" in lines[0]
    assert "brew install graphviz" in lines[0]
    assert not out.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_svg_and_png_with_graphviz(tmp_path: Path) -> None:
    svg = _run("flows/helpdesk.flow.yaml", "--format", "svg")
    assert svg.returncode == 0, svg.stderr.decode()
    assert b"<svg" in svg.stdout
    assert b">ask_employee_id</text>" in svg.stdout
    png = tmp_path / "helpdesk.png"
    done = _run("flows/helpdesk.flow.yaml", "-o", str(png))
    assert done.returncode == 0, done.stderr.decode()
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_flow_with_errors_prints_validate_diagnostics_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.flow.yaml"
    text = HELPDESK.read_text().replace("goto: describe", "goto: descibe", 1)
    broken.write_text(text)
    line = text.splitlines().index(next(x for x in text.splitlines() if "goto: descibe" in x)) + 1
    done = _run(str(broken))
    validate = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "validate", str(broken)],
        cwd=ROOT,
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == b""
    diagnostics = [x for x in done.stderr.decode().splitlines() if not x.startswith("ucwa-flow:")]
    assert diagnostics == validate.stdout.decode().splitlines()
    assert any(x.startswith(f"{broken}:{line}:") for x in diagnostics)
    assert "not drawn" in done.stderr.decode().splitlines()[-1]


def test_missing_file_is_one_line_exit_2() -> None:
    done = _run("flows/nope.flow.yaml")
    assert done.returncode == 2
    assert done.stderr.decode() == "ucwa-flow: error: flows/nope.flow.yaml: no such flow file\n"


def test_needs_exactly_one_of_flow_or_lifecycle() -> None:
    assert _run().returncode == 2
    assert _run("flows/echo.flow.yaml", "--lifecycle", "conversation").returncode == 2


@pytest.mark.parametrize(
    ("name", "states"),
    [
        ("conversation", ["Incoming", "Connecting", "Connected", "Disconnected"]),
        ("invitation", ["Connecting", "Connected", "Failed"]),
        ("messaging", ["Disconnected", "Connecting", "Connected", "Disconnecting"]),
    ],
)
def test_lifecycle_graphs(name: str, states: list[str]) -> None:
    done = _run("--lifecycle", name, "--format", "mermaid")
    assert done.returncode == 0, done.stderr.decode()
    text = done.stdout.decode()
    assert f'title: "{name} lifecycle"' in text
    for state in states:
        assert f'state "{state}" as {state}' in text
    assert "[*] --> " in text


def test_an_image_format_it_cannot_draw_is_refused_not_written_as_mermaid(tmp_path: Path) -> None:
    out = tmp_path / "helpdesk.jpg"
    done = _run("flows/helpdesk.flow.yaml", "-o", str(out))
    assert done.returncode == 2
    assert "cannot draw .jpg; write .svg, .png, .html, .dot or .mmd" in done.stderr.decode()
    assert not out.exists()


@pytest.mark.parametrize(
    ("part", "line"),
    [
        (
            "flows/lib/confirm.subflow.yaml",
            "ucwa-flow: error: flows/lib/confirm.subflow.yaml is a sub-flow, not a flow: "
            "draw a flow that calls it",
        ),
        (
            "flows/lib/desk.states.yaml",
            "ucwa-flow: error: flows/lib/desk.states.yaml is an included file, not a flow: "
            "draw a flow that includes it",
        ),
    ],
)
def test_a_part_of_a_flow_is_one_line_that_says_so(part: str, line: str) -> None:
    # it said "not drawn, the flow has 0 error(s)"
    done = _run(part)
    assert done.returncode == 1
    assert done.stdout == b""
    assert done.stderr.decode().splitlines() == [line]


def test_output_over_the_flow_file_is_refused(tmp_path: Path) -> None:
    # `graph x.flow.yaml -o x.flow.yaml` replaced the flow with its Mermaid graph
    flow = tmp_path / "echo.flow.yaml"
    text = (ROOT / "flows" / "echo.flow.yaml").read_text(encoding="utf-8")
    flow.write_text(text, encoding="utf-8")
    for given in ("echo.flow.yaml", "echo.yaml"):
        done = _run(given, "-o", "./echo.flow.yaml", cwd=tmp_path)
        assert done.returncode == 2
        assert b"-o ./echo.flow.yaml is the flow file itself" in done.stderr
    assert flow.read_text(encoding="utf-8") == text


def test_output_over_a_part_of_the_flow_is_refused(tmp_path: Path) -> None:
    # `graph password-reset.flow.yaml -o lib/confirm.subflow.yaml` replaced the sub-flow it
    # calls with the graph; any existing YAML file (an include, a script) is refused
    (tmp_path / "lib").mkdir()
    for name in ("password-reset.flow.yaml", "lib/confirm.subflow.yaml"):
        (tmp_path / name).write_text((ROOT / "flows" / name).read_text("utf-8"), "utf-8")
    part = tmp_path / "lib" / "confirm.subflow.yaml"
    text = part.read_text(encoding="utf-8")
    done = _run("password-reset.flow.yaml", "-o", "lib/confirm.subflow.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert b"-o lib/confirm.subflow.yaml is a YAML file" in done.stderr
    assert part.read_text(encoding="utf-8") == text

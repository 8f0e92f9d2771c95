"""``ucwa-flow validate`` and ``ucwa-flow schema``: output formats and exit statuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.guards import WAIT
from ucwa_flow.cli import cli
from ucwa_flow.simulator import DEFAULT_PASSWORD, Simulator, ThreadedServer

HERE = Path(__file__).parent
FULL = HERE / "flows" / "full.flow.yaml"
BROKEN = HERE / "broken"
ROOT = HERE.parents[1]


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_valid_flow_exits_0_with_a_summary_on_stderr() -> None:
    code, out, err = _run("validate", str(FULL))
    assert (code, out) == (0, "")
    assert "1 file(s) checked: 0 error(s), 0 warning(s)" in err


def test_warnings_alone_exit_0() -> None:
    code, out, _ = _run("validate", str(BROKEN / "f103-unreachable.flow.yaml"))
    assert code == 0
    assert out == (
        f"{BROKEN / 'f103-unreachable.flow.yaml'}:8:3: F103 warning: state 'orphan' cannot be "
        "reached: no goto leads to it from 'menu'\n"
    )


def test_errors_exit_1_one_line_each_sorted_by_position() -> None:
    path = BROKEN / "mixed-many-errors.flow.yaml"
    code, out, _ = _run("validate", "-q", str(path))
    assert code == 1
    lines = out.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"{path}:10:16",
        f"{path}:11:15",
        f"{path}:13:14",
    ]
    assert lines[1].endswith("F101 error: goto 'nowhere': there is no state named 'nowhere'")


def test_several_files_in_one_run() -> None:
    files = [
        str(FULL),
        str(BROKEN / "f101-unknown-goto.flow.yaml"),
        str(BROKEN / "y002-duplicate-state.flow.yaml"),
    ]
    code, out, err = _run("validate", *files)
    assert code == 1
    assert [line.split(": ")[1].split()[0] for line in out.splitlines()] == ["F101", "F103", "Y002"]
    assert "3 file(s) checked: 2 error(s), 1 warning(s)" in err


def test_json_format() -> None:
    code, out, _ = _run(
        "validate", "--format", "json", str(BROKEN / "f102-unknown-start.flow.yaml")
    )
    assert code == 1
    report = json.loads(out)
    assert report["errors"] == 1
    assert report["warnings"] == 0
    assert report["diagnostics"] == [
        {
            "file": str(BROKEN / "f102-unknown-start.flow.yaml"),
            "line": 4,
            "col": 8,
            "code": "F102",
            "severity": "error",
            "message": "start state 'main' does not exist",
        }
    ]


def test_missing_file_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    code, out, err = _run("validate", str(tmp_path / "nope.flow.yaml"))
    assert code == 2
    assert out == ""
    assert err.strip() == f"ucwa-flow: error: {tmp_path / 'nope.flow.yaml'}: no such flow file"


def test_directory_is_an_io_error(tmp_path: Path) -> None:
    code, _, err = _run("validate", str(tmp_path))
    assert code == 2
    assert "Traceback" not in err


def test_usage_error_exits_2() -> None:
    assert _run("validate")[0] == 2
    assert _run("validate", "--format", "xml", str(FULL))[0] == 2


def test_x_yaml_means_x_flow_yaml(tmp_path: Path) -> None:
    shutil.copy(FULL, tmp_path / "full.flow.yaml")
    code, _, err = _run("validate", str(tmp_path / "full.yaml"))
    assert code == 0
    assert "0 error(s)" in err


def test_not_utf8_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.flow.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    code, out, _ = _run("validate", "-q", str(path))
    assert code == 1
    assert out.startswith(f"{path}:1:10: Y001 error: the file is not UTF-8 text")


def test_not_utf8_is_located_at_the_byte_an_editor_shows(tmp_path: Path) -> None:
    # it was always 1:1 with a byte offset; a BOM is not counted, a character before is one
    path = tmp_path / "latin1.flow.yaml"
    path.write_bytes("\ufeffversion: 1\nname: d\u00e9j\u00e0 \u20ac".encode() + b"\xe9\n")
    code, out, _ = _run("validate", "-q", str(path))
    assert code == 1
    assert out == (
        f"{path}:2:13: Y001 error: the file is not UTF-8 text (byte 0xe9); save it as UTF-8\n"
    )


def test_a_nul_byte_or_a_mapping_key_is_a_located_error_not_a_traceback(tmp_path: Path) -> None:
    # issue 10: ruamel's ReaderError and an unhashable CommentedMap key escaped the loader
    nul = tmp_path / "nul.flow.yaml"
    nul.write_bytes(b"version: 1\nname: a\x00b\n")
    key = tmp_path / "key.flow.yaml"
    key.write_text("version: 1\nstates: {{a: 1}: x}\n", "utf-8")
    code, out, err = _run("validate", "-q", str(nul), str(key))
    assert code == 1
    assert out.splitlines() == [
        f"{nul}:2:8: Y001 error: character U+0000 is not allowed in YAML (a control character)",
        f"{key}:2:10: Y006 error: a mapping cannot be a mapping key: keys are texts",
    ]
    assert "Traceback" not in err


def test_schema_command_prints_the_schema_file() -> None:
    code, out, _ = _run("schema")
    assert code == 0
    assert out == (ROOT / "schemas" / "flow.schema.json").read_text("utf-8")


def test_schema_test_prints_the_test_script_schema_a_pip_install_has_no_other_copy_of() -> None:
    code, out, _ = _run("schema", "test")
    assert code == 0
    assert out == (ROOT / "schemas" / "test.schema.json").read_text("utf-8")


@pytest.mark.timeout(30)
def test_real_process_exit_status_and_no_http_stack_imported() -> None:
    script = (
        "import sys\n"
        "from ucwa_flow.cli import main\n"
        "try:\n"
        f"    main(['validate', '-q', {str(BROKEN / 'f105-bad-regex.flow.yaml')!r}])\n"
        "finally:\n"
        "    heavy = ('httpx', 'starlette', 'uvicorn')\n"
        "    sys.stderr.write(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "F105 error" in done.stdout
    assert done.stderr == ""


@pytest.mark.timeout(30)
def test_validating_a_valid_flow_imports_only_what_it_uses() -> None:
    # issue 17: no deployment loader (store, asyncio) for a flow, no jsonschema for a flow
    # without schema errors (the compiled check generated ahead answers), no click for the
    # common arguments, no regex for plain patterns and keywords (compiled when matched),
    # no Jinja2 for plain templates (parsed when first rendered), no fastjsonschema (the
    # check generated ahead stands alone)
    script = (
        "import sys\n"
        "from ucwa_flow.cli import main\n"
        "try:\n"
        f"    main(['validate', '-q', {str(ROOT / 'flows' / 'helpdesk.flow.yaml')!r}])\n"
        "finally:\n"
        "    unused = ('jsonschema', 'asyncio', 'ucwa_flow.deploy', 'ucwa_flow.store', 'httpx',\n"
        "              'click', 'regex', 'jinja2', 'starlette', 'transitions',\n"
        "              'ucwa_flow.runtime', 'fastjsonschema')\n"
        "    sys.stderr.write(' '.join(m for m in unused if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stderr == ""


def _main_in_a_process(argv: list[str]) -> tuple[int, str, list[str]]:
    """Exit status, stdout and the modules imported, of ``main(argv)`` in a fresh process
    (a fixed hash seed: diagnostics at the same place and of the same code come out in
    the order of a set)."""
    script = (
        "import sys\n"
        "from ucwa_flow.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "finally:\n"
        "    sys.stderr.write('\\n'.join(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, env=env
    )
    return done.returncode, done.stdout, done.stderr.splitlines()


@pytest.mark.timeout(60)
def test_validate_runs_without_click_and_reports_as_through_click() -> None:
    # issue 17: `validate [-q] [--format F] FILE...` is read without click; `-qq` (two
    # flags in one argument) is read only by click, and means the same
    code, lean_out, lean = _main_in_a_process(["validate", "-q", str(BROKEN)])
    click_code, click_out, clicked = _main_in_a_process(["validate", "-qq", str(BROKEN)])
    assert (code, lean_out) == (click_code, click_out)
    assert code == 1
    assert "F105 error" in lean_out
    assert "click" in lean  # errors are printed with click.echo, as before
    code, _, lean = _main_in_a_process(["validate", "-q", str(ROOT / "flows")])
    click_code, _, clicked = _main_in_a_process(["validate", "-qq", str(ROOT / "flows")])
    assert code == click_code == 0
    assert "click" not in lean
    # modules counted, not time: click brings in some 17 (its own, gettext, threading...)
    assert set(lean) < set(clicked)
    assert len(clicked) - len(lean) >= 12


def test_a_template_nested_too_deeply_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    """About 1,500 ``+`` terms: Jinja's compiler ended ``validate`` in a RecursionError."""
    terms = " + ".join(["a"] * 1500)
    condition = " and ".join(["a"] * 1500)
    path = tmp_path / "deep.flow.yaml"
    path.write_text(
        "version: 1\nname: deep\nstart: s\nvariables: {a: 1}\nstates:\n  s:\n"
        "    messages:\n      - any: true\n        do:\n"
        f'          - say: "{{{{ {terms} }}}}"\n'
        f'          - if: "{condition}"\n'
        "            then: [stop]\n"
        "          - stop\n",
        "utf-8",
    )
    code, out, err = _run("validate", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:10:18: F112 error: template does not compile: nested too deeply (at most "
        "64 levels of expressions and blocks)",
        f"{path}:11:17: F113 error: condition does not compile: nested too deeply (at most "
        "64 levels of expressions and blocks)",
    ]
    assert "Traceback" not in err


def test_a_test_script_is_checked_as_test_checks_it(tmp_path: Path) -> None:
    # it was checked as a flow: "unknown key 'flow'", "missing required key 'version'"...
    good = ROOT / "flows" / "echo.test.yaml"
    code, out, err = _run("validate", str(good))
    assert (code, out) == (0, "")
    assert err == "1 file(s) checked: 0 error(s), 0 warning(s)\n"
    bad = tmp_path / "bad.test.yaml"
    bad.write_text(
        f"flow: {ROOT / 'flows' / 'echo.flow.yaml'}\n"
        "scenarios:\n  - name: x\n    steps:\n      - hangup\n",
        "utf-8",
    )
    code, out, _ = _run("validate", str(bad))
    assert code == 1
    assert out == (
        f"{bad}:5:9: S004 error: scenarios[0].steps[0]: 'hangup' is not one of: invite, "
        "hang_up, accept, decline; did you mean 'hang_up'?\n"
    )


def test_a_folder_without_flows_says_so(tmp_path: Path) -> None:
    # it said "DIR: is a directory, not a flow file"
    (tmp_path / "echo.flow.yml").write_text("version: 1\n", "utf-8")
    code, out, err = _run("validate", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        f"ucwa-flow: error: {tmp_path}: no flows (*.flow.yaml, *.subflow.yaml, *.states.yaml) "
        "in it (echo.flow.yml: end its name in .yaml, not .yml)\n"
    )


@pytest.mark.timeout(60)
def test_running_a_flow_on_the_simulator_imports_no_tls_toolkit_nor_httpx_s_cli() -> None:
    # cryptography is for a simulator on HTTPS (simulate --tls); rich and pygments come with
    # httpx's own command line: each costs every `run` start 50-300 ms of CPU
    echo = str(ROOT / "flows" / "echo.flow.yaml")
    assert _imported(["run", echo], ("cryptography", "rich", "pygments")) == "unused: "


def _imported_script(args: list[str], unused: tuple[str, ...]) -> str:
    """A ``-c`` script (never forked from the tests' zygote: a fresh start) that runs
    ``ucwa-flow ARGS``, then names on stderr which of ``unused`` it imported."""
    return (
        "import sys\n"
        "from ucwa_flow.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "finally:\n"
        f"    unused = {unused!r}\n"
        "    sys.stderr.write('unused: ' + ' '.join(m for m in unused if m in sys.modules))\n"
    )


def _imported(args: list[str], unused: tuple[str, ...]) -> str:
    """What :func:`_imported_script` says, its last line: ``"unused: "`` and the names."""
    done = subprocess.run(
        [sys.executable, "-c", _imported_script(args, unused)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()[-1]


@pytest.mark.timeout(60)
def test_a_plain_run_imports_no_live_board_regex_nor_schema_compiler() -> None:
    # the live board (and starlette's routes with it) is for --review; regex for a
    # deployment's routes; fastjsonschema to compile a check the flow schema's is generated
    # ahead of; importlib.metadata to read the installed version for the UserAgent (the
    # package says its own): a plain `run` paid 60-90 ms of CPU for them on every start
    echo = str(ROOT / "flows" / "echo.flow.yaml")
    unused = ("ucwa_flow.live", "regex", "fastjsonschema", "importlib.metadata")
    assert _imported(["run", echo], unused) == "unused: "


@pytest.mark.timeout(60)
def test_a_run_on_a_server_imports_no_simulator_nor_http_server(tmp_path: Path) -> None:
    # the simulator, uvicorn and starlette serve `run` without --server (and --review):
    # a bot of a real server only speaks to it as a client
    unused = ("ucwa_flow.simulator", "uvicorn", "starlette", "ucwa_flow.live")
    unused += ("regex", "fastjsonschema")
    with ThreadedServer(Simulator()) as url:
        args = ["run", str(ROOT / "flows" / "echo.flow.yaml"), "--server", url]
        args += ["--user", "sip:toshm@contoso.com", "--password", DEFAULT_PASSWORD]
        args += ["--state", str(tmp_path / "bot.sqlite3")]
        proc = subprocess.Popen(
            [sys.executable, "-c", _imported_script(args, unused)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            lines = []
            for line in proc.stderr:  # until the bot has signed in (or the run ends)
                lines.append(line)
                if "serving as" in line:
                    proc.terminate()  # SIGTERM: a graceful stop
                    break
            lines += proc.stderr.readlines()
            assert proc.wait(timeout=WAIT) == 0, "".join(lines)
        finally:
            proc.kill()
            proc.wait()
    assert lines[-1] == "unused: "


def test_problems_at_one_place_are_printed_in_the_same_order_whatever_the_hash_seed(
    tmp_path: Path,
) -> None:
    # three S002 at 1:1: a set's order (the hash seed's) once decided their order, so
    # validate's output changed from one run to the next
    flow = tmp_path / "m.flow.yaml"
    flow.write_text("states:\n  a:\n    messages:\n      - any: true\n", encoding="utf-8")
    outputs = {
        subprocess.run(
            [sys.executable, "-m", "ucwa_flow", "validate", str(flow)],
            env=dict(os.environ, PYTHONHASHSEED=str(seed)),
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for seed in range(4)
    }
    assert len(outputs) == 1, outputs
    (output,) = outputs
    assert [line.rsplit(" ", 1)[-1] for line in output.splitlines()] == [
        "'version'",
        "'name'",
        "'start'",
    ], output

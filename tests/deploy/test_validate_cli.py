"""``ucwa-flow validate`` on deployment files: their problems, their flows', exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.deploy.conftest import ROOT, WriteDeployment
from ucwa_flow._deploy_sniff import DEPLOYMENT_KEYS, FLOW_KEYS
from ucwa_flow.cli import cli

GOOD = """\
accounts:
  - id: echo
    user: sip:echo@contoso.com
    password_env: ECHO_PASSWORD
    flow: flows/echo.flow.yaml
"""


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner(env=env).invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_good_deployment_exits_0(write_deployment: WriteDeployment) -> None:
    code, out, err = _run("validate", str(write_deployment(GOOD)))
    assert (code, out) == (0, "")
    assert "1 file(s) checked: 0 error(s), 0 warning(s)" in err


def test_a_number_that_is_not_finite_is_refused(write_deployment: WriteDeployment) -> None:
    # .nan and .inf passed validate: they reached the engine as float("nan")
    text = GOOD + "    vars:\n      limit: .NaN\n      ceiling: -.inf\n"
    path = write_deployment(text)
    code, out, _ = _run("validate", str(path))
    assert (code, out.splitlines()) == (
        1,
        [
            f"{path}:7:14: Y008 error: YAML reads .nan as not a number, which no value may "
            "be: quote it ('.nan') for a text",
            f"{path}:8:16: Y008 error: YAML reads -.inf as infinity, which no value may be: "
            "quote it ('-.inf') for a text",
        ],
    )


def test_the_example_with_its_environment() -> None:
    example = str(ROOT / "deploy.example.yaml")
    code, out, _ = _run("validate", example, env={"TICKET_URL": "https://t.contoso.com"})
    assert (code, out) == (0, "")
    code, out, _ = _run("validate", example, env={"TICKET_URL": None})  # type: ignore[dict-item]
    assert code == 1
    assert out.count("D101 error: environment variable TICKET_URL is not set") == 2


def test_its_own_errors_exit_1_one_line_each(write_deployment: WriteDeployment) -> None:
    path = write_deployment(GOOD + "    password: x\n    default_flow: nope\n")
    code, out, err = _run("validate", str(path))
    assert code == 1
    assert [line.split(" error: ")[0] for line in out.splitlines()] == [
        f"{path}:6:5: D103",
        f"{path}:7:19: D106",
    ]
    assert "2 error(s)" in err
    assert "Traceback" not in out + err


def test_the_errors_of_its_flows(write_deployment: WriteDeployment) -> None:
    path = write_deployment(GOOD)
    flow = path.parent / "flows" / "echo.flow.yaml"
    flow.write_text(flow.read_text("utf-8").replace("start: ", "start: nowhere #"), "utf-8")
    code, out, _ = _run("validate", str(path), str(flow))
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 1  # found through the deployment and as itself: one line
    assert all(line.startswith(f"{flow}:") and " F102 error: " in line for line in lines)


def test_json_format(write_deployment: WriteDeployment) -> None:
    path = write_deployment(GOOD.replace("flow: flows", "flow: ${NOPE}"))
    code, out, _ = _run("validate", "--format", "json", str(path))
    assert code == 1
    report = json.loads(out)
    assert report["errors"] == 1
    (diagnostic,) = report["diagnostics"]
    assert (diagnostic["line"], diagnostic["col"], diagnostic["code"]) == (5, 11, "D101")


def test_a_broken_yaml_deployment_is_worded_as_one(write_deployment: WriteDeployment) -> None:
    path = write_deployment("accounts:\n  - id: x\n    flow: &a f\n")
    code, out, _ = _run("validate", str(path))
    assert code == 1
    assert out == f"{path}:3:11: Y003 error: anchor &a is not allowed in deployment files\n"


def test_a_directory_named_like_a_deployment_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "deploy.yaml"
    folder.mkdir()
    code, _, err = _run("validate", str(folder))
    assert code == 2
    assert "directory" in err
    assert "Traceback" not in err


def test_a_missing_file_named_like_a_deployment_is_told_as_one(tmp_path: Path) -> None:
    # it said "no such flow file" to an operator checking /etc/ucwa-flow/deploy.yaml
    missing = tmp_path / "deploy.yaml"
    code, out, err = _run("validate", str(missing))
    assert (code, out) == (2, "")
    assert err == f"ucwa-flow: error: {missing}: no such deployment file\n"
    # X.yaml still means X.flow.yaml when only that one exists
    (tmp_path / "deploy.flow.yaml").write_text("~\n", "utf-8")
    code, out, _ = _run("validate", str(missing))
    assert code == 1
    assert out.endswith("expected a flow, a mapping with version, name, start, states\n")


@pytest.mark.timeout(60)
def test_a_real_process(write_deployment: WriteDeployment) -> None:
    path = write_deployment(GOOD + "    limits: {max_conversations: 0}\n")
    done = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "validate", "-q", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert done.stdout.startswith(f"{path}:6:33: S004 error: accounts[0].limits.max_conversations")
    assert done.stderr == ""
    missing = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "validate", str(path.parent / "nope.yaml")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr


def test_a_misspelt_accounts_key_is_still_worded_as_a_deployment(
    write_deployment: WriteDeployment,
) -> None:
    path = write_deployment("store: state\n" + GOOD.replace("accounts:", "acounts:"))
    code, out, _ = _run("validate", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:1:1: S002 error: missing required key 'accounts'",
        f"{path}:2:1: S001 error: unknown key 'acounts'; did you mean 'accounts'? "
        "(expected one of: accounts, admin, logging, retention, server, stop_timeout, store, "
        "workers)",
    ]


def test_a_broken_yaml_file_with_deployment_keys_is_worded_as_one(
    write_deployment: WriteDeployment,
) -> None:
    path = write_deployment("server: {url: http://x}\nacounts:\n  - id: x\n    flow: &a f\n")
    code, out, _ = _run("validate", str(path))
    assert code == 1
    assert out == f"{path}:4:11: Y003 error: anchor &a is not allowed in deployment files\n"


def test_a_flow_with_a_deployment_key_stays_a_flow(write_deployment: WriteDeployment) -> None:
    flow = (ROOT / "flows" / "echo.flow.yaml").read_text("utf-8")
    path = write_deployment(flow + "store: state\n")
    code, out, _ = _run("validate", str(path))
    assert code == 1
    assert "unknown key 'store'; did you mean 'start'?" in out


def test_the_sniffed_keys_are_the_schemas_keys() -> None:
    schemas = {
        name: set(json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())["properties"])
        for name in ("flow", "deploy")
    }
    assert schemas["deploy"] == DEPLOYMENT_KEYS
    assert schemas["flow"] == FLOW_KEYS


def test_only_keys_at_the_top_level_count() -> None:
    from ucwa_flow._deploy_sniff import deployment_by_lines, may_be_deployment

    # a flow's variable or state named like a deployment key is indented: not a sign
    flow = "name: desk\nstart: menu\nvariables:\n  store: 1\n  accounts: 2\nstates:\n  menu: {}\n"
    assert not may_be_deployment(flow)
    assert not deployment_by_lines(flow + "  - broken: [\n")
    assert may_be_deployment("store: /var/lib/bots\n")
    assert may_be_deployment('{ "accounts": [] }')
    assert deployment_by_lines("acounts:\n  - id: a\nstore: /x\n  - [\n")


@pytest.mark.parametrize("name", ["deploy.example.yaml", "deploy.yaml", "deployment-prod.yml"])
def test_a_null_deployment_file_is_told_by_its_name(tmp_path: Path, name: str) -> None:
    # only ~ in it: its content cannot tell; it said "expected a flow"
    path = tmp_path / name
    path.write_text("~\n", "utf-8")
    code, out, _ = _run("validate", str(path))
    assert (code, out.splitlines()) == (
        1,
        [
            f"{path}:1:1: Y007 error: the file holds only null (~): expected a deployment, "
            "a mapping with accounts"
        ],
    )


@pytest.mark.parametrize("name", ["deploy.flow.yaml", "null.yaml", "redeploy.yaml"])
def test_a_null_file_named_otherwise_is_a_flow(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("~\n", "utf-8")
    code, out, _ = _run("validate", str(path))
    assert code == 1
    assert out.endswith("expected a flow, a mapping with version, name, start, states\n")


@pytest.mark.parametrize(
    ("name", "deployment"),
    [
        ("deploy.yaml", True),
        ("deploy.example.yml", True),
        ("deployment-prod.yml", True),
        ("deploy.flow.yml", False),
        ("deploy.subflow.yml", False),
        ("deploy.test.yml", False),
        ("deploy.flow.yaml", False),
        ("my-deploy.yaml", False),
    ],
)
def test_a_file_is_named_like_a_deployment_file(name: str, deployment: bool) -> None:
    from ucwa_flow._deploy_sniff import deployment_by_name

    assert deployment_by_name(f"some/dir/{name}") is deployment

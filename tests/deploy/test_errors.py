"""Every problem of a deployment file: its code at its exact file:line:col, all at once,
and never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import certifi
import pytest

from tests.deploy.conftest import WriteDeployment
from tests.e2e.test_cli import UCWA_FLOW
from tests.guards import WAIT
from ucwa_flow.deploy import (
    DeploymentError,
    DeploymentFileError,
    check_deployment_flows,
    deployment_flow_diagnostics,
    load_deployment,
)
from ucwa_flow.errors import UnreadableFileError

ACCOUNT = """\
accounts:
  - id: echo
    user: sip:echo@contoso.com
    password_env: ECHO_PASSWORD
    flow: flows/echo.flow.yaml
"""
HELPDESK = """\
  - id: help
    user: sip:help@contoso.com
    password_env: HELP_PASSWORD
    flows: {help: flows/helpdesk.flow.yaml, echo: flows/echo.flow.yaml}
    default_flow: help
"""


def _errors(write: WriteDeployment, text: str, environ: dict[str, str] | None = None) -> list[str]:
    """``line:col: CODE message`` of every problem (the file name checked and cut off)."""
    path = write(text)
    with pytest.raises(DeploymentError) as caught:
        load_deployment(path, environ=environ or {})
    lines = str(caught.value).splitlines()
    assert lines == [str(d) for d in caught.value.diagnostics]
    assert all(line.startswith(f"{path}:") for line in lines)
    return [line.removeprefix(f"{path}:").replace(" error:", "", 1) for line in lines]


CASES = [
    # (what is written, the one problem it has, as line:col: CODE and the message's start)
    (ACCOUNT.replace("flow: flows", "flow: ${NOPE}/flows"), "5:11: D101 environment variable NOPE"),
    (ACCOUNT + "    vars: {a: 'x ${A B} y'}\n", "6:18: D102 '${A B}' is not a substitution"),
    (ACCOUNT + "    vars: {a: '${UNCLOSED'}\n", "6:16: D102 '${UNCLOSED...' is not"),
    (ACCOUNT + "    password: hunter2\n", "6:5: D103 a literal password is refused"),
    ("admin:\n  token: s3cret\n" + ACCOUNT, "2:3: D104 a literal token is refused"),
    (
        ACCOUNT + HELPDESK.replace("    default_flow: help\n", ""),
        "9:5: D105 account 'help' has 2 flows (help, echo)",
    ),
    (ACCOUNT + "    default_flow: other\n", "6:19: D106 no flow named 'other'"),
    (ACCOUNT + HELPDESK + "    routes:\n      - flow: vip\n", "12:15: D106 no flow named 'vip'"),
    (
        ACCOUNT + "    schedules: [{flow: x, invitee: sip:a@b.c, every: 1h}]\n",
        "6:24: D106 no flow named 'x'",
    ),
    (
        ACCOUNT + "    routes:\n      - flow: echo\n        subject: 'a(b'\n",
        "8:18: D107 subject: 'a(b' does not compile: missing ), unterminated subpattern",
    ),
    (  # re's parser recursed past Python's stack: a traceback
        ACCOUNT
        + "    routes:\n      - flow: echo\n        subject: '"
        + "(" * 1000
        + ")" * 1000
        + "'\n",
        "8:18: D107 subject: '((((",
    ),
    (
        ACCOUNT + ACCOUNT.removeprefix("accounts:\n").replace("sip:echo", "sip:echo2"),
        "6:9: D108 account id 'echo' is used twice (first at line 2)",
    ),
    (
        ACCOUNT + HELPDESK.replace("sip:help@", "ECHO@"),
        "7:11: D109 user 'ECHO@contoso.com' has two accounts (first at line 3)",
    ),
    ("stop_timeout: 0m\n" + ACCOUNT, "1:15: D110 stop_timeout: '0m' is no time at all"),
    (
        ACCOUNT + "    schedules: [{flow: echo, invitee: a@b.c, every: 0s}]\n",
        "6:53: D110 every: '0s' is no time at all",
    ),
    ("retention: .nan\n" + ACCOUNT, "1:12: Y008 YAML reads .nan as not a number"),
    ("retention: .inf\n" + ACCOUNT, "1:12: Y008 YAML reads .inf as infinity"),
    ("retention: 1e999\n" + ACCOUNT, "1:12: Y008 this number is too large: YAML reads it"),
    ("admin: {listen: '127.0.0.1:99999'}\n" + ACCOUNT, "1:17: D111 admin.listen:"),
    ("admin: {listen: '8470'}\n" + ACCOUNT, "1:17: D111 admin.listen: '8470' is not HOST:PORT"),
    ("store: mysql://db/x\n" + ACCOUNT, "1:8: D112 store: mysql:// is not a store"),
    ("store: flows/echo.flow.yaml\n" + ACCOUNT, "1:8: D112 store:"),
    ("store: 'postgresql://[db'\n" + ACCOUNT, "1:8: D112 store: the store URL is not a valid"),
    (ACCOUNT.replace("echo.flow", "nothere.flow"), "5:11: D113 flows/nothere.flow.yaml: no such"),
    (ACCOUNT.replace("flows/echo.flow.yaml", "flows"), "5:11: D113 flows: is a directory"),
    # the flow language's YAML and schema codes
    (ACCOUNT + "    user: twice\n", "6:5: Y002 duplicate key 'user'"),
    ("x: &a 1\n" + ACCOUNT, "1:4: Y003 anchor &a is not allowed in deployment files"),
    (ACCOUNT + "    colour: blue\n", "6:5: S001 accounts[0]: unknown key 'colour'"),
    (
        ACCOUNT.replace("    user: sip:echo@contoso.com\n", ""),
        "2:5: S002 accounts[0]: missing required key 'user'",
    ),
    (
        ACCOUNT + "    limits: {max_conversations: many}\n",
        "6:33: S003 accounts[0].limits.max_conversations: expected a whole number",
    ),
    (
        ACCOUNT + "    limits: {max_answering: 0}\n",
        "6:29: S004 accounts[0].limits.max_answering: 0 is below the minimum 1",
    ),
    (ACCOUNT.replace("id: echo", "id: Echo"), "2:9: S004 accounts[0].id: 'Echo' is not an"),
    ("retention: 3 days\n" + ACCOUNT, "1:12: S004 retention: '3 days' is not a duration"),
    (
        ACCOUNT.replace("    password_env: ECHO_PASSWORD\n", ""),
        "2:5: S005 accounts[0]: needs one of: password_env, password_file",
    ),
    (
        ACCOUNT + "    flows: {e: flows/echo.flow.yaml}\n",
        "6:5: S005 accounts[0]: 'flow' and 'flows' together: use exactly one",
    ),
    (
        "admin: {token_env: A, token_file: b}\n" + ACCOUNT,
        "1:23: S005 admin: 'token_env' and 'token_file' together: use exactly one",
    ),
    (
        "admin:\n  allow_hosts: [ok.example, https://admin.example.com]\n" + ACCOUNT,
        "2:29: S004 admin.allow_hosts[1]: 'https://admin.example.com' is not a host name",
    ),
    (  # `$` alone would let a trailing newline through (Python's re, ECMA's as applied)
        'admin:\n  allow_hosts: ["admin.example.com\\n"]\n' + ACCOUNT,
        "2:17: S004 admin.allow_hosts[0]: 'admin.example.com\\n' is not a host name",
    ),
    (  # so every pattern ends `(?!\n)$`, and the editors' `${` allowance is cut from all
        'admin:\n  allow_hosts: ["$${X}"]\n' + ACCOUNT,
        "2:17: S004 admin.allow_hosts[0]: '${X}' is not a host name",
    ),
    (
        'server: {url: "https://lyncdiscover.contoso.com\\n"}\n' + ACCOUNT,
        "1:15: S004 server.url: 'https://lyncdiscover.contoso.com\\n' is not an http:// or",
    ),
    (
        ACCOUNT.replace("id: echo", 'id: "echo\\n"'),
        "2:9: S004 accounts[0].id: 'echo\\n' is not an account id",
    ),
    (
        ACCOUNT.replace("user: sip:echo@contoso.com", 'user: "sip:echo@contoso.com\\n"'),
        "3:11: S004 accounts[0].user: 'sip:echo@contoso.com\\n' is not a SIP address",
    ),
    (
        ACCOUNT.replace("password_env: ECHO_PASSWORD", 'password_env: "ECHO_PASSWORD\\n"'),
        "4:19: S004 accounts[0].password_env: 'ECHO_PASSWORD\\n' is not an environment",
    ),
    (
        "workers: {lease: 5s, heartbeat: 2s}\n" + ACCOUNT,
        "1:33: D115 workers: a heartbeat of 2 s is too slow for a lease of 5 s",
    ),
    ("server: {ca_bundle: nosuch.pem}\n" + ACCOUNT, "1:21: D116 ca_bundle: nosuch.pem: no such"),
    # what the schema's pattern lets through, a sign-in retried for ever before
    (
        "server: {url: 'https://lyncdiscover.contoso.com:84430/'}\n" + ACCOUNT,
        "1:15: D117 server.url: 'https://lyncdiscover.contoso.com:84430/' is not a URL (Port out",
    ),
    ("server: {url: 'https://[::1/'}\n" + ACCOUNT, "1:15: D117 server.url: 'https://[::1/' is"),
    (
        "server: {url: 'https://xn--ab.contoso.com/'}\n" + ACCOUNT,
        "1:15: D117 server.url: 'https://xn--ab.contoso.com/' has a host name that is no valid",
    ),
    (
        "server:\n  trusted_hosts: [lyncweb.fabrikam.com, https://lync.example.com]\n" + ACCOUNT,
        "2:41: S004 server.trusted_hosts[1]: 'https://lync.example.com' is not a host name",
    ),
    (  # what the pattern lets through: an empty label
        "server:\n  trusted_hosts: [lyncweb..fabrikam.com]\n" + ACCOUNT,
        "2:19: D118 server.trusted_hosts[0]: 'lyncweb..fabrikam.com' is not a host name such as",
    ),
    (  # a domain suffix that is a whole top-level domain
        "server:\n  trusted_hosts: ['*.contoso.local', '*.com']\n" + ACCOUNT,
        "2:38: D118 server.trusted_hosts[1]: '*.com' is too wide: *.com would trust a whole",
    ),
    (
        "server:\n  trusted_hosts: ['*.*.contoso.local']\n" + ACCOUNT,
        "2:19: D118 server.trusted_hosts[0]: '*.*.contoso.local' has a * that is not alone and",
    ),
    (
        "server: {url: '${URL:-http://h:8750:80/}'}\n" + ACCOUNT,
        "1:15: D117 server.url: 'http://h:8750:80/' is not a URL (Port could not be cast",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[1][:40] for c in CASES])
def test_each_problem_at_its_place(
    write_deployment: WriteDeployment, text: str, expected: str
) -> None:
    (found,) = _errors(write_deployment, text)
    assert found.startswith(expected), found


def test_every_d_code_has_a_case() -> None:
    from ucwa_flow.deploy import DEPLOY_RULES

    tested = {case[1].split()[1] for case in CASES} | {"D114"}  # D114: below
    assert set(DEPLOY_RULES) <= tested


def test_all_problems_at_once_sorted(write_deployment: WriteDeployment) -> None:
    text = (
        "store: ftp://x\nretention: 0s\n"
        + ACCOUNT.replace("flows/echo", "${DIR}")
        + "    password: hunter2\n    default_flow: nope\n"
    )
    codes = [line.split()[1] for line in _errors(write_deployment, text)]
    assert codes == ["D112", "D110", "D101", "D103", "D106"]


def test_a_refused_password_is_not_also_a_missing_one(write_deployment: WriteDeployment) -> None:
    text = ACCOUNT.replace("password_env: ECHO_PASSWORD", "password: ${SECRET}")
    assert _errors(write_deployment, text) == [
        "4:5: D103 a literal password is refused in a deployment file; write password_env: "
        "NAME (an environment variable) or password_file: PATH"
    ]


@pytest.mark.parametrize("workers", ["{lease: 5s, heartbeat: 0s}", "{lease: 0s, heartbeat: 4s}"])
def test_a_refused_duration_is_not_also_a_slow_heartbeat(
    write_deployment: WriteDeployment, workers: str
) -> None:
    # the refused one's default was compared with the other: "a heartbeat of 2 s is too
    # slow for a lease of 5 s", of a heartbeat nobody wrote
    found = _errors(write_deployment, f"workers: {workers}\n" + ACCOUNT)
    assert [line.split()[1] for line in found] == ["D110"]


def test_a_failed_substitution_is_reported_once(write_deployment: WriteDeployment) -> None:
    # the value keeps its text, which is no duration: only the D101 is reported
    found = _errors(write_deployment, "stop_timeout: ${STOP}\n" + ACCOUNT)
    assert [line.split()[1] for line in found] == ["D101"]


def test_two_unset_variables_in_one_value(write_deployment: WriteDeployment) -> None:
    text = ACCOUNT + "    vars: {url: '${A}://${B}/${A}'}\n"
    found = _errors(write_deployment, text, {"B": "b"})
    assert [line.split(":")[:2] for line in found] == [["6", "18"], ["6", "30"]]


# -- no traceback on bad input ------------------------------------------------------------


def test_a_yaml_syntax_error_is_located(write_deployment: WriteDeployment) -> None:
    (found,) = _errors(write_deployment, "accounts:\n  - id: [x\n")
    assert found.startswith("2:")
    assert " Y001 " in found


@pytest.mark.parametrize("text", ["", "- a list\n", "just text\n", "accounts: 3\n"])
def test_not_a_deployment_at_all(write_deployment: WriteDeployment, text: str) -> None:
    assert _errors(write_deployment, text)


def test_a_missing_file_or_a_directory_is_one_line(write_deployment: WriteDeployment) -> None:
    folder = write_deployment(ACCOUNT).parent
    cases = (
        (folder / "nope.yaml", "no such deployment file"),
        (folder, "is a directory, not a deployment file"),
    )
    for path, says in cases:
        with pytest.raises(DeploymentFileError) as caught:
            load_deployment(path)
        assert isinstance(caught.value, UnreadableFileError)
        assert str(caught.value) == f"{path}: {says}"
        assert caught.value.diagnostics == []


def test_a_part_of_a_flow_named_as_a_flow_is_d113(write_deployment: WriteDeployment) -> None:
    # validate passed it (a part loads with no flow and no error); serve then refused it
    # with "the flow has errors"
    flows = write_deployment(ACCOUNT).parent / "flows"
    (flows / "ask.subflow.yaml").write_text(
        "version: 1\nsubflow: ask\nstart: a\nstates: {a: {enter: [return]}}\n", "utf-8"
    )
    (flows / "desk.states.yaml").write_text("states: {b: {enter: [stop]}}\n", "utf-8")
    found = [
        _errors(write_deployment, ACCOUNT.replace("echo.flow.yaml", part))
        for part in ("ask.subflow.yaml", "desk.states.yaml")
    ]
    assert found == [
        ["5:11: D113 flows/ask.subflow.yaml is a sub-flow, not a flow: name a flow that calls it"],
        [
            "5:11: D113 flows/desk.states.yaml is an included file, not a flow: name a flow "
            "that includes it"
        ],
    ]


def test_not_utf8_is_located(write_deployment: WriteDeployment) -> None:
    path = write_deployment(ACCOUNT)
    path.write_bytes(b"accounts: \xff\n")
    with pytest.raises(DeploymentError, match=r":1:11: Y001 error: the file is not UTF-8"):
        load_deployment(path)


# -- the flows a deployment names ---------------------------------------------------------


def test_check_deployment_flows_reports_flow_errors(write_deployment: WriteDeployment) -> None:
    path = write_deployment(ACCOUNT + HELPDESK)
    deployment = load_deployment(path, environ={})
    assert check_deployment_flows(deployment) == []
    broken = path.parent / "flows" / "echo.flow.yaml"
    broken.write_text(broken.read_text("utf-8").replace("start: ", "start: nowhere #"), "utf-8")
    found = check_deployment_flows(deployment)
    assert len(found) == 1  # echo.flow.yaml is named twice, loaded once
    assert found[0].startswith(f"{broken}:")
    assert " F102 error: " in found[0]


def test_a_flow_file_gone_since_the_load_is_located(write_deployment: WriteDeployment) -> None:
    path = write_deployment(ACCOUNT)
    deployment = load_deployment(path, environ={})
    (path.parent / "flows" / "echo.flow.yaml").unlink()
    (found,) = check_deployment_flows(deployment)
    assert found.startswith(f"{path}:5:11: D113 error: flow 'echo': ")


def test_a_variable_no_flow_declares(write_deployment: WriteDeployment) -> None:
    text = ACCOUNT + HELPDESK + "    vars:\n      ticket_url: x\n      tiket: y\n"
    deployment = load_deployment(write_deployment(text), environ={})
    (found,) = deployment_flow_diagnostics(deployment)
    assert (found.line, found.col, found.code) == (13, 7, "D114")
    assert found.message.startswith("vars.tiket: no flow of account 'help' has a variable 'tiket'")


def test_an_escaped_substitution_is_checked_as_written(write_deployment: WriteDeployment) -> None:
    # the published schema lets ${ through for editors; after substitution it must be a URL
    (found,) = _errors(write_deployment, "server: {url: '$${URL}'}\n" + ACCOUNT)
    assert found.startswith("1:15: S004 server.url: '${URL}' is not an http:// or https:// URL")


def test_a_ca_bundle_is_relative_to_the_file_and_read(write_deployment: WriteDeployment) -> None:
    path = write_deployment("server: {ca_bundle: certs/ca.pem}\n" + ACCOUNT)
    (found,) = _errors(write_deployment, "server: {ca_bundle: certs/ca.pem}\n" + ACCOUNT)
    bundle = path.parent / "certs" / "ca.pem"
    assert found == f"1:21: D116 ca_bundle: certs/ca.pem: no such file (looked for {bundle})"
    bundle.mkdir(parents=True)
    (found,) = _errors(write_deployment, "server: {ca_bundle: certs/ca.pem}\n" + ACCOUNT)
    assert (
        found == f"1:21: D116 ca_bundle: {bundle} is a directory, not a PEM file of CA certificates"
    )
    bundle.rmdir()
    bundle.write_text("not a certificate\n", "utf-8")
    (found,) = _errors(write_deployment, "server: {ca_bundle: certs/ca.pem}\n" + ACCOUNT)
    assert found.startswith(f"1:21: D116 ca_bundle: {bundle} holds no usable PEM certificate")
    bundle.write_text(Path(certifi.where()).read_text("utf-8"), "utf-8")
    assert load_deployment(path, environ={}).server.ca_bundle == bundle
    bundle.chmod(0)
    try:
        if not os.access(bundle, os.R_OK):
            (found,) = _errors(write_deployment, "server: {ca_bundle: certs/ca.pem}\n" + ACCOUNT)
            assert found == f"1:21: D116 ca_bundle: cannot read {bundle}: Permission denied"
            return
        # root reads any file: `validate` run as root without the capabilities that let it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root, and setpriv is missing: permission bits do not apply")
        deployment = write_deployment("server: {ca_bundle: certs/ca.pem}\n" + ACCOUNT)
        bound = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
        done = subprocess.run(
            [*bound, UCWA_FLOW, "validate", str(deployment)],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        said = f"{deployment}:1:21: D116 error: ca_bundle: cannot read {bundle}: Permission denied"
        assert said in done.stdout.splitlines() + done.stderr.splitlines(), done
    finally:
        bundle.chmod(0o644)


# A path that cannot even be looked at: for a service user, a folder on the way that it may
# not search (EACCES); for anyone, a name too long (ENAMETOOLONG), which a test run as root
# can make. Either was a traceback from validate and serve.
TOO_LONG = "x" * 300


def test_a_flow_or_ca_bundle_that_cannot_be_looked_at_is_located(
    write_deployment: WriteDeployment,
) -> None:
    text = f"server: {{url: 'https://h/', ca_bundle: {TOO_LONG}/ca.pem}}\n" + ACCOUNT.replace(
        "flows/echo.flow.yaml", f"{TOO_LONG}/echo.flow.yaml"
    )
    bundle, flow = _errors(write_deployment, text)
    assert bundle.startswith("1:40: D116 ca_bundle: cannot read ")
    assert bundle.endswith(f"{TOO_LONG}/ca.pem: File name too long")
    assert flow.startswith(f"6:11: D113 {TOO_LONG}/echo.flow.yaml: cannot be read (File name too")


def test_a_store_folder_that_cannot_be_looked_at_is_left_to_the_store(
    write_deployment: WriteDeployment,
) -> None:
    """``validate`` may run as another user than ``serve``; opening the store says why."""
    path = write_deployment(f"store: {TOO_LONG}/state\n" + ACCOUNT)
    deployment = load_deployment(path, environ={})
    assert deployment.store == str(path.parent / TOO_LONG / "state")

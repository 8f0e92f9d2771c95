"""``ucwa-flow serve`` as a person runs it: a subprocess on the embedded simulator, and
each mistake a person can make in starting it as one line with its exit status."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli import ROOT, UCWA_FLOW
from tests.guards import WAIT
from tests.lines import Lines
from tests.service.world import World

FLOWS = ROOT / "flows"

SECRET = "desk-secret-5150"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("UCWA_FLOW_")} | {
    "DESK_PASSWORD": SECRET
}

DEPLOY = """\
admin: {enabled: false}
stop_timeout: 10s
accounts:
  - id: desk
    user: sip:desk@contoso.com
    password_env: DESK_PASSWORD
    flow: desk.flow.yaml
"""


def _deployment(folder: Path) -> Path:
    (folder / "desk.flow.yaml").write_text(World.flow_text("desk"), encoding="utf-8")
    path = folder / "deploy.yaml"
    path.write_text(DEPLOY, encoding="utf-8")
    return path


def test_serve_reloads_on_sighup_and_stops_on_sigterm(tmp_path: Path) -> None:
    deploy = _deployment(tmp_path)
    with subprocess.Popen(
        [UCWA_FLOW, "serve", str(deploy)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env=ENV,
    ) as proc:
        try:
            lines = Lines(proc.stderr)
            lines.until("desk: signed in as sip:desk@contoso.com")
            proc.send_signal(signal.SIGHUP)
            lines.until("reload: no flow changed")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=WAIT)
            lines.until("stopped")
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, "".join(lines.seen)
    everything = "".join(lines.seen)
    assert "Traceback" not in everything
    assert SECRET not in everything


def test_a_flow_with_errors_is_reported_with_its_location(tmp_path: Path) -> None:
    deploy = _deployment(tmp_path)
    flow = tmp_path / "desk.flow.yaml"
    flow.write_text(World.flow_text("desk").replace("goto: done", "goto: nowhere"), "utf-8")
    done = subprocess.run(
        [UCWA_FLOW, "serve", str(deploy)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ENV,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{flow}:13:15: F101 " in done.stderr


def test_vars_no_flow_declares_are_told_as_such_not_as_a_flow_with_errors(tmp_path: Path) -> None:
    deploy = _deployment(tmp_path)
    deploy.write_text(DEPLOY + "    vars: {tiket_url: x}\n", "utf-8")
    done = _serve(tmp_path, str(deploy))
    assert done.returncode == 2, done.stderr
    first, last = done.stderr.splitlines()
    assert first.startswith(f"{deploy}:8:12: D114 error: vars.tiket_url: ")
    assert last == (
        f"ucwa-flow: error: {deploy}: its flows, or the vars it gives them, have errors; "
        "nothing was run"
    )


def _serve(folder: Path, *args: str, env: dict[str, str] = ENV) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [UCWA_FLOW, "serve", *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=WAIT,
        check=False,
    )


def _serve_until(folder: Path, deploy: Path, text: str) -> tuple[str, int, str]:
    """``serve`` until a line holding ``text`` (given back), then SIGTERM: that line, the
    exit status and everything it wrote."""
    with subprocess.Popen(
        [UCWA_FLOW, "serve", str(deploy), "--server", "http://127.0.0.1:1/"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=folder,
        env=ENV,
    ) as proc:
        try:
            lines = Lines(proc.stderr)
            line = lines.until(text)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
    return line, proc.returncode, "".join(lines.seen)


def _one_line(done: subprocess.CompletedProcess[str], status: int) -> str:
    """The one line ``done`` printed on stderr, after checking its exit status."""
    assert done.returncode == status, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_deployment_file_that_is_not_there_or_a_folder(tmp_path: Path) -> None:
    # without the "ucwa-flow: error: " every other command's one line has
    missing = _one_line(_serve(tmp_path, "nowhere.yaml"), 2)
    assert missing == "ucwa-flow: error: nowhere.yaml: no such deployment file"
    folder = _one_line(_serve(tmp_path, "."), 2)
    assert folder == "ucwa-flow: error: .: is a directory, not a deployment file"


def test_a_flow_or_a_test_script_for_a_deployment_file_is_one_line(tmp_path: Path) -> None:
    # a flow was a screenful of "S001 error: unknown key 'states' (expected one of:
    # accounts, ...)", one line per top-level key
    flow = FLOWS / "echo.flow.yaml"
    assert _one_line(_serve(tmp_path, str(flow)), 2) == (
        f"ucwa-flow: error: {flow}: is a flow, not a deployment file: run it with "
        f"`ucwa-flow run {flow}`, or name it in an account of a deployment file "
        "(docs/deploy.md)"
    )
    script = FLOWS / "echo.test.yaml"
    assert _one_line(_serve(tmp_path, str(script)), 2) == (
        f"ucwa-flow: error: {script}: is a test script, not a deployment file: run it with "
        f"`ucwa-flow test {script}`"
    )
    part = FLOWS / "lib" / "confirm.subflow.yaml"
    assert _one_line(_serve(tmp_path, str(part)), 2).endswith(
        "confirm.subflow.yaml: is a part of a flow, not a deployment file: name a flow that "
        "uses it in an account of a deployment file (docs/deploy.md)"
    )


def test_a_missing_deployment_file_is_told_before_the_service_is_imported(
    tmp_path: Path,
) -> None:
    script = (
        "import sys\n"
        "from ucwa_flow.cli import main\n"
        "try:\n"
        "    main(['serve', 'nowhere.yaml'])\n"
        "finally:\n"
        "    heavy = ('ucwa_flow.service', 'ucwa_flow.runtime', 'ucwa_flow.ucwa.client')\n"
        "    print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ENV | {"PYTHONPATH": str(ROOT)},
        timeout=WAIT,
        check=False,
    )
    assert _one_line(done, 2) == "ucwa-flow: error: nowhere.yaml: no such deployment file"
    assert done.stdout == "\n"


def test_a_deployment_file_with_errors_names_each_place(tmp_path: Path) -> None:
    deploy = _deployment(tmp_path)
    deploy.write_text(DEPLOY.replace("password_env: DESK_PASSWORD", "password: hunter2"), "utf-8")
    line = _one_line(_serve(tmp_path, str(deploy)), 2)
    assert line.startswith(f"{deploy}:6:5: D103 error: a literal password is refused")
    assert "hunter2" not in line


def test_a_ca_bundle_that_is_not_there_is_a_d116_at_its_place(tmp_path: Path) -> None:
    deploy = _deployment(tmp_path)
    deploy.write_text("server:\n  url: https://127.0.0.1:1/\n  ca_bundle: nosuch.pem\n" + DEPLOY)
    line = _one_line(_serve(tmp_path, str(deploy)), 2)
    missing = tmp_path / "nosuch.pem"
    expected = (
        f"{deploy}:3:14: D116 error: ca_bundle: nosuch.pem: no such file (looked for {missing})"
    )
    assert line == expected


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("password_env: NOT_SET_ANYWHERE", "environment variable NOT_SET_ANYWHERE is not set"),
        ("password_file: no-such.secret", "no-such.secret: No such file or directory"),
        ("password_env: SET_BUT_EMPTY", "environment variable SET_BUT_EMPTY is empty"),
        ("password_file: empty.secret", "empty.secret is empty"),
    ],
)
def test_a_password_that_cannot_be_read_starts_nothing(
    tmp_path: Path, source: str, reason: str
) -> None:
    deploy = _deployment(tmp_path)
    (tmp_path / "empty.secret").write_text("\n", encoding="utf-8")  # a secret not filled in
    deploy.write_text(DEPLOY.replace("password_env: DESK_PASSWORD", source), "utf-8")
    line = _one_line(_serve(tmp_path, str(deploy), env=ENV | {"SET_BUT_EMPTY": ""}), 1)
    assert line.startswith("ucwa-flow: error: desk: cannot read the password of sip:desk@")
    assert line.endswith(reason)


def test_an_empty_admin_token_file_starts_nothing(tmp_path: Path) -> None:
    """Read as no token at all, it left /metrics, /reload and outbound starts open."""
    deploy = _deployment(tmp_path)
    (tmp_path / "admin.token").write_text("", encoding="utf-8")
    admin = "admin: {listen: '127.0.0.1:0', token_file: admin.token}\n"
    deploy.write_text(DEPLOY.replace("admin: {enabled: false}\n", admin), "utf-8")
    line = _one_line(_serve(tmp_path, str(deploy)), 1)
    assert line == f"ucwa-flow: error: cannot read the admin token: {tmp_path}/admin.token is empty"


def test_each_secret_that_cannot_be_read_is_an_error_line_of_its_own(tmp_path: Path) -> None:
    """The second one was printed bare, below the first's ``ucwa-flow: error:``."""
    deploy = _deployment(tmp_path)
    admin = "admin: {listen: '127.0.0.1:0', token_env: NOT_SET_EITHER}\n"
    text = DEPLOY.replace("admin: {enabled: false}\n", admin)
    deploy.write_text(text.replace("DESK_PASSWORD", "NOT_SET_ANYWHERE"), "utf-8")
    done = _serve(tmp_path, str(deploy))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "ucwa-flow: error: desk: cannot read the password of sip:desk@contoso.com: "
        "environment variable NOT_SET_ANYWHERE is not set",
        "ucwa-flow: error: cannot read the admin token: "
        "environment variable NOT_SET_EITHER is not set",
    ]


def test_an_admin_port_in_use_is_one_line(tmp_path: Path) -> None:
    deploy = _deployment(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(tmp_path, str(deploy), "--admin", f"127.0.0.1:{port}")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"ucwa-flow: error: cannot listen on 127.0.0.1:{port} ")
    assert "Address already in use" in last
    assert "signed in" not in done.stderr  # the port is taken before any account signs in


@contextlib.contextmanager
def _running(tmp_path: Path, *args: str) -> Iterator[Lines]:
    """``ucwa-flow serve ARGS`` running, its stderr's lines; stopped by SIGTERM after."""
    with subprocess.Popen(
        [UCWA_FLOW, "serve", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env=ENV,
    ) as proc:
        try:
            yield Lines(proc.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=WAIT)


def test_the_embedded_simulator_names_as_callers_only_users_that_are_not_accounts(
    tmp_path: Path,
) -> None:
    """The start line named lenea and adrianag as the callers whatever the deployment: an
    account signed in as adrianag was listed as someone to call it from."""
    deploy = _deployment(tmp_path)
    deploy.write_text(DEPLOY.replace("sip:desk@", "sip:AdrianaG@"), "utf-8")
    with _running(tmp_path, str(deploy)) as lines:
        line = lines.until("no server given")
    assert "(callers: sip:toshm@contoso.com, sip:lenea@contoso.com; control API" in line, line


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_admin_address_is_written_in_brackets(tmp_path: Path) -> None:
    """``--admin [::1]:0`` logged ``admin endpoint on http://::1:PORT``, not a URL one can
    open, and a second serve on that port said ``cannot listen on ::1:PORT``."""
    deploy = _deployment(tmp_path)
    with _running(tmp_path, str(deploy), "--admin", "[::1]:0") as lines:
        line = lines.until("admin endpoint on")
        url = line.rpartition("admin endpoint on ")[2].strip()
        assert url.startswith("http://[::1]:"), line
        with urllib.request.urlopen(f"{url}/healthz", timeout=WAIT) as answer:
            assert answer.read() == b"ok\n"
        port = url.rpartition(":")[2]
        done = _serve(tmp_path, str(deploy), "--admin", f"[::1]:{port}")
        assert done.returncode == 1, done.stderr
        taken = done.stderr.splitlines()[-1]
        assert taken.startswith(f"ucwa-flow: error: cannot listen on [::1]:{port} "), taken


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("::bad", "is not an http(s) URL"),
        ("https://[::1/", "is not a URL (Invalid IPv6 URL)"),  # was a traceback
        ("http://127.0.0.1:187500/", "is not a URL (Port out of range"),  # was retried for ever
    ],
)
def test_a_server_that_is_not_an_http_url_is_refused_before_anything_starts(
    tmp_path: Path, url: str, why: str
) -> None:
    deploy = _deployment(tmp_path)
    done = subprocess.run(
        [UCWA_FLOW, "serve", str(deploy), "--server", url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ENV,
        timeout=WAIT,
    )
    assert done.returncode == 2
    assert f"Invalid value for --server: server URL {url!r} {why}" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_postgres_store_is_waited_for_naming_the_url_as_written(
    tmp_path: Path,
) -> None:
    """One line per attempt (the admin endpoint off: nothing else tells), until SIGTERM."""
    deploy = _deployment(tmp_path)
    with socket.socket() as refusing:  # bound, never listening: every connection refused
        refusing.bind(("127.0.0.1", 0))
        url = f"postgresql://bot@127.0.0.1:{refusing.getsockname()[1]}/ucwa"
        deploy.write_text(f"store: {url}\n{DEPLOY}", "utf-8")
        line, status, seen = _serve_until(tmp_path, deploy, "trying again in 1 s")
    assert status == 0, seen
    opening = "cannot open the conversation store: the store"
    assert f"{opening} {url} cannot be reached (" in line
    assert "application_name" not in line
    assert line.count(url) == 1
    assert "Traceback" not in seen


def test_a_store_that_can_never_open_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    deploy = _deployment(tmp_path)
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    deploy.write_text("store: a-file/state\n" + DEPLOY, "utf-8")
    line = _one_line(_serve(tmp_path, str(deploy), "--server", "http://127.0.0.1:1/"), 1)
    store = tmp_path / "a-file" / "state" / "desk@contoso.com.sqlite3"
    opening = "ucwa-flow: error: cannot open the conversation store: the store"
    assert line.startswith(f"{opening} {store} cannot be opened (")


def test_with_json_logs_the_line_that_ends_the_process_is_json_too(tmp_path: Path) -> None:
    """It was the one plain-text line among JSON ones: a log pipeline dropped, or choked
    on, the line that says why the service did not start."""
    deploy = _deployment(tmp_path)
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    deploy.write_text("store: a-file/state\nlogging: {format: json}\n" + DEPLOY, "utf-8")
    done = _serve(tmp_path, str(deploy), "--server", "http://127.0.0.1:1/")
    assert done.returncode == 1, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    last = records[-1]
    assert (last["level"], last["logger"]) == ("error", "ucwa_flow.service")
    assert last["message"].startswith("cannot open the conversation store: the store ")

    flow = tmp_path / "desk.flow.yaml"
    flow.write_text(World.flow_text("desk").replace("goto: done", "goto: nowhere"), "utf-8")
    done = _serve(tmp_path, str(deploy), "--log-format", "json")
    assert done.returncode == 2, done.stderr
    messages = [json.loads(line)["message"] for line in done.stderr.splitlines()]
    assert messages[0].startswith(f"{flow}:")
    assert messages[-1].endswith(
        "its flows, or the vars it gives them, have errors; nothing was run"
    )


def test_the_start_line_says_where_the_conversations_are_kept(tmp_path: Path) -> None:
    """What an on-call engineer gives ``ucwa-flow transcripts``; it was not said."""
    deploy = _deployment(tmp_path)
    deploy.write_text("store: state\n" + DEPLOY, "utf-8")
    started, _, _ = _serve_until(tmp_path, deploy, "serving desk on ")
    assert started.rstrip().endswith(
        f"serving desk on http://127.0.0.1:1/, conversations kept in {tmp_path / 'state'} "
        "(a SQLite file per account, named after its user)"
    ), started

"""``ucwa-flow review``'s mistakes are one line and a non-zero status, never a traceback;
``run --review`` refuses a bad address before starting anything."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guards import WAIT
from tests.review.pages import HELPDESK, ROOT


def _review(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ucwa_flow", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_a_flow_file_that_does_not_exist(tmp_path: Path) -> None:
    done = _review("review", str(tmp_path / "none.flow.yaml"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("ucwa-flow: error: ")
    assert "Traceback" not in done.stderr


def test_a_store_folder_names_its_files_not_an_option_review_lacks(tmp_path: Path) -> None:
    (tmp_path / "desk@contoso.com.sqlite3").write_bytes(b"")
    done = _review("review", str(HELPDESK), "--store", str(tmp_path))
    assert done.returncode == 2
    assert f"{tmp_path} is a folder" in done.stderr
    assert "give one of its files (desk@contoso.com.sqlite3)" in done.stderr
    assert "--account" not in done.stderr
    assert "--state" not in done.stderr


def test_a_bad_listen_address() -> None:
    done = _review("review", str(HELPDESK), "--listen", "localhost")
    assert done.returncode == 2
    assert "--listen" in done.stderr
    assert "HOST:PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_address_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _review("review", str(HELPDESK), "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port} for the review" in lines[0]


@pytest.mark.parametrize(
    "url",
    ["localhost:8470", "http://127.0.0.1:99999", "http://[::1", "http://", "http://xn--ab.example"],
)
def test_attach_needs_an_http_url(url: str) -> None:
    # a port that cannot exist or a broken host used to stop the live feed silently
    done = _review("review", str(HELPDESK), "--attach", url)
    assert done.returncode == 2
    assert "--attach" in done.stderr
    assert "Traceback" not in done.stderr


def test_two_flows_of_one_name_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "copy.flow.yaml"
    copy.write_text(HELPDESK.read_text(encoding="utf-8"), encoding="utf-8")
    done = _review("review", str(HELPDESK), str(copy))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "are both flows named 'helpdesk'" in lines[0]


@pytest.mark.parametrize("name", ["https://review.example.com", "review.example.com:443", ""])
@pytest.mark.parametrize("command", [["review"], ["run", "--review", "127.0.0.1:0"]])
def test_allow_host_takes_a_host_name_only(name: str, command: list[str]) -> None:
    done = _review(command[0], str(HELPDESK), *command[1:], "--allow-host", name)
    assert done.returncode == 2
    assert "--allow-host" in done.stderr
    assert "is not a host name such as review.example.com" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_allow_host_needs_review() -> None:
    # without --review there is no review to allow a name to: a mistake, said at once
    done = _review("run", str(HELPDESK), "--allow-host", "review.example.com")
    assert done.returncode == 2
    assert "Error: --allow-host is for the review: give --review as well" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_review_refuses_a_bad_address() -> None:
    done = _review("run", str(HELPDESK), "--review", "nowhere")
    assert done.returncode == 2
    assert "--review" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_addresses_are_refused_before_the_review_app_is_imported() -> None:
    # a mistake on the command line is told at once; `run` without --review never loads it
    script = (
        "import sys\n"
        "from ucwa_flow.cli import main\n"
        "from ucwa_flow.cli._review_run import parse_review\n"
        "assert parse_review(None) is None\n"
        "for args in (['--listen', 'localhost'], ['--attach', 'http://']):\n"
        "    try:\n"
        f"        main(['review', {str(HELPDESK)!r}, *args])\n"
        "    except SystemExit as exc:\n"
        "        print(exc.code)\n"
        "print('ucwa_flow.review' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["2", "2", "False"], done.stdout


def test_a_token_without_attach_is_a_mistake() -> None:
    # it was taken and ignored: the review served no live feed and said nothing
    done = _review("review", str(HELPDESK), "--token", "secret", "--listen", "127.0.0.1:0")
    assert done.returncode == 2
    assert "Error: --token is for --attach: give --attach ADMIN_URL as well" in done.stderr
    assert "Traceback" not in done.stderr

"""A SIGTERM during the start of ``serve`` or ``run`` is the clean stop a later one is
(:mod:`ucwa_flow.cli._early_term`): before, one that came before the event loop's handler
killed the process (status 143, death by the signal)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guards import WAIT
from tests.lines import Lines
from tests.service.test_cli import ENV, ROOT, _deployment

AT = [sys.executable, "-m", "tests.service.sigterm_at"]


def _ended(folder: Path, point: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AT, point, *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=folder,
        env=ENV | {"PYTHONPATH": str(ROOT)},
        timeout=WAIT,
        check=False,
    )


@pytest.mark.parametrize("point", ["load", "loop"])
def test_serve_stops_cleanly_on_a_sigterm_during_its_start(tmp_path: Path, point: str) -> None:
    deploy = _deployment(tmp_path)
    done = _ended(tmp_path, point, "serve", str(deploy))
    assert done.returncode == 0, done.stderr
    assert "stopped before the start" in done.stderr
    assert "signed in" not in done.stderr  # nothing was started
    assert "Traceback" not in done.stderr


def test_run_stops_cleanly_on_a_sigterm_during_its_start(tmp_path: Path) -> None:
    _deployment(tmp_path)
    done = _ended(tmp_path, "load", "run", "desk.flow.yaml")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1:] == ["stopped."]
    assert "Traceback" not in done.stderr


def test_a_sigterm_once_serving_is_still_the_clean_stop(tmp_path: Path) -> None:
    deploy = _deployment(tmp_path)
    with subprocess.Popen(
        [sys.executable, "-m", "ucwa_flow", "serve", str(deploy)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env=ENV,
    ) as proc:
        try:
            lines = Lines(proc.stderr)
            lines.until("desk: signed in as sip:desk@contoso.com")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=WAIT)
            lines.until("stopped")
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, "".join(lines.seen)
    assert "stopped before the start" not in "".join(lines.seen)


@pytest.mark.parametrize("command", ["run", "serve"])
def test_main_called_from_python_gives_sigterm_back(tmp_path: Path, command: str) -> None:
    # the handler that notes an early SIGTERM stayed on after `main` returned: a program
    # that called it went on with its SIGTERMs swallowed
    from ucwa_flow.cli import main

    def mine(number: int, frame: object) -> None:
        pass

    before = signal.signal(signal.SIGTERM, mine)
    try:
        with pytest.raises(SystemExit):
            main([command, str(tmp_path / "missing.yaml")])
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, before)

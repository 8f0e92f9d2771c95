"""``ucwa-flow serve`` as a person runs it: a subprocess on the embedded simulator.

These need the deployment loader (part A, ``ucwa_flow.deploy.load_deployment``).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from pathlib import Path

import pytest

import ucwa_flow.deploy
from tests.e2e.test_cli import UCWA_FLOW
from tests.guards import WAIT
from tests.service.world import World

pytestmark = pytest.mark.skipif(
    not hasattr(ucwa_flow.deploy, "load_deployment"), reason="needs the deployment loader"
)

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


class Lines:
    """The lines of a stream, read on a thread; :meth:`until` waits for one."""

    def __init__(self, stream: object) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line)

    def until(self, text: str) -> str:
        while True:
            line = self._queue.get(timeout=WAIT)
            self.seen.append(line)
            if text in line:
                return line


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

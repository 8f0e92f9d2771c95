"""docs/deploy.md, "Trying a deployment on the simulator": its commands, run as written
(in a folder of the test's own, on free ports), serve ``deploy.example.yaml`` on
``ucwa-flow simulate``, and the helpdesk answers Lene."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli import ROOT
from tests.guards import WAIT
from tests.lines import Lines

SECTION = "## Trying a deployment on the simulator"


def _blocks() -> list[str]:
    page = (ROOT / "docs" / "deploy.md").read_text("utf-8")
    section = page.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)```", section, re.DOTALL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(script: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
        start_new_session=True,  # bash and the ucwa-flow it runs are stopped together
    )


def _stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as the page says
    try:
        return proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_section_has_the_three_steps() -> None:
    simulate, serve, talk = _blocks()
    assert "ucwa-flow simulate --users /tmp/try-deploy/users.yaml --port 8750" in simulate
    assert "ucwa-flow serve deploy.example.yaml --server http://127.0.0.1:8750/" in serve
    assert "curl" in talk


@pytest.mark.timeout(4 * WAIT)
@pytest.mark.skipif(shutil.which("bash") is None, reason="the commands are for a POSIX shell")
def test_the_example_deployment_serves_on_the_simulator_as_the_page_says(tmp_path: Path) -> None:
    sim_port, admin_port = _free_port(), _free_port()
    simulate, serve, talk = (
        block.replace("/tmp/try-deploy", str(tmp_path / "try")).replace("8750", str(sim_port))
        for block in _blocks()
    )
    serve = serve.rstrip() + f" --admin 127.0.0.1:{admin_port}\n"  # 8470 may be taken here
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("UCWA_")} | {"PATH": path}
    simulator = _start(simulate, env)
    server: subprocess.Popen[str] | None = None
    try:
        Lines(simulator.stdout).until("Control API:")
        server = _start(serve, env)
        lines = Lines(server.stdout)
        waiting = {
            f"signed in as sip:{u}@contoso.com" for u in ("helpdesk", "hr-bot", "service-desk-bot")
        }
        while waiting:  # the accounts sign in at once, in any order
            line = lines.until("signed in as")
            waiting = {w for w in waiting if w not in line}
        if shutil.which("curl") is not None:
            subprocess.run(["bash", "-c", talk], cwd=ROOT, env=env, timeout=WAIT, check=True)
        else:
            body = {"to": "sip:helpdesk@contoso.com", "message": "hello"}
            url = f"http://127.0.0.1:{sim_port}/_sim/users/lenea@contoso.com/conversations"
            httpx.post(url, json=body, timeout=WAIT).raise_for_status()
        messages = f"http://127.0.0.1:{sim_port}/_sim/users/lenea@contoso.com/messages"
        with httpx.Client(timeout=WAIT) as client:
            deadline = time.monotonic() + WAIT
            while not (texts := [m["text"] for m in client.get(messages).json()["messages"]]):
                assert time.monotonic() < deadline, "no answer from the helpdesk"
                time.sleep(0.05)
            assert texts[0] == "Hi Lene Aaling, I'm the Contoso IT helpdesk bot."
            token = {"Authorization": "Bearer try-me"}
            ready = client.get(f"http://127.0.0.1:{admin_port}/readyz", headers=token).json()
            assert ready["ready"], ready
        assert _stop(server) == 0, "".join(lines.seen)
        assert "Traceback" not in "".join(lines.seen)
    finally:
        if server is not None:
            _stop(server)
        assert _stop(simulator) == 0

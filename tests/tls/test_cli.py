"""``ucwa-flow simulate --tls`` and ``ucwa-flow run --ca-bundle`` as a person runs them.

Subprocesses: the simulator prints its CA; curl (or Python's ssl when curl is missing)
trusts it only when told; the echo bot signs in over HTTPS with ``--ca-bundle`` and
answers a virtual caller driven through the control API. Bad input ends with one line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import ROOT
from tests.guards import WAIT

UCWA_FLOW = str(Path(sys.executable).with_name("ucwa-flow"))
BOT = "sip:toshm@contoso.com"
CALLER = "lenea@contoso.com"


def _env(tls_home: Path) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("UCWA_FLOW_") and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    return keep | {"PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "UCWA_FLOW_TLS_DIR": str(tls_home)}


def ucwa_flow(tls_home: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [UCWA_FLOW, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(tls_home),
        timeout=timeout,
        check=False,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.rstrip("\n").splitlines()[-1] == expected, done.stderr


@dataclass
class Running:
    base: str  # https://localhost:PORT (the name the certificate covers, as in the README)
    ca: Path
    banner: list[str]


@pytest.fixture
def tls_simulator(tls_home: Path) -> Iterator[Running]:
    proc = subprocess.Popen(
        [UCWA_FLOW, "simulate", "--tls", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(tls_home),
    )
    assert proc.stdout is not None
    banner: list[str] = []
    while not banner or not banner[-1].startswith("Control API:"):
        line = proc.stdout.readline()
        assert line, f"simulate ended early: {proc.communicate(timeout=WAIT)}"
        banner.append(line.rstrip("\n"))
    url = banner[0].split(" at ", 1)[1].split()[0].rstrip("/")
    ca = next(line.split(": ", 1)[1] for line in banner if line.startswith("Local CA: "))
    try:
        yield Running(url.replace("127.0.0.1", "localhost"), Path(ca), banner)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert "Traceback" not in err


def test_simulate_tls_prints_its_ca_and_how_to_trust_it(
    tls_simulator: Running, tls_home: Path
) -> None:
    assert tls_simulator.base.startswith("https://localhost:")
    assert tls_simulator.ca == tls_home / "ca.pem"
    text = "\n".join(tls_simulator.banner)
    assert "lyncdiscover.contoso.com, lyncdiscoverinternal.contoso.com, lyncweb.contoso.com" in text
    ca = tls_simulator.ca
    for hint in (
        f"ucwa-flow run --ca-bundle {ca}",
        f"curl --cacert {ca}",
        f"export SSL_CERT_FILE={ca}",
        f"export REQUESTS_CA_BUNDLE={ca}",
        f"export NODE_EXTRA_CA_CERTS={ca}",
    ):
        assert hint in text


def _fetch(url: str, ca: Path | None) -> tuple[bool, str]:
    """GET ``url`` like ``curl [--cacert CA]``: (verified and answered, body or error)."""
    curl = shutil.which("curl")
    if curl is not None:
        args = [curl, "-sS", "--max-time", "10", url]
        if ca is not None:
            args[1:1] = ["--cacert", str(ca)]
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=WAIT)
        return done.returncode == 0, done.stdout if done.returncode == 0 else done.stderr
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    try:
        with urllib.request.urlopen(url, context=context, timeout=WAIT) as answer:
            return True, answer.read().decode()
    except urllib.error.URLError as exc:
        return False, str(exc.reason)


def test_curl_trusts_the_simulator_only_with_its_ca(tls_simulator: Running) -> None:
    ok, body = _fetch(tls_simulator.base + "/", tls_simulator.ca)
    assert ok, body
    links = json.loads(body)["_links"]
    assert links["user"]["href"].startswith(tls_simulator.base + "/Autodiscover/")

    ok, error = _fetch(tls_simulator.base + "/", None)
    assert not ok
    assert "certificate" in error.lower(), error


def test_run_chats_with_a_caller_of_the_tls_simulator(
    tls_simulator: Running, tls_home: Path
) -> None:
    bot = subprocess.Popen(
        [
            UCWA_FLOW,
            "run",
            "flows/echo.flow.yaml",
            "--server",
            tls_simulator.base + "/",
            "--user",
            BOT,
            "--password",
            "pass@word1",
            "--ca-bundle",
            str(tls_simulator.ca),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(tls_home),
    )
    try:
        assert bot.stderr is not None
        started = bot.stderr.readline()
        assert started.startswith(f"echo: serving as {BOT} on https://localhost:"), started
        trusted = ssl.create_default_context(cafile=str(tls_simulator.ca))
        with httpx.Client(base_url=tls_simulator.base + "/_sim/", verify=trusted) as control:
            made = control.post(f"users/{CALLER}/virtual", json={"auto_accept": True})
            assert made.status_code == 200, made.text
            started_chat = control.post(
                f"users/{CALLER}/conversations", json={"to": BOT, "message": "hello over TLS"}
            )
            assert started_chat.status_code == 201, started_chat.text
            texts = _wait_for_echo(control)
        assert texts[-1] == "You said: hello over TLS"
    finally:
        bot.send_signal(signal.SIGINT)
        out, err = bot.communicate(timeout=WAIT)
    assert "Traceback" not in err
    assert bot.returncode == 0, err
    assert "[c1] bot: You said: hello over TLS" in out


def _wait_for_echo(control: httpx.Client) -> list[str]:
    deadline = time.monotonic() + WAIT
    texts: list[str] = []
    while time.monotonic() < deadline:
        listed = control.get(f"users/{CALLER}/messages").json()["messages"]
        texts = [m["text"] for m in listed]
        if any(t.startswith("You said:") for t in texts):
            return texts
        time.sleep(0.05)
    raise AssertionError(f"no echo from the bot; the caller got {texts}")


def test_run_without_the_ca_is_refused_in_one_line(tls_simulator: Running, tls_home: Path) -> None:
    host = tls_simulator.base.removeprefix("https://")
    done = ucwa_flow(
        tls_home,
        "run",
        "flows/echo.flow.yaml",
        "--server",
        tls_simulator.base + "/",
        "--user",
        BOT,
        "--password",
        "pass@word1",
    )
    assert_one_line(
        done,
        f"ucwa-flow: error: the TLS certificate of {host} was rejected (unable to get local "
        "issuer certificate); if the server uses a private or corporate CA, trust that CA's "
        "certificate with --ca-bundle FILE (or UCWA_FLOW_CA_BUNDLE)",
    )
    assert len(done.stderr.splitlines()) == 1


def test_insecure_warns_loudly_on_start(tls_simulator: Running, tls_home: Path) -> None:
    done = ucwa_flow(
        tls_home,
        "run",
        "flows/echo.flow.yaml",
        "--server",
        tls_simulator.base + "/",
        "--user",
        BOT,
        "--password",
        "wrong",
        "--insecure",
    )
    lines = done.stderr.splitlines()
    assert lines[0].startswith("WARNING: --insecure: TLS certificates are NOT verified.")
    # verification was off: the TLS handshake passed and the password was what failed
    assert_one_line(
        done, "ucwa-flow: error: wrong user name or password for toshm@contoso.com at localhost"
    )


def test_a_missing_ca_bundle_is_one_line(tls_home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "corporate-ca.pem"
    done = ucwa_flow(
        tls_home,
        "run",
        "flows/echo.flow.yaml",
        "--server",
        "https://localhost:1/",
        "--user",
        BOT,
        "--password",
        "x",
        "--ca-bundle",
        str(missing),
    )
    assert_one_line(done, f"ucwa-flow: error: CA bundle {missing} does not exist")


@pytest.mark.parametrize(
    ("args", "expected", "status"),
    [
        (
            ["--host", "nowhere.invalid"],
            "ucwa-flow: error: cannot listen on nowhere.invalid: the host name does not resolve",
            1,
        ),
        (  # a missing file is a mistake in the command line: 2, as in every command
            ["--tls", "--cert", "missing.pem", "--key", "missing.key", "--port", "0"],
            "ucwa-flow: error: TLS certificate file missing.pem does not exist",
            2,
        ),
    ],
)
def test_simulate_bad_input_is_one_line(
    tls_home: Path, args: list[str], expected: str, status: int
) -> None:
    done = ucwa_flow(tls_home, "simulate", *args)
    assert done.returncode == status
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(expected), done.stderr


def _unprivileged() -> list[str]:
    """How to start a process that may not bind ports below 1024 (skips when impossible)."""
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    if start <= 443:
        pytest.skip(f"this machine lets anyone bind port 443 (ip_unprivileged_port_start={start})")
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv is missing: cannot drop CAP_NET_BIND_SERVICE")
    # root without CAP_NET_BIND_SERVICE is refused like an ordinary user
    return [setpriv, "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service"]


def test_a_port_that_needs_privileges_is_one_line(tls_home: Path) -> None:
    done = subprocess.run(
        [*_unprivileged(), UCWA_FLOW, "simulate", "--tls", "--port", "443"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(tls_home),
        timeout=WAIT,
        check=False,
    )
    assert_one_line(
        done,
        "ucwa-flow: error: cannot listen on 127.0.0.1:443: Permission denied (port 443 needs "
        "administrator rights: run as root, grant CAP_NET_BIND_SERVICE, or use a port above "
        "1023 such as 8443)",
    )

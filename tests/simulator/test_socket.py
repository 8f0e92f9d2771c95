"""Over a real loopback socket: long-poll, injected 503 and dropped answers, the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.guards import WAIT
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, ThreadedServer, serve


async def _app(client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, object]]:
    token = await client.post(
        "/WebTicket/oauthtoken",
        data={"grant_type": "password", "username": "toshm@contoso.com", "password": "pass@word1"},
    )
    auth = {"Authorization": "Bearer " + token.json()["access_token"]}
    r = await client.post(
        "/ucwa/oauth/v1/applications",
        headers=auth,
        json={"UserAgent": "t", "EndpointId": str(uuid.uuid4()), "Culture": "en-US"},
    )
    return auth, r.json()


async def test_long_poll_fault_and_drop_over_a_socket() -> None:
    clock = ManualClock()
    sim = Simulator(SimulatorConfig(pget_timeout_min=1), clock=clock)
    async with httpx.AsyncClient(timeout=WAIT) as client, serve(sim) as url:
        client.base_url = httpx.URL(url)
        auth, app = await _app(client)
        events = app["_links"]["events"]["href"]  # type: ignore[index]
        poll = asyncio.create_task(client.get(events + "&timeout=1", headers=auth))
        await asyncio.sleep(0.2)
        assert not poll.done()
        await clock.advance(1)
        body = (await poll).json()
        assert body["sender"] == []

        sim.faults.inject(method="GET", path="/people/contacts", status=503)
        contacts = app["_embedded"]["people"]["_links"]["myContacts"]["href"]  # type: ignore[index]
        assert (await client.get(contacts, headers=auth)).status_code == 503
        assert (await client.get(contacts, headers=auth)).status_code == 200

        mma = app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]  # type: ignore[index]
        sim.faults.inject(path="makeMeAvailable", drop=True)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.post(mma, headers=auth, json={"SupportedModalities": ["Messaging"]})
        again = await client.post(mma, headers=auth, json={"SupportedModalities": ["Messaging"]})
        assert again.status_code == 409  # the dropped request did its work

        held = asyncio.create_task(client.get(body["_links"]["next"]["href"], headers=auth))
        await asyncio.sleep(0.1)
    assert (await held).status_code == 200  # released at shutdown, not left hanging


def test_threaded_server_serves_synchronous_callers() -> None:
    with ThreadedServer(Simulator()) as url:
        r = httpx.get(url + "/", timeout=WAIT)
        assert r.status_code == 200
        assert r.json()["_links"]["user"]["href"].startswith(url)


def test_cli_simulate_serves_and_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ucwa_flow", "simulate", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "http://127.0.0.1:" in first
        url = first.split(" at ", 1)[1].split()[0].rstrip("/")
        lines = [proc.stdout.readline() for _ in range(4)]
        assert any("sip:lenea@contoso.com" in line and "pass@word1" in line for line in lines)
        assert httpx.get(url + "/", timeout=WAIT).status_code == 200
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_cli_port_in_use_is_one_line() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "ucwa_flow", "simulate", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

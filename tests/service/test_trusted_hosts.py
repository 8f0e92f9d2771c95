"""server.trusted_hosts reaches every account's sign-in (``ucwa/trust.py``).

The deployment's server (a front end on 127.0.0.2) redirects Autodiscover to the
simulator on 127.0.0.1: another host, outside contoso.com, trusted only when listed.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest

from tests.service.world import HELPDESK, advance_until, until, world
from tests.ucwa.fake_pool import FakePool
from ucwa_flow.deploy import ServerSpec
from ucwa_flow.simulator.server import serve_app

pytestmark = pytest.mark.asyncio

FRONT = "127.0.0.2"


@pytest.fixture(autouse=True)
def _front_host() -> None:
    with socket.socket() as probe:
        try:
            probe.bind((FRONT, 0))
        except OSError:
            pytest.skip(f"{FRONT} is not a loopback address here")


@pytest.mark.parametrize("listed", [True, False])
async def test_a_redirect_to_another_host_signs_in_only_when_it_is_listed(
    tmp_path: Path, listed: bool
) -> None:
    async with world(tmp_path) as w:
        front = FakePool(root={"_links": {"redirect": {"href": w.url + "/"}}})
        async with serve_app(front.app, FRONT) as front_url:
            trusted = ("127.0.0.1",) if listed else ()
            deployment = w.deployment(w.account("helpdesk", HELPDESK))
            deployment = replace(
                deployment, server=ServerSpec(front_url + "/", trusted_hosts=trusted)
            )
            service = await w.service(deployment)
            runner = service.runners["helpdesk"]
            if listed:
                await until(lambda: service.readiness().ready, "signed in")
            else:
                await advance_until(w.clock, lambda: runner.error is not None, "refused")
                assert runner.error is not None
                assert runner.error.startswith(
                    "127.0.0.1 is not a trusted sign-in server for helpdesk@contoso.com"
                )
                assert "--trust-host 127.0.0.1" in runner.error
                assert w.sim._tokens == {}  # the simulator never saw the password
        assert front.grants == []


async def test_a_webticket_host_that_is_no_valid_idna_is_one_error_line(tmp_path: Path) -> None:
    """serve: the runner's one line names the host (it was idna's InvalidCodepoint)."""
    async with world(tmp_path) as w:
        front = FakePool()
        front.token_href = "https://xn--ab.contoso.com/WebTicket/oauthtoken"
        async with serve_app(front.app, FRONT) as front_url:
            front.apps_host = front_url
            deployment = w.deployment(w.account("helpdesk", HELPDESK))
            deployment = replace(deployment, server=ServerSpec(front_url + "/"))
            service = await w.service(deployment)
            runner = service.runners["helpdesk"]
            await advance_until(w.clock, lambda: runner.error is not None, "refused")
            assert runner.error is not None
            assert runner.error.startswith(
                "xn--ab.contoso.com is not a valid host name, so not a trusted sign-in server"
            )
            assert "\n" not in runner.error
        assert front.grants == []

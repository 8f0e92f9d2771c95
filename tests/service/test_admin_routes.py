"""The admin endpoint over the real service: outbound starts and readiness over HTTP,
each refusal with its status and one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from tests.service.test_parts import SURVEY
from tests.service.world import HELPDESK, HR, LENE, until, world
from ucwa_flow.deploy import AdminSpec, FlowSpec, SecretSource, load_deployment

pytestmark = pytest.mark.asyncio


async def test_outbound_and_readiness_over_http(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        helpdesk = w.account("helpdesk", HELPDESK)
        survey = FlowSpec("survey", w.flow("survey", text=SURVEY))
        helpdesk = dataclasses.replace(helpdesk, flows=(*helpdesk.flows, survey))
        hr = w.account("hr", HR, password="not-the-password")
        token = tmp_path / "admin.token"
        token.write_text("admin-token-for-tests\n", encoding="utf-8")
        admin = AdminSpec(port=0, token=SecretSource(file=token))
        deployment = dataclasses.replace(w.deployment(helpdesk, hr), admin=admin)
        service = await w.service(deployment)
        assert service.admin_address is not None
        host, port = service.admin_address
        auth = {"Authorization": "Bearer admin-token-for-tests"}
        lene = await w.person(LENE, HELPDESK)
        await until(lambda: service.runners["helpdesk"].signed_in, "helpdesk signed in")
        # hr's sign-in fails on its own schedule: ask /readyz once it has
        await until(lambda: service.runners["hr"].error is not None, "hr's sign-in refused")
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", headers=auth) as http:

            async def outbound(account: str, flow: str) -> httpx.Response:
                body = {"flow": flow, "invitee": LENE}
                return await http.post(f"/accounts/{account}/outbound", json=body)

            ready = await http.get("/readyz")
            assert ready.status_code == 503
            down = {a["id"]: a for a in ready.json()["accounts"]}
            assert down["helpdesk"]["signed_in"]
            assert not down["hr"]["signed_in"]
            assert down["hr"]["error"]

            answer = await outbound("hr", "hr")
            assert answer.status_code == 503
            assert answer.json() == {
                "error": "hr is not signed in; try again once /readyz shows it signed in"
            }
            answer = await outbound("helpdesk", "helpdesk")
            assert answer.status_code == 400
            assert "no outbound section" in answer.json()["error"]
            assert (await outbound("helpdesk", "nps")).status_code == 404
            # an unknown account is 404 whatever the body (the body was checked first: 400)
            for body in ({}, {"flow": "survey", "invitee": LENE}):
                answer = await http.post("/accounts/nobody/outbound", json=body)
                assert answer.status_code == 404
                assert answer.json() == {"error": "no account 'nobody'"}
            answer = await http.post("/accounts/helpdesk/outbound", json={})
            assert answer.status_code == 400
            assert answer.json() == {"error": "flow must be a non-empty string"}

            assert (await outbound("helpdesk", "survey")).status_code == 202
            heard = await lene.hear(2)
            assert heard == ["survey: a minute for us?", "survey: a score from 1 to 5?"]


_DEPLOY = """\
admin:
  listen: 127.0.0.1:0
{allow}accounts:
  - id: helpdesk
    user: {user}
    password_env: HELPDESK_PASSWORD
    flow: helpdesk.flow.yaml
"""


async def test_the_name_a_reverse_proxy_forwards_is_taken_when_the_file_allows_it(
    tmp_path: Path,
) -> None:
    # behind a proxy as admin.example.com, an endpoint without a token answered only 403
    async with world(tmp_path) as w:
        account = w.account("helpdesk", HELPDESK)
        statuses = {}
        for allow in ("", "  allow_hosts: [Admin.Example.com, other.example.org]\n"):
            deploy = tmp_path / "deploy.yaml"
            deploy.write_text(_DEPLOY.format(allow=allow, user=HELPDESK), encoding="utf-8")
            loaded = load_deployment(deploy, environ={"HELPDESK_PASSWORD": "x"})
            deployment = dataclasses.replace(w.deployment(account), admin=loaded.admin)
            service = await w.service(deployment)
            assert service.admin_address is not None
            host, port = service.admin_address
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
                for name in ("admin.example.com", "rebind.attacker.example"):
                    response = await http.get("/metrics", headers={"Host": name})
                    statuses[bool(allow), name] = response.status_code
                    if response.status_code == 403:  # the refusal says how to allow it
                        hint = f"or list {name} in the deployment file's admin.allow_hosts"
                        assert hint in response.text, response.text
            await service.stop()
        assert loaded.admin.allow_hosts == ("admin.example.com", "other.example.org")
        assert statuses == {
            (False, "admin.example.com"): 403,
            (False, "rebind.attacker.example"): 403,
            (True, "admin.example.com"): 200,
            (True, "rebind.attacker.example"): 403,
        }


async def test_an_endpoint_open_to_the_network_without_a_token_is_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # documented as "bind it to loopback" and nothing said it: 0.0.0.0 without a token let
    # anyone on the network reload, start outbound conversations and read /live
    async with world(tmp_path) as w:
        deployment = w.deployment(w.account("helpdesk", HELPDESK))
        for host, warned in (("0.0.0.0", True), ("127.0.0.1", False), ("127.1", False)):
            caplog.clear()
            admin = AdminSpec(host=host, port=0)
            service = await w.service(dataclasses.replace(deployment, admin=admin))
            assert service.admin_address is not None
            lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
            found = [line for line in lines if "without a token" in line]
            assert bool(found) is warned, lines
            await service.stop()

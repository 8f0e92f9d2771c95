"""The admin endpoint over the real service: outbound starts and readiness over HTTP,
each refusal with its status and one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from tests.service.test_parts import SURVEY
from tests.service.world import HELPDESK, HR, LENE, until, world
from ucwa_flow.deploy import AdminSpec, FlowSpec, SecretSource

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

            assert (await outbound("helpdesk", "survey")).status_code == 202
            heard = await lene.hear(2)
            assert heard == ["survey: a minute for us?", "survey: a score from 1 to 5?"]

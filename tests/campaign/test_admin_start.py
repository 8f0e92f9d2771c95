"""A campaign started through serve's admin API: the run id in the answer, the people
invited one after another over the real service, the run traced under that id."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from tests.service.world import ADRIANA, HELPDESK, LENE, until, world
from ucwa_flow.deploy import AdminSpec, FlowSpec
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.campaigns import CampaignEvent
from ucwa_flow.service import store_target
from ucwa_flow.store import open_store

pytestmark = pytest.mark.asyncio

POLL = """\
version: 1
name: poll
start: ask
outbound:
  to: [sip:nobody-here@contoso.com]
  message: "poll: one question?"
  campaign:
    variables: {scores: []}
    report:
      url: http://127.0.0.1:9/report     # nothing listens: the failure branch runs
      timeout: 2s
      failure: [{log: "poll report not sent: {{ campaign.scores }}"}]
states:
  ask:
    enter: [{say: "poll: a score?"}]
    messages:
      - any: true
        do:
          - set: {campaign.scores: "{{ campaign.scores + [message] }}"}
          - say: "poll: thanks ({{ campaign.scores | length }} so far)"
          - stop
"""


async def test_the_admin_api_starts_a_campaign_run_with_its_people(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        helpdesk = w.account("helpdesk", HELPDESK)
        poll = FlowSpec("poll", w.flow("poll", text=POLL))
        helpdesk = dataclasses.replace(helpdesk, flows=(*helpdesk.flows, poll))
        deployment = dataclasses.replace(w.deployment(helpdesk), admin=AdminSpec(port=0))
        service = await w.service(deployment)
        assert service.admin_address is not None
        host, port = service.admin_address
        lene = await w.person(LENE, HELPDESK)
        adriana = await w.person(ADRIANA, HELPDESK)
        await until(lambda: service.runners["helpdesk"].signed_in, "helpdesk signed in")
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
            url = "/accounts/helpdesk/outbound"
            both = {"flow": "poll", "invitee": LENE, "invitees": [LENE]}
            assert (await http.post(url, json=both)).status_code == 400
            bad = await http.post(url, json={"flow": "poll", "invitees": [LENE, "adriana"]})
            assert bad.status_code == 400
            assert "not a SIP address" in bad.json()["error"]

            answer = await http.post(url, json={"flow": "poll", "invitees": [LENE, ADRIANA]})
            assert answer.status_code == 202
            body = answer.json()
            run = body["campaign"]
            assert body == {
                "account": "helpdesk",
                "flow": "poll",
                "invitees": [LENE, ADRIANA],
                "campaign": run,
            }
        assert await lene.hear(2) == ["poll: one question?", "poll: a score?"]
        await adriana.silence()  # one at a time: Adriana waits for Lene to be done
        await lene.say("4")
        assert await lene.hear() == ["poll: thanks (1 so far)"]
        assert await lene.hear_end() == "the bot ended the conversation"
        assert await adriana.hear(2) == ["poll: one question?", "poll: a score?"]
        await adriana.say("5")
        assert await adriana.hear() == ["poll: thanks (2 so far)"]
        traces = w.traces["helpdesk"]

        def finished() -> bool:
            return any(isinstance(r, CampaignEvent) and r.kind == "campaign_report" for r in traces)

        await until(finished, "the campaign report")

        def logged() -> list[str]:
            return [r.detail for r in traces if isinstance(r, t.ActionDone) and r.action == "log"]

        # the report's webhook went out once the step was committed (a durable bot), failed
        await until(logged, "the report's failure branch")
        assert logged() == ["poll report not sent: ['4', '5']"]
        events = [r for r in traces if isinstance(r, CampaignEvent)]
        assert {r.campaign for r in events} == {run}
        started = events[0]
        assert (started.kind, started.data["people"]) == ("campaign_started", [LENE, ADRIANA])
        joined = next(r for r in events if r.kind == "campaign_joined")
        # the transcripts in the store carry the run too: its own, and Lene's conversation's
        await service.stop()
        store = await open_store(store_target(str(tmp_path / "state"), HELPDESK))
        try:
            own = [e.kind for e in await store.transcript(HELPDESK, f"campaign:{run}")]
            hers = [e.kind for e in await store.transcript(HELPDESK, joined.conversation)]
        finally:
            await store.aclose()
        assert own[0] == "campaign_started"
        assert {"campaign_finished", "campaign_report", "outcome"} <= set(own)
        assert "campaign_joined" in hers

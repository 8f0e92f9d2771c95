"""The demo world of ``ucwa-flow run``: the ticket service over a real socket, the
simulated agent, and which webhook variables and invitees a flow gets simulated."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.guards import WAIT
from ucwa_flow.cli._demo import extra_users, plan
from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.simulator import Simulator, SimulatorConfig, VirtualUser, default_users
from ucwa_flow.simulator.demo import DemoAgent, TicketService
from ucwa_flow.simulator.server import serve_app

FLOW = """\
version: 1
name: desk
start: ask
variables:
  ticket_url: http://localhost:8751/api/tickets?source=chat
  crm_url: https://crm.contoso.com/api
  status_url: http://127.0.0.1:9000/status
  queue: sip:desk-queue@contoso.com
  backup: null
settings: {idle_timeout: 5m}
states:
  ask:
    messages:
      - any: true
        do:
          - webhook:
              url: "{{ ticket_url }}"
              method: POST
              json: {text: "{{ message }}"}
              success:
                - webhook: {url: "{{ crm_url }}/{{ message }}", success: [stop]}
          - webhook: {url: "{{ status_url }}", method: GET, success: [stop]}
          - if: "message == 'x'"
            then:
              - invite: {to: "{{ queue }}", accepted: [stop]}
            else:
              - invite: {to: "sip:lead@fabrikam.com", accepted: [stop]}
              - invite: {to: "{{ backup }}", accepted: [stop]}
              - invite: {to: "{{ caller.uri }}", accepted: [stop]}
"""


def load() -> Flow:
    result = load_flow_text(FLOW, "desk.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


def test_loopback_webhook_variables_and_every_invitee_are_simulated() -> None:
    found = plan(load(), set_by_user=set(), caller="sip:lenea@contoso.com", bot="sip:b@x.com")
    assert found.services == {
        "ticket_url": "http://localhost:8751/api/tickets?source=chat",
        "status_url": "http://127.0.0.1:9000/status",
    }  # not crm_url: a real service elsewhere is called as it is
    # not the null `backup`, nor the caller
    assert found.agents == ("sip:desk-queue@contoso.com", "sip:lead@fabrikam.com")


def test_variables_set_with_var_are_never_simulated() -> None:
    found = plan(
        load(), set_by_user={"ticket_url"}, caller="sip:lead@fabrikam.com", bot="sip:b@x.com"
    )
    assert found.services == {"status_url": "http://127.0.0.1:9000/status"}
    assert found.agents == ("sip:desk-queue@contoso.com",)  # the caller is not an agent


def test_unknown_addresses_become_users_once() -> None:
    known = default_users()
    added = extra_users(
        known, ["sip:lenea@contoso.com", "someone@fabrikam.com", "sip:Someone@fabrikam.com"]
    )
    assert [(user.uri, user.name) for user in added] == [("sip:someone@fabrikam.com", "Someone")]
    assert extra_users(known, ["sip:helpdesk-agents@contoso.com"])[0].name == "Helpdesk Agents"


async def test_the_ticket_service_opens_numbered_tickets_over_http() -> None:
    clock = ManualClock(start=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    service = TicketService(clock=clock)
    async with serve_app(service) as base, httpx.AsyncClient(base_url=base) as http:
        first = await http.post("/tickets", json={"caller": "sip:lenea@contoso.com"})
        second = await http.post("/tickets/", json={"employee_id": "E123456"})
        assert first.status_code == 201
        assert first.json() == {
            "caller": "sip:lenea@contoso.com",
            "id": "INC0001001",
            "number": "INC0001001",
            "status": "new",
            "created": "2026-03-02T09:30:00+00:00",
        }
        assert first.headers["location"] == "/tickets/INC0001001"
        assert second.json()["id"] == "INC0001002"
        one = await http.get("/tickets/INC0001002")
        assert one.json()["employee_id"] == "E123456"
        listed = await http.get("/tickets")
        assert [t["id"] for t in listed.json()["tickets"]] == ["INC0001001", "INC0001002"]
        assert (await http.get("/tickets/INC0009999")).status_code == 404
        assert (await http.post("/tickets", content=b"{not json")).status_code == 400
        assert (await http.delete("/tickets/INC0001001")).status_code == 405


GREETING = "Hi, I'm taking over from the bot. How can I help?"
AGENT = "sip:adrianag@contoso.com"


@contextlib.asynccontextmanager
async def _demo_agent(
    **options: Any,
) -> AsyncIterator[tuple[DemoAgent, list[str], VirtualUser]]:
    """A demo agent (answering at once) on a simulator; the lines it reports; Lene, who
    calls it."""
    sim = Simulator(SimulatorConfig(), clock=ManualClock())
    lines: list[str] = []
    agent = DemoAgent(sim.virtual_user(AGENT), report=lines.append, delay=0, **options)
    agent.start()
    try:
        yield agent, lines, sim.virtual_user("sip:lenea@contoso.com")
    finally:
        await agent.aclose()


@pytest.mark.parametrize("first", ["Lene needs help", None])
async def test_a_demo_agent_accepts_reads_the_invitation_and_says_hello(first: str | None) -> None:
    async with _demo_agent() as (_, lines, lene):
        await lene.start_conversation(AGENT, first)
        await lene.wait_for_state("connected", timeout=WAIT)
        said = await lene.wait_for_message(timeout=WAIT)
    assert said.text == GREETING + "\r\n"
    read = [f"* {AGENT} (simulated agent) read: {first}"] if first else []
    assert lines == [
        f"* {AGENT} (simulated agent) accepted the bot's invitation",
        *read,
        f"agent: {GREETING}",
    ]


async def test_a_demo_agent_can_decline() -> None:
    async with _demo_agent(answer="decline") as (_, lines, lene):
        await lene.start_conversation(AGENT, "hello")
        await lene.wait_for_state("failed", timeout=WAIT)
    assert lene.reasons[lene.describe()[0]["id"]].subcode == "Declined"
    assert lines == [f"* {AGENT} (simulated agent) declined the bot's invitation"]


HANDOFF_FLOW = """\
version: 1
name: desk
start: ask
variables: {queue: sip:desk-queue@contoso.com}
settings: {idle_timeout: 5m}
states:
  ask:
    messages:
      - any: true
        do:
          - handoff:
              to: ["{{ queue }}", "sip:lead@fabrikam.com", "{{ caller.uri }}"]
              done: {command: /back, goto: ask}
              no_answer: [stop]
              agent_left: [stop]
"""


def test_a_handoffs_agents_are_simulated_with_its_done_command() -> None:
    flow = load_flow_text(HANDOFF_FLOW, "desk.flow.yaml").raise_for_errors()
    found = plan(flow, set_by_user=set(), caller="sip:lenea@contoso.com", bot="sip:b@x.com")
    assert found.agents == ("sip:desk-queue@contoso.com", "sip:lead@fabrikam.com")
    assert found.done == {"sip:desk-queue@contoso.com": "/back", "sip:lead@fabrikam.com": "/back"}


CAMPAIGN_FLOW = """\
version: 1
name: survey
start: ask
variables: {report_url: http://127.0.0.1:8751/report, log_url: http://127.0.0.1:8751/log}
settings: {idle_timeout: 5m}
outbound:
  to: [sip:lenea@contoso.com]
  campaign:
    report:
      url: "{{ report_url }}"
      failure:
        - webhook: {url: "{{ log_url }}", failure: [{log: lost}]}
states:
  ask:
    messages:
      - any: true
        do: [stop]
"""


def test_a_campaigns_report_and_its_branches_reach_the_demo_service() -> None:
    flow = load_flow_text(CAMPAIGN_FLOW, "survey.flow.yaml").raise_for_errors()
    found = plan(flow, set_by_user=set(), caller="sip:lenea@contoso.com", bot="sip:b@x.com")
    assert found.services == {
        "report_url": "http://127.0.0.1:8751/report",
        "log_url": "http://127.0.0.1:8751/log",
    }


async def test_a_bridged_demo_agent_answers_once_then_types_its_done_command() -> None:
    async with _demo_agent(done="/back") as (agent, lines, lene):
        await lene.start_conversation(AGENT, "Lene needs help")
        await lene.wait_for_state("connected", timeout=WAIT)
        assert (await lene.wait_for_message(timeout=WAIT)).text == GREETING + "\r\n"
        lene.send("Lene Aaling: my screen is black")
        answer = await lene.wait_for_message(timeout=WAIT)
        done = await lene.wait_for_message(timeout=WAIT)
    assert (answer.text.strip(), done.text.strip()) == (agent.answer_text, "/back")
    assert lines[-2:] == [f"agent: {agent.answer_text}", "agent: /back"]

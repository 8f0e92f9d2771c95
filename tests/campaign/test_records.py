"""A campaign run is plain data: it goes through JSON and comes back the same; inviting
its people is a loop."""

from __future__ import annotations

import json
from collections import deque
from typing import Any, cast

from tests.campaign.conftest import FLOW
from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import load_flow_text
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.campaign_run import CampaignRun, Person
from ucwa_flow.runtime.campaigns import CampaignEvent
from ucwa_flow.runtime.engine import Engine


def test_a_run_round_trips_through_json() -> None:
    run = CampaignRun(
        "a1b2c3",
        "poll",
        2,
        deque(["sip:cy@contoso.com"]),
        {"yes": 1, "answers": ["sip:ann@contoso.com"]},
        [
            Person("sip:ann@contoso.com", "accepted", "/conv/1", "ask", "bot", True),
            Person("sip:bob@contoso.com", None),
        ],
    )
    again = CampaignRun.from_data(json.loads(json.dumps(run.to_data())))
    assert again == run
    assert (again.busy, again.finished) == (1, False)


def test_templates_see_a_copy_of_the_run() -> None:
    run = CampaignRun("r", "poll", 1, deque(), {"answers": []}, [Person("sip:ann@contoso.com")])
    view = run.view()
    view["answers"].append("x")
    assert run.variables == {"answers": []}
    assert (view["id"], view["size"], view["done"]) == ("r", 1, 0)
    assert view["people"] == [
        {"uri": "sip:ann@contoso.com", "outcome": None, "state": None, "ended_by": None}
    ]


async def test_a_run_whose_flow_lost_its_outbound_goes_through_everyone_in_a_loop() -> None:
    # the flow's current version has no outbound section any more: each person counts as
    # not answered at once, and the next is invited; 3000 people once overflowed the stack
    started = load_flow_text(FLOW.replace("AT_ONCE", "1"), "poll.flow.yaml").flow
    assert started is not None
    without = load_flow_text(
        "version: 1\nname: poll\nstart: ask\nstates:\n  ask:\n    enter: [{say: Hi.}]\n",
        "poll.flow.yaml",
    ).flow
    assert without is not None
    traces: list[t.Trace] = []
    engine = Engine(without, cast(Any, None), ManualClock(), traces.append)
    people = [f"sip:p{i}@contoso.com" for i in range(3000)]
    engine.campaigns.start("poll", started, people)
    done = [r for r in traces if isinstance(r, CampaignEvent) and r.kind == "campaign_person_done"]
    assert [r.data["uri"] for r in done] == people
    assert [r.data["outcome"] for r in done] == ["no_answer"] * len(people)
    assert not engine.campaigns.runs  # finished, with no report to send
    await engine.aclose()

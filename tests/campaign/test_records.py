"""A campaign run is plain data: it goes through JSON and comes back the same."""

from __future__ import annotations

import json

from ucwa_flow.runtime.campaigns import CampaignRun, Person


def test_a_run_round_trips_through_json() -> None:
    run = CampaignRun(
        "a1b2c3",
        "poll",
        2,
        ["sip:cy@contoso.com"],
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
    run = CampaignRun("r", "poll", 1, [], {"answers": []}, [Person("sip:ann@contoso.com")])
    view = run.view()
    view["answers"].append("x")
    assert run.variables == {"answers": []}
    assert (view["id"], view["size"], view["done"]) == ("r", 1, 0)
    assert view["people"] == [
        {"uri": "sip:ann@contoso.com", "outcome": None, "state": None, "ended_by": None}
    ]

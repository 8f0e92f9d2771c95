"""``ucwa-flow run FLOW --review ADDR``: the review served beside a bot on the embedded
simulator shows its live conversations: a conversation driven through the run's stdin
appears in the counts of the review's own event stream, in the list, with its path."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.guards import WAIT
from tests.review.pages import HELPDESK, Page
from tests.review.processes import Command, events, snapshot_where


def _states(snapshot: dict[str, object]) -> object:
    flows = snapshot["flows"]
    assert isinstance(flows, dict)
    return flows.get("helpdesk", {}).get("states", {})


async def test_live_counts_through_the_review_event_stream(tmp_path: Path) -> None:
    run = Command(
        ["run", str(HELPDESK), "--review", "127.0.0.1:0", "--agent-delay", "0"],
        tmp_path / "run.log",
        stdin=True,
    )
    try:
        url = await run.serving()
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            page = Page((await client.get("/flows/helpdesk")).text)
            assert {e.get("data-state") for e in page.select("text", "live-count")} == set(
                page.nodes
            )
            main = page.select("main")[0]
            assert main.get("data-live") == "1"
            async with client.stream("GET", "/flows/helpdesk/events") as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                stream = events(response)
                name, status = await anext(stream)
                assert (name, status) == ("status", {"state": "live"})
                run.say("hi")
                seen = await snapshot_where(
                    stream, lambda s: _states(s) == {"menu": 1}, "a conversation in menu"
                )
                run.say("1")
                seen = await snapshot_where(
                    stream,
                    lambda s: _states(s) == {"ask_employee_id": 1},
                    "the conversation in ask_employee_id",
                )
            assert seen["lifecycle"]["conversation"]["Connected"] == 1
            (listed,) = seen["conversations"]
            assert listed["flow"] == "helpdesk"
            assert listed["active"] is True
            detail = (await client.get(f"/flows/helpdesk/conversations/{listed['id']}")).json()
            entered = [(s["from"], s["state"]) for s in detail["steps"] if s["kind"] == "enter"]
            assert entered == [(None, "welcome"), ("welcome", "menu"), ("menu", "ask_employee_id")]
            assert ("in", "1") in [(s["kind"], s["text"]) for s in detail["steps"]]
            missing = await client.get("/flows/helpdesk/conversations/nothing")
            assert missing.status_code == 404
            assert (await client.get("/live")).json()["seq"] >= seen["seq"]
        run.stdin.close()
        assert await run.wait() == 0, run.output()
    finally:
        await run.close()

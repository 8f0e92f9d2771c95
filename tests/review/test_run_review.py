"""``ucwa-flow run FLOW --review ADDR``: the review served beside a bot on the embedded
simulator shows its live conversations: a conversation driven through the run's stdin
appears in the counts of the review's own event stream, in the list, with its path."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.e2e.serving import until
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


async def test_run_on_a_server_with_review_counts_its_callers(tmp_path: Path) -> None:
    """``run --server URL --review``: the bot of a (simulated) real server feeds the
    review too."""
    from tests.e2e.test_serve import FLOW, PASSWORD, _scene

    flow = tmp_path / "desk.flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    async with _scene(tmp_path, ["desk1"], {"c": 1}) as scene:
        run = Command(
            [
                "run",
                str(flow),
                "--server",
                scene.url,
                "--user",
                "sip:desk1@contoso.com",
                "--password",
                PASSWORD,
                "--state",
                str(tmp_path / "desk.sqlite3"),
                "--review",
                "127.0.0.1:0",
            ],
            tmp_path / "run.log",
        )
        try:
            url = await run.serving()
            await until(lambda: "serving as" in run.output(), "the bot signed in")
            async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
                async with client.stream("GET", "/live/events") as response:
                    stream = events(response)
                    (talker,) = scene.talkers("c", 1, "desk1")
                    assert await talker.say("ping 3", 2) == ["hello", "v1 pong 3"]
                    seen = await snapshot_where(
                        stream,
                        lambda s: s["flows"].get("desk", {}).get("states") == {"talk": 1},
                        "the caller in talk",
                    )
                assert seen["conversations"][0]["caller"] == "sip:c0000@contoso.com"
                page = Page((await client.get("/flows/desk")).text)
                assert set(page.nodes) == {"talk"}
        finally:
            await run.close()


async def test_run_review_lists_the_conversations_a_restart_carried_on(tmp_path: Path) -> None:
    """``run --state --review`` started again: the review listed none of the conversations
    the bot carried on from its store (nor counted them) until each one's next step."""
    from tests.e2e.test_serve import FLOW, PASSWORD, _scene

    flow = tmp_path / "desk.flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    async with _scene(tmp_path, ["desk1"], {"c": 1}) as scene:
        args = [
            "run",
            str(flow),
            "--server",
            scene.url,
            "--user",
            "sip:desk1@contoso.com",
            "--password",
            PASSWORD,
            "--state",
            str(tmp_path / "desk.sqlite3"),
            "--review",
            "127.0.0.1:0",
        ]
        first = Command(args, tmp_path / "first.log")
        try:
            await first.serving()
            await until(lambda: "serving as" in first.output(), "the bot signed in")
            (talker,) = scene.talkers("c", 1, "desk1")
            assert await talker.say("ping 3", 2) == ["hello", "v1 pong 3"]
            first.proc.send_signal(signal.SIGINT)
            assert await first.wait() == 0, first.output()
        finally:
            await first.close()
        second = Command(args, tmp_path / "second.log")
        try:
            url = await second.serving()
            await until(
                lambda: "1 conversation(s) carried on" in second.output(), "signed in again"
            )
            async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
                live = (await client.get("/live")).json()
            assert live["active"] == 1, live
            assert live["flows"] == {"desk": {"states": {"talk": 1}}}
            (listed,) = live["conversations"]
            assert (listed["caller"], listed["lifecycle"]) == ("sip:c0000@contoso.com", "Connected")
        finally:
            await second.close()

"""``ucwa-flow serve``'s live feed (issue 14): ``/live``, ``/live/events`` and
``/live/conversations/{id}`` on the admin endpoint, with callers on the simulator.

A conversation driven on the simulator appears in the live counts (its flow state and its
lifecycle states) and in the event stream; its detail shows the path it took; the token is
required on every live route; when it ends, it leaves the counts and stays in the list as
ended. Every wait is on a condition, bounded by ``WAIT``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.serving import ServeProcess, eventually
from tests.e2e.test_serve import _deploy, _process, _ready, _scene
from tests.guards import WAIT


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The snapshots of an SSE response, as they come (pings are skipped)."""
    event, data = None, []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data.append(line.partition(":")[2].strip())
        elif not line and data:
            assert event == "snapshot", event
            yield json.loads("\n".join(data))
            event, data = None, []


def _states(snapshot: dict[str, Any], flow: str = "desk") -> dict[str, int]:
    states: dict[str, int] = snapshot["flows"].get(flow, {}).get("states", {})
    return states


async def test_live_counts_events_and_path_of_a_conversation(tmp_path: Path) -> None:
    async with _scene(tmp_path, ["desk1", "desk2"], {"c": 2}) as scene:
        deploy = _deploy(tmp_path, ["desk1", "desk2"])
        proc = _process(scene, deploy)
        proc.start()
        try:
            await proc.listening()
            await _ready(proc, ["desk1", "desk2"])
            async with proc.admin() as admin:
                await _check_token(proc)
                first = (await admin.get("/live")).json()
                assert _states(first) == {}
                assert first["conversations"] == []
                assert first["lifecycle"]["conversation"]["Connected"] == 0

                one, two = scene.talkers("c", 2, "desk1")
                two.bot = "sip:desk2@contoso.com"
                async with admin.stream("GET", "/live/events") as stream:
                    assert stream.status_code == 200
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    events = _events(stream)
                    assert _states(await anext(events)) == {}
                    assert await one.say("ping 0", 2) == ["hello", "v1 pong 0"]
                    assert await two.say("ping 7", 2) == ["hello", "v1 pong 7"]
                    seen = await anext(events)
                    while _states(seen) != {"talk": 2}:
                        seen = await anext(events)
                    assert seen["lifecycle"]["conversation"]["Connected"] == 2
                    assert seen["lifecycle"]["messaging"]["Connected"] == 2

                listed = {c["account"]: c for c in seen["conversations"]}
                assert set(listed) == {"desk1", "desk2"}
                assert listed["desk1"]["caller"] == "sip:c0000@contoso.com"
                assert listed["desk1"]["flow"] == "desk"
                assert listed["desk1"]["state"] == "talk"
                assert listed["desk1"]["active"] is True

                detail = (await admin.get(f"/live/conversations/{listed['desk1']['id']}")).json()
                steps = detail["steps"]
                kinds = [(s["kind"], s["text"]) for s in steps if s["kind"] != "lifecycle"]
                assert kinds[:1] == [("action", "invitation: accept")]
                assert [s["state"] for s in detail["steps"] if s["kind"] == "enter"] == ["talk"]
                assert ("in", "ping 0") in kinds
                assert ("out", "v1 pong 0") in kinds
                missing = await admin.get("/live/conversations/nothing-like-it")
                assert missing.status_code == 404
                assert "error" in missing.json()

                assert await one.say("bye") == ["bye"]

                async def ended() -> bool:
                    body = (await admin.get("/live")).json()
                    gone = {c["account"]: c["active"] for c in body["conversations"]}
                    return _states(body) == {"talk": 1} and gone == {"desk1": False, "desk2": True}

                await eventually(ended, "the first conversation ended in /live", proc)
        finally:
            await proc.close()


async def _check_token(proc: ServeProcess) -> None:
    assert proc.url is not None
    async with httpx.AsyncClient(base_url=proc.url, timeout=WAIT) as anonymous:
        for path in ("/live", "/live/events", "/live/conversations/x"):
            answer = await anonymous.get(path)
            assert answer.status_code == 401, (path, answer.text)
            wrong = await anonymous.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401, path

"""``ucwa-flow review --attach``: the live feed of a real ``ucwa-flow serve``'s admin
endpoint, relayed by the review app (:class:`~ucwa_flow.review.RemoteLive`), and how it
reconnects when the endpoint goes away and comes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from tests.e2e.serving import eventually
from tests.e2e.test_serve import TOKEN, _deploy, _process, _ready, _scene
from tests.guards import WAIT
from tests.review.pages import Page
from tests.review.processes import Command, events, snapshot_where
from ucwa_flow.live import LiveBoard, live_routes
from ucwa_flow.review import RemoteLive, ReviewServer


def _talk(snapshot: dict[str, Any]) -> Any:
    return snapshot["flows"].get("desk", {}).get("states", {})


async def test_review_attached_to_serve_shows_its_conversations(tmp_path: Path) -> None:
    async with _scene(tmp_path, ["desk1"], {"c": 1}) as scene:
        deploy = _deploy(tmp_path, ["desk1"])
        proc = _process(scene, deploy)
        proc.start()
        review: Command | None = None
        try:
            admin_url = await proc.listening()
            await _ready(proc, ["desk1"])
            review = Command(
                [
                    "review",
                    str(tmp_path / "desk.flow.yaml"),
                    "--attach",
                    admin_url,
                    "--token",
                    TOKEN,
                    "--listen",
                    "127.0.0.1:0",
                ],
                tmp_path / "review.log",
            )
            url = await review.serving()
            async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
                page = Page((await client.get("/flows/desk")).text)
                assert page.select("main")[0].get("data-live") == "1"
                async with client.stream("GET", "/flows/desk/events") as response:
                    stream = events(response)
                    (talker,) = scene.talkers("c", 1, "desk1")
                    assert await talker.say("ping 1", 2) == ["hello", "v1 pong 1"]
                    seen = await snapshot_where(
                        stream, lambda s: _talk(s) == {"talk": 1}, "the conversation in talk"
                    )
                (listed,) = seen["conversations"]
                assert listed["caller"] == "sip:c0000@contoso.com"
                detail = (await client.get(f"/flows/desk/conversations/{listed['id']}")).json()
                assert ("in", "ping 1") in [(s["kind"], s["text"]) for s in detail["steps"]]
                assert (await client.get("/live")).json()["flows"]["desk"] == {
                    "states": {"talk": 1}
                }
        finally:
            if review is not None:
                await review.close()
            await proc.close()


async def test_a_wrong_token_says_so_in_the_status(tmp_path: Path) -> None:
    async with _scene(tmp_path, ["desk1"], {}) as scene:
        proc = _process(scene, _deploy(tmp_path, ["desk1"]))
        proc.start()
        remote: RemoteLive | None = None
        try:
            remote = RemoteLive(await proc.listening(), "not-the-token")
            await remote.start()

            async def refused() -> bool:
                assert remote is not None
                return "401" in str(remote.status().get("detail", ""))

            await eventually(refused, "the 401 in the status", proc)
            assert remote.status()["state"] == "reconnecting"
        finally:
            if remote is not None:
                await remote.aclose()
            await proc.close()


async def test_remote_live_reconnects_when_the_endpoint_comes_back() -> None:
    board = LiveBoard()
    first = ReviewServer(Starlette(routes=live_routes(board)), "127.0.0.1", 0)
    url = await first.start()
    port = int(url.rstrip("/").rpartition(":")[2])
    remote = RemoteLive(url)
    second: ReviewServer | None = None
    try:
        await remote.start()
        changes = remote.changes()

        async def status(state: str) -> None:
            async def holds() -> bool:
                return remote.status()["state"] == state

            await eventually(holds, f"the status {state}")

        await status("live")
        assert (await anext(changes))["seq"] == board.snapshot()["seq"]
        await first.stop()
        await status("reconnecting")
        assert "retrying" in remote.status()["detail"]
        assert remote.snapshot()["seq"] == board.snapshot()["seq"]  # the last one stays
        second = ReviewServer(Starlette(routes=live_routes(board)), "127.0.0.1", port)
        await second.start()
        await status("live")
    finally:
        await remote.aclose()
        if second is not None:
            await second.stop()
        await first.stop()


async def test_remote_live_passes_over_json_nested_too_deeply() -> None:
    """An answer nested past what ``json.loads`` reads is no admin endpoint's: ``None``,
    or a snapshot skipped, not a RecursionError (an event stream's ended the reader)."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    deep = "[" * 5000 + "]" * 5000
    good = {"seq": 7, "flows": {}}

    async def conversation(request: Request) -> Response:
        return Response(deep, media_type="application/json")

    async def stream(request: Request) -> Response:
        import json

        body = f"event: snapshot\ndata: {deep}\n\nevent: snapshot\ndata: {json.dumps(good)}\n\n"
        return Response(body, media_type="text/event-stream")

    routes = [Route("/live/conversations/{id}", conversation), Route("/live/events", stream)]
    server = ReviewServer(Starlette(routes=routes), "127.0.0.1", 0)
    remote = RemoteLive(await server.start())
    try:
        assert await remote.fetch_conversation("c1") is None
        await remote.start()

        async def streamed() -> bool:
            return remote.snapshot().get("seq") == 7

        await eventually(streamed, "the snapshot after the deep one")
    finally:
        await remote.aclose()
        await server.stop()

"""The /live routes over a LiveBoard, served by the admin server (uvicorn on loopback).

The board is filled by a real engine serving a conversation on the simulator; the routes
are then read over HTTP. A reader that goes away leaves nothing running: no task of its
stream, no waiter on the board.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.guards import WAIT
from tests.live.test_board import LENE, eventually, running
from tests.runtime.conftest import BOT, load
from ucwa_flow.admin import AdminServer, create_app
from ucwa_flow.live import LiveBoard, live_routes, sse_events
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.runtime import trace as t


@pytest.fixture
async def board() -> LiveBoard:
    """A board fed what a real engine traced while one helpdesk conversation reached the
    menu (the records up to the bot's stop, which would end it)."""
    records: list[t.Trace] = []
    seen = LiveBoard()

    def both(record: t.Trace) -> None:
        seen(record)
        records.append(record)

    async with running(load("helpdesk"), seen, both) as (sim, bot):
        lene = sim.virtual_user(LENE)
        await lene.start_conversation(BOT, "hello")
        await lene.wait_for_message(WAIT)
        await lene.wait_for_message(WAIT)
        await eventually(lambda: seen.snapshot()["flows"]["helpdesk"]["states"] == {"menu": 1})
        instances = dict(bot.engine.instances)
    board = LiveBoard()
    board.attach(instances.get)
    for record in records:
        if isinstance(record, t.Ended):
            break
        board(record)
    return board


async def _lines(response: httpx.Response) -> AsyncIterator[str]:
    async for line in response.aiter_lines():
        yield line


async def _serve(app: Starlette) -> tuple[AdminServer, str]:
    server = AdminServer(app, "127.0.0.1", 0)
    host, port = await server.start()
    return server, f"http://{host}:{port}"


async def test_live_snapshot_and_conversation_over_http(board: LiveBoard) -> None:
    server, url = await _serve(create_app(_NoTarget(), Metrics(), "tok", live=board))
    try:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            assert (await client.get("/live")).status_code == 401
            auth = {"Authorization": "Bearer tok"}
            snapshot = (await client.get("/live", headers=auth)).json()
            assert snapshot["flows"] == {"helpdesk": {"states": {"menu": 1}}}
            [listed] = snapshot["conversations"]
            detail = await client.get(f"/live/conversations/{listed['id']}", headers=auth)
            assert detail.status_code == 200
            assert [s["state"] for s in detail.json()["steps"] if s["kind"] == "enter"] == [
                "welcome",
                "menu",
            ]
            assert (await client.get("/live/conversations/x", headers=auth)).status_code == 404
    finally:
        await server.stop()


async def test_event_stream_pings_follows_changes_and_a_reader_leaving_leaves_nothing(
    board: LiveBoard,
) -> None:
    server, url = await _serve(Starlette(routes=live_routes(board, ping_every=0.05)))
    try:
        before = asyncio.all_tasks()
        async with (
            httpx.AsyncClient(base_url=url, timeout=WAIT) as client,
            client.stream("GET", "/live/events") as stream,
        ):
            lines = _lines(stream)
            assert await anext(lines) == "event: snapshot"
            first: dict[str, Any] = json.loads((await anext(lines)).removeprefix("data: "))
            assert first["flows"]["helpdesk"]["states"] == {"menu": 1}
            assert await anext(lines) == ""
            assert await anext(lines) == ": ping"  # nothing changed meanwhile
            href = first["conversations"][0]["href"]
            board(t.StateEntered(at=0.0, conversation=href, state="password", previous="menu"))
            line = await anext(lines)
            while not line.startswith("data: "):
                line = await anext(lines)
            changed = json.loads(line.removeprefix("data: "))
            assert changed["flows"]["helpdesk"]["states"] == {"password": 1}
            assert changed["seq"] > first["seq"]
            await eventually(lambda: board.waiting == 1)
        # the reader is gone: its stream and its wait for the next change end with it
        await eventually(lambda: board.waiting == 0)
        await eventually(
            lambda: not [task for task in asyncio.all_tasks() - before if not task.done()]
        )
    finally:
        await server.stop()


class _NoTarget:
    """An admin target for an app whose tests use only /live."""

    def readiness(self) -> Any:
        raise AssertionError("not asked")

    async def reload(self) -> Any:
        raise AssertionError("not asked")

    def has_account(self, account: str) -> bool:
        raise AssertionError("not asked")

    async def start_outbound(self, account: str, flow: str, invitee: str) -> None:
        raise AssertionError("not asked")


async def test_the_admin_server_stopping_ends_open_event_streams_cleanly(board: LiveBoard) -> None:
    server, url = await _serve(create_app(_NoTarget(), Metrics(), None, live=board))
    async with (
        httpx.AsyncClient(base_url=url, timeout=WAIT) as client,
        client.stream("GET", "/live/events") as stream,
    ):
        lines = _lines(stream)
        assert await anext(lines) == "event: snapshot"
        await server.stop()
        rest = [line async for line in lines]  # the response ends: no broken chunk
        assert rest[0].startswith("data: ")
    assert board.waiting == 0


class _Failing:
    """A live source whose changes fail after the first (a remote one losing its server)."""

    def snapshot(self) -> dict[str, Any]:
        return {"seq": 1}

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        return None

    async def changes(self) -> AsyncIterator[dict[str, Any]]:
        yield {"seq": 1}
        raise OSError("connection reset")


async def test_an_event_stream_ends_quietly_when_its_source_fails(caplog) -> None:
    events = [event async for event in sse_events(_Failing(), 60.0)]
    assert events == ['event: snapshot\ndata: {"seq":1}\n\n']
    assert "the event stream ends: connection reset" in caplog.text

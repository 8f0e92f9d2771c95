"""The review's small parts on their own: the SSE reader, the relay's status events,
what is drawn of a flow that does not load, a stored transcript as a replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ucwa_flow.flow._loader import read_document
from ucwa_flow.graph import START, Node, NodeKind
from ucwa_flow.review import skeleton_graph, stored_detail
from ucwa_flow.review._events import event_stream
from ucwa_flow.review._sse import Event, read_events
from ucwa_flow.store import ConversationRecord, TranscriptEntry


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def test_the_sse_reader_joins_data_and_skips_comments() -> None:
    stream = _lines(
        ": ping", "", "event: snapshot", 'data: {"a":', "data: 1}", "", "data: x", "id: 3", ""
    )
    events = [event async for event in read_events(stream)]
    assert events == [Event("snapshot", '{"a":\n1}'), Event("message", "x")]


class _Source:
    """A live source whose status changes between two snapshots."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"state": "reconnecting", "detail": "down"}
        self.go = asyncio.Event()

    def snapshot(self) -> dict[str, Any]:
        return {"seq": 1}

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        return None

    def status(self) -> dict[str, Any]:
        return self.state

    async def changes(self) -> AsyncIterator[dict[str, Any]]:
        yield {"seq": 1}
        await self.go.wait()
        self.state = {"state": "live"}
        yield {"seq": 2}


async def test_the_relay_sends_the_status_then_each_snapshot() -> None:
    source = _Source()
    stream = event_stream(source, ping_every=30.0)  # type: ignore[arg-type]
    assert (
        await anext(stream)
        == 'event: status\ndata: {"state": "reconnecting", "detail": "down"}\n\n'
    )
    assert await anext(stream) == 'event: snapshot\ndata: {"seq": 1}\n\n'
    source.go.set()
    assert await anext(stream) == 'event: status\ndata: {"state": "live"}\n\n'
    assert await anext(stream) == 'event: snapshot\ndata: {"seq": 2}\n\n'
    await stream.aclose()


async def test_a_quiet_relay_pings() -> None:
    source = _Source()
    stream = event_stream(source, ping_every=0.01)  # type: ignore[arg-type]
    await anext(stream)
    await anext(stream)
    assert await anext(stream) == ": ping\n\n"
    await stream.aclose()


def test_what_is_drawn_of_a_flow_that_does_not_load() -> None:
    text = (
        "name: half\nstart: a\nstates:\n  a:\n    messages:\n      - any: true\n"
        "        goto: b\n      - any: true\n        goto: missing\n  b:\n    wrong: 1\n"
    )
    document, problems = read_document(text, "half.flow.yaml")
    assert document is not None
    assert not problems
    graph = skeleton_graph(document, "half")
    a, b = Node(NodeKind.STATE, "a"), Node(NodeKind.STATE, "b")
    assert graph.states == (a, b)
    assert {(e.source, e.target) for e in graph.edges} == {(START, a), (a, b)}
    assert graph.lines[a] == 4
    assert graph.lines[b] == 10
    (goto,) = [e for e in graph.edges if e.source == a]
    assert graph.lines[goto] == 7


def test_a_stored_transcript_becomes_the_live_detail_shape() -> None:
    record = ConversationRecord(
        account="sip:bot@contoso.com",
        conversation="/ucwa/conversations/abc",
        flow="helpdesk",
        flow_version="sha256:0123",
        state="menu",
        created_at=1_800_000_000.0,
        updated_at=1_800_000_060.0,
        caller_uri="sip:lenea@contoso.com",
        status="ended",
        ended_reason="ended by the caller",
        secrets=frozenset({"pin"}),
    )

    def entry(kind: str, data: Any) -> TranscriptEntry:
        return TranscriptEntry(record.account, record.conversation, 1_800_000_001.5, kind, data)

    detail = stored_detail(
        record,
        [
            entry("state", {"state": "welcome", "previous": None}),
            entry("message_in", {"text": "hi"}),
            entry("state", {"state": "menu", "previous": "welcome"}),
            entry("message_out", {"text": "Menu:", "html": None}),
            entry("variable", {"name": "pin", "value": "1234"}),
            entry("timeout", {"state": "menu", "after": 120.0}),
            entry("ended", {"reason": "ended by the caller", "state": "menu"}),
        ],
    )
    assert detail["id"] == "abc"
    assert detail["active"] is False
    assert detail["caller"] == "sip:lenea@contoso.com"
    assert [(s["kind"], s["state"], s["from"], s["text"]) for s in detail["steps"]] == [
        ("enter", "welcome", None, None),
        ("in", "welcome", None, "hi"),
        ("enter", "menu", "welcome", None),
        ("out", "menu", None, "Menu:"),
        ("action", "menu", None, "set pin"),  # as the live feed shows a set (no value)
        ("timeout", "menu", None, "after 120.0s"),
        ("ended", "menu", None, "ended by the caller"),
    ]
    assert detail["steps"][0]["at"] == "2027-01-15T08:00:01.500Z"
    assert "1234" not in str(detail)


async def test_stopping_the_server_ends_open_event_streams(caplog: Any) -> None:
    import logging

    import httpx

    from tests.guards import WAIT
    from tests.review.pages import HELPDESK
    from ucwa_flow.live import LiveBoard
    from ucwa_flow.review import FlowShelf, ReviewServer, create_app

    app = create_app(FlowShelf.load([HELPDESK]), live=LiveBoard())
    server = ReviewServer(app, "127.0.0.1", 0)
    url = await server.start()
    caplog.set_level(logging.ERROR)
    async with (
        httpx.AsyncClient(base_url=url, timeout=WAIT) as client,
        client.stream("GET", "/live/events") as response,
    ):
        lines = response.aiter_lines()
        assert await anext(lines) == "event: status"
        await server.stop()
        rest = [line async for line in lines]  # the stream ends (no error)
    assert all(not line.startswith("event: ") or line == "event: snapshot" for line in rest)
    assert not [r for r in caplog.records if "ASGI" in r.getMessage()]


async def test_the_live_routes_of_a_flow_not_in_the_review_are_404() -> None:
    """``/flows/{name}/events`` and ``.../conversations/{id}`` of a flow the review does not
    show answered as if it did (a stream of every flow's snapshots), where ``/flows/{name}``
    is a 404."""
    import httpx

    from tests.guards import WAIT
    from tests.review.pages import HELPDESK
    from ucwa_flow.live import LiveBoard
    from ucwa_flow.review import FlowShelf, ReviewServer, create_app

    app = create_app(FlowShelf.load([HELPDESK]), live=LiveBoard())
    server = ReviewServer(app, "127.0.0.1", 0)
    url = await server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            for path in ("/flows/nope/events", "/flows/nope/conversations/c1"):
                async with client.stream("GET", path) as response:
                    assert response.status_code == 404, path
                    body = await response.aread()
                    assert b"no flow called 'nope' in this review" in body, body
            async with client.stream("GET", "/flows/helpdesk/events") as response:
                assert response.status_code == 200
    finally:
        await server.stop()


def test_the_snapshot_before_the_feed_answers_has_the_live_boards_keys() -> None:
    """``/live`` of a review attached to a serve that has not answered yet had no
    ``active`` count, which every other snapshot has."""
    from ucwa_flow.live import LiveBoard
    from ucwa_flow.review._remote import empty_snapshot

    assert empty_snapshot().keys() == LiveBoard().snapshot().keys()
    assert empty_snapshot()["active"] == 0

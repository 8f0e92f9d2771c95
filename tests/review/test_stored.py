"""``ucwa-flow review --store``: finished conversations a real run kept in a real SQLite
store, listed and replayed in the same view as live ones."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import httpx

from tests.guards import WAIT
from tests.review.pages import HELPDESK, Page
from tests.review.processes import Command
from ucwa_flow.review._stored import stored_detail
from ucwa_flow.store import ConversationRecord, TranscriptEntry


async def _chat(tmp_path: Path, store: Path, lines: list[str], *more: str) -> None:
    args = ["run", str(HELPDESK), "--state", str(store), *more]
    run = Command(args, tmp_path / "run.log", stdin=True)
    try:
        for line in lines:
            run.say(line)
        run.stdin.close()
        assert await run.wait() == 0, run.output()
    finally:
        await run.close()


async def test_a_stored_conversation_is_replayed_on_its_flow(tmp_path: Path) -> None:
    store = tmp_path / "bot.sqlite3"
    said_by_caller = "my printer </script><b>jams</b> all the time"
    await _chat(tmp_path, store, ["hi", "2", said_by_caller, "stop"])
    review = Command(
        ["review", str(HELPDESK), "--store", str(store), "--listen", "127.0.0.1:0"],
        tmp_path / "review.log",
    )
    try:
        url = await review.serving()
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            rows = (await client.get("/transcripts")).json()
            assert len(rows) == 1
            (row,) = rows
            assert row["flow"] == "helpdesk"
            assert row["caller"] == "sip:lenea@contoso.com"
            assert row["reason"] == "bot (stop)"  # said only "bot", as for a shutdown
            index = (await client.get("/")).text
            assert f'href="/transcripts/{row["id"]}"' in index
            response = await client.get(f"/transcripts/{row['id']}")
            assert response.status_code == 200
            page = Page(response.text)
            assert set(page.nodes) >= {"welcome", "menu", "describe"}
            assert page.by_id("transcript") is not None
            assert page.by_id("step-play") is not None
            assert "<b>jams" not in response.text
            data = re.search(
                r'<script type="application/json" id="replay-data">(.*?)</script>',
                response.text,
                re.S,
            )
            assert data is not None
            replay = json.loads(data.group(1))
            assert (await client.get("/transcripts/not-a-conversation")).status_code == 404
    finally:
        await review.close()
    assert replay["id"] == row["id"]
    assert replay["active"] is False
    steps = replay["steps"]
    entered = [(s["from"], s["state"]) for s in steps if s["kind"] == "enter"]
    assert entered[:3] == [(None, "welcome"), ("welcome", "menu"), ("menu", "describe")]
    said = [(s["kind"], s["text"]) for s in steps if s["kind"] in ("in", "out")]
    assert ("in", said_by_caller) in said  # in the page as data, never as markup
    assert any(kind == "out" for kind, _ in said)
    assert (steps[-1]["kind"], steps[-1]["text"]) == ("ended", "ended by the bot (stop)")
    for step in steps:
        assert set(step) >= {"at", "kind", "state", "from", "text"}


async def test_an_invitation_turned_away_is_listed_and_replayed_as_its_decline(
    tmp_path: Path,
) -> None:
    store = tmp_path / "bot.sqlite3"
    # the helpdesk serves Contoso staff only: its default declines, with its message
    await _chat(tmp_path, store, ["hello"], "--caller", "sip:someone@fabrikam.com")
    review = Command(
        ["review", str(HELPDESK), "--store", str(store), "--listen", "127.0.0.1:0"],
        tmp_path / "review.log",
    )
    try:
        url = await review.serving()
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            (row,) = (await client.get("/transcripts")).json()
            assert (row["caller"], row["reason"], row["declined"]) == (
                "sip:someone@fabrikam.com",
                "declined",
                True,
            )
            index = (await client.get("/")).text
            assert f'href="/transcripts/{row["id"]}"' in index
            assert '<span class="flow">helpdesk</span> turned away: declined</li>' in index
            response = await client.get(f"/transcripts/{row['id']}")
            assert response.status_code == 200
            data = re.search(
                r'<script type="application/json" id="replay-data">(.*?)</script>',
                response.text,
                re.S,
            )
            assert data is not None
    finally:
        await review.close()
    steps = [(s["kind"], s["text"]) for s in json.loads(data.group(1))["steps"]]
    assert steps == [
        ("out", "Sorry, this helpdesk only serves Contoso staff."),
        ("ended", "declined"),
    ]


async def test_a_store_file_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    review = Command(
        ["review", str(HELPDESK), "--store", str(tmp_path / "none.sqlite3")],
        tmp_path / "review.log",
    )
    try:
        assert await review.wait() == 2
    finally:
        await review.close()
    lines = review.output().strip().splitlines()
    assert lines == [f"ucwa-flow: error: {tmp_path / 'none.sqlite3'}: no such store file"]


def test_a_decline_in_a_conversation_that_went_on_is_a_step_not_its_end() -> None:
    # the bot follows a conversation; an invitation into it again is turned away (busy,
    # left ringing) and the conversation goes on: the replay shows the decline as an
    # action, not an end in the middle (a record of an invitation turned away still ends)
    href = "/ucwa/oauth/v1/applications/1/communication/conversations/c1"
    record = ConversationRecord(
        account="sip:bot@contoso.com",
        conversation=href,
        flow="echo",
        flow_version="d",
        state="echo",
        created_at=1000.0,
        updated_at=1003.0,
    )
    busy = {"decision": "busy", "by": "limits", "flow": "echo", "answer": "ringing"}

    def entry(at: float, kind: str, data: dict[str, object]) -> TranscriptEntry:
        return TranscriptEntry(record.account, href, at, kind, data)

    entries = [
        entry(1000.0, "state", {"state": "echo", "previous": None}),
        entry(1001.0, "message_in", {"text": "hi"}),
        entry(1002.0, "declined", busy),
        entry(1003.0, "message_in", {"text": "after"}),
    ]
    for status in ("active", "ended"):
        followed = dataclasses.replace(record, status=status)
        steps = [(s["kind"], s["text"]) for s in stored_detail(followed, entries)["steps"]]
        assert steps == [
            ("enter", None),
            ("in", "hi"),
            ("action", "invitation turned away: left ringing: busy"),
            ("in", "after"),
        ]
    turned_away = dataclasses.replace(
        record, state="", status="ended", ended_reason="busy", extra={"declined": busy}
    )
    steps = [(s["kind"], s["text"]) for s in stored_detail(turned_away, entries[2:3])["steps"]]
    assert steps == [("ended", "left ringing: busy")]
    # a farewell that could not be sent leaves an error line after the decline: the record
    # still ends at its decline (it had no end at all)
    failed = entry(1002.5, "error", {"message": "the farewell was not sent", "location": None})
    steps = [
        (s["kind"], s["text"]) for s in stored_detail(turned_away, [entries[2], failed])["steps"]
    ]
    assert steps == [
        ("ended", "left ringing: busy"),
        ("action", "error: the farewell was not sent"),
    ]

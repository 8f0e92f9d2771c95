"""A durable bot keeps every invitation it turns away, and ``transcripts`` shows it.

A decline by the flow's invitation policy (a rule, with its message; the default, with
its own) and a decline for lack of room (the busy message, no message at all, or left
ringing) each leave an ended conversation in the store in which no flow ran: who, when,
which flow and rule (or ``busy``), the farewell said. ``transcripts list``/``show``/
``export`` present it, the review app lists it, retention prunes it; there is one for each
``decline`` or ``busy`` of the invitation metric. Before, such an invitation left nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import BOT, Stage, load, stage, webhook_server
from tests.guards import WAIT
from tests.runtime.conftest import load as load_echo
from tests.runtime.flows_for_routing import desk
from tests.runtime.test_engine_lost import FIXTURES, RecordingPort
from tests.store.conftest import Target, postgres_target
from ucwa_flow.cli import main
from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import load_flow_text
from ucwa_flow.review._stored import StoredConversations
from ucwa_flow.runtime import Engine, Limits
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.durable import Durable
from ucwa_flow.simulator import SimulatorUser, default_users
from ucwa_flow.store import ConversationQuery, Store
from ucwa_flow.ucwa.events import decode_batch

SATURDAY_11H_PARIS = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
WEEKEND = "The service desk is closed at weekends. We're back Monday at 8:00 (Paris time)."
STAFF_ONLY = "Sorry, this service is only for Contoso staff."
BUSY = "All our lines are busy, sorry: try again in a minute."
ECHO_ACCOUNT = "sip:toshm@contoso.com"  # the msdocs samples' bot and application
ECHO_APP = "/ucwa/oauth/v1/applications/104"
CALLERS = [SimulatorUser(f"sip:caller{i}@contoso.com", f"Caller {i}") for i in range(2)]


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target("sqlite", path=tmp_path / "bot.sqlite3")
    else:
        yield from postgres_target()


@pytest.fixture
async def store(target: Target) -> AsyncIterator[Store]:
    opened = await target.open()
    try:
        yield opened
    finally:
        await opened.aclose()


def where(target: Target) -> list[str]:
    """``transcripts`` options that name ``target``."""
    if target.backend == "sqlite":
        return ["--state", str(target.path)]
    return ["--store", f"{target.url}&options=-csearch_path%3D{target.schema}"]


async def transcripts(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """``ucwa-flow transcripts ARGS``'s stdout (exit status 0), run as the console script
    runs it (on a thread: it runs an event loop of its own)."""

    def run() -> int:
        try:
            main(["transcripts", *args])
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    code = await asyncio.to_thread(run)
    out, err = capsys.readouterr()
    assert (code, "Traceback" in err) == (0, False), err
    return out


def turned_away(s: Stage) -> list[t.InvitationDecided]:
    """What the invitation metric counts as turned away (``decline`` and ``busy``)."""
    return [d for d in s.of(t.InvitationDecided) if d.decision != "accept"]


async def test_declines_by_the_invitation_policy_are_kept_and_shown(
    target: Target,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    with webhook_server() as hooks:
        flow = load("after-hours", callback_url=f"{hooks.url}/callbacks")
        async with stage(flow, start=SATURDAY_11H_PARIS, store=store) as s:
            lene = await s.person()  # staff, at the weekend: the weekend rule
            await lene.say("anyone there?")
            assert await lene.hear() == [WEEKEND]
            await lene.hear_end()
            guest = await s.person("sip:guest@fabrikam.com")  # no rule: the default
            await guest.say("hello")
            assert await guest.hear() == [STAFF_ONLY]
            await guest.hear_end()
            await s.idle()
            decided = turned_away(s)
            assert [d.decision for d in decided] == ["decline", "decline"]
    records = await store.conversations(ConversationQuery())
    assert len(records) == len(decided)  # one for each the metric counts, no more
    by_caller = {r.caller_uri: r for r in records}
    weekend, default = by_caller["sip:lenea@contoso.com"], by_caller["sip:guest@fabrikam.com"]
    assert (weekend.status, weekend.ended_reason, weekend.state) == ("ended", "declined", "")
    assert (weekend.flow, weekend.flow_version) == ("after-hours", flow.digest)
    assert weekend.caller_name == "Lene Aaling"
    assert weekend.created_at == pytest.approx(SATURDAY_11H_PARIS.timestamp(), abs=60)
    lines = await store.transcript(BOT, weekend.conversation)
    assert [(line.kind, line.data["by"], line.data["farewell"]) for line in lines] == [
        ("declined", "rule", WEEKEND)
    ]
    rule = lines[0].data["location"]
    assert rule.startswith(f"{flow.source}:")  # the weekend rule's place in the file
    default_lines = await store.transcript(BOT, default.conversation)
    assert [(line.data["by"], line.data["farewell"]) for line in default_lines] == [
        ("default", STAFF_ONLY)
    ]
    await store.aclose()

    listed = (await transcripts(capsys, "list", *where(target))).splitlines()
    assert listed[0].split()[:6] == ["STARTED", "CALLER", "FLOW", "STATE", "STATUS", "MESSAGES"]
    rows = {row.split()[2]: row.split() for row in listed[1:]}
    assert rows["lenea@contoso.com"][3:7] == [
        "after-hours@" + flow.digest[:8],
        "-",
        "declined",
        "0",
    ]
    assert rows["guest@fabrikam.com"][5] == "declined"

    shown = await transcripts(capsys, "show", weekend.conversation, *where(target))
    assert "Caller        Lene Aaling <sip:lenea@contoso.com>\n" in shown
    assert f"Flow          after-hours (version {flow.digest[:12]})\n" in shown
    assert "Invited       2026-01-10 10:0" in shown
    assert "Status        turned away 2026-01-10 10:0" in shown
    assert f": declined by the invitation rule at {rule}\n" in shown
    assert "Variables" not in shown  # no flow ran
    body = shown.split("\n\n", 1)[1].splitlines()
    assert body[0].endswith(f"  invite  declined by the invitation rule at {rule}")
    assert body[1].strip() == f"said: {WEEKEND}"
    assert len(body) == 2
    shown = await transcripts(capsys, "show", default.conversation, *where(target))
    assert "  invite  declined by the invitation policy's default (" in shown
    assert f"said: {STAFF_ONLY}" in shown

    exported = [
        json.loads(line)
        for line in (await transcripts(capsys, "export", *where(target))).splitlines()
    ]
    conversations = [o for o in exported if o["type"] == "conversation"]
    assert {o["declined"]["by"] for o in conversations} == {"rule", "default"}
    entries = [o for o in exported if o["type"] == "entry"]
    assert {o["kind"] for o in entries} == {"declined"}


@pytest.mark.parametrize(
    ("limits", "heard", "status", "line"),
    [
        (Limits(max_conversations=1, busy_message=BUSY), BUSY, "declined: busy", "declined: busy"),
        (Limits(max_conversations=1, busy_message=""), None, "declined: busy", "declined: busy"),
        (Limits(max_conversations=1, when_full="ring"), None, "not answered: busy",
         "left ringing: busy"),
    ],
    ids=["busy-message", "no-message", "ring"],
)  # fmt: skip
async def test_invitations_shed_for_lack_of_room_are_kept_as_busy(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    limits: Limits,
    heard: str | None,
    status: str,
    line: str,
) -> None:
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    target = Target("sqlite", path=tmp_path / "bot.sqlite3")
    store = await target.open()
    users = [*default_users(), *CALLERS]
    try:
        async with stage(desk("helpdesk", "H"), users=users, limits=limits, store=store) as s:
            first, second = (s.sim.virtual_user(u.uri) for u in CALLERS)
            await first.start_conversation(BOT, "hi")
            assert (await first.wait_for_message(WAIT)).text == "H hello"
            await second.start_conversation(BOT, "hi")
            await s.until(lambda: len(turned_away(s)) == 1, "the second caller to be shed")
            if heard is not None:
                assert (await second.wait_for_message(WAIT)).text == heard
            if heard is not None:  # accepted only to say it, then left
                await second.wait_for_state("ended", timeout=WAIT)
            await s.idle()
            assert [d.decision for d in turned_away(s)] == ["busy"]
            assert s.bot.engine.shed == 1
        records = await store.conversations(ConversationQuery(status="ended"))
        assert [(r.caller_uri, r.ended_reason, r.state) for r in records] == [
            ("sip:caller1@contoso.com", "busy", "")
        ]
        entries = await store.transcript(BOT, records[0].conversation)
        data = {"decision": "busy", "by": "limits", "flow": "helpdesk"}
        data["answer"] = "ringing" if limits.when_full == "ring" else "declined"
        if heard is not None:
            data["farewell"] = heard
        assert [(e.kind, e.data) for e in entries] == [("declined", data)]
        # the review app's stored conversations list it, and replay it as its decline
        stored = StoredConversations(store)
        assert [row["reason"] for row in await stored.recent()] == ["busy"]
        detail = await stored.detail(records[0].conversation)
        assert detail is not None
        steps = [(step["kind"], step["text"]) for step in detail["steps"]]
        said = [("out", heard)] if heard is not None else []
        assert steps == [*said, ("ended", line)]
    finally:
        await store.aclose()
    listed = (await transcripts(capsys, "list", "--ended", *where(target))).splitlines()
    assert f"  {status}  " in listed[1]
    shown = await transcripts(capsys, "show", records[0].conversation, *where(target))
    assert f"  invite  {line} (the account was at its limits)" in shown
    assert ("said: " in shown) == (heard is not None)


async def test_retention_prunes_a_declined_invitation_like_a_conversation(
    target: Target, store: Store
) -> None:
    with webhook_server() as hooks:
        flow = load("after-hours", callback_url=f"{hooks.url}/callbacks")
        async with stage(flow, start=SATURDAY_11H_PARIS, store=store) as s:
            lene = await s.person()
            await lene.say("anyone there?")
            assert await lene.hear() == [WEEKEND]
            await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    assert await store.transcript(BOT, record.conversation)
    await store.prune(before=record.updated_at - 1)
    assert await store.conversations(ConversationQuery()) == [record]  # not old enough yet
    pruned = await store.prune(before=time.time())
    assert pruned.conversations == 1
    assert await store.conversations(ConversationQuery()) == []
    assert await store.transcript(BOT, record.conversation) == []


def _batch(name: str, conversation: str, invitation: str) -> Any:
    """A recorded event batch of the msdocs samples, about ``conversation`` (its last part)
    and ``invitation``."""
    raw = (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    return decode_batch(json.loads(raw.replace("eee0", conversation).replace("6408", invitation)))


async def test_a_conversation_accepted_after_a_decline_at_the_same_href_is_kept(
    store: Store,
) -> None:
    # The server may invite the bot into a conversation again. The first invitation was
    # turned away (busy); the second, with room again, is accepted: that conversation is
    # what the store keeps (before, the turned-away record stayed, the conversation's
    # writes did nothing: never restored, pruned while it ran, shown as turned away).
    port = RecordingPort()
    full = Limits(max_conversations=1, busy_message="")  # declined with no farewell
    engine = Engine(load_echo("echo"), port, ManualClock(), limits=full)
    durable = Durable(engine, store, ECHO_ACCOUNT, now=lambda: 1000.0)
    batches = 0

    async def handle(*batch: Any) -> None:
        nonlocal batches
        batches += 1
        await durable.handle(_batch(*batch), ECHO_APP, f"{ECHO_APP}/events?{batches}")
        await engine.idle()

    try:
        await handle("msdocs_ReceiveAnIM_08", "eee0", "6400")
        await handle("msdocs_ReceiveAnIM_15", "eee0", "6400")
        await handle("msdocs_ReceiveAnIM_08", "eee1", "6401")  # busy: turned away
        href = f"{ECHO_APP}/communication/conversations/eee1"
        (record,) = await store.conversations(ConversationQuery(status="ended"))
        assert (record.conversation, record.ended_reason) == (href, "busy")
        engine.answers.limits = Limits()  # room again
        await handle("msdocs_ReceiveAnIM_08", "eee1", "6411")  # the same href: accepted
        await handle("msdocs_ReceiveAnIM_15", "eee1", "6411")
        assert port.calls[-1] == ("send", "You said: Hi Tosh")
        (record,) = await store.conversations(ConversationQuery(conversation="eee1"))
        assert (record.status, record.state, record.ended_reason) == ("active", "echo", None)
        assert "declined" not in record.extra
        restored = {r.conversation for r in (await store.load(ECHO_ACCOUNT)).conversations}
        assert href in restored
        assert (await store.prune(before=time.time())).conversations == 0
        lines = await store.transcript(ECHO_ACCOUNT, href)
        assert [line.kind for line in lines][:2] == ["declined", "state"]
        # the review app shows it as a conversation, the decline a step of it
        stored = StoredConversations(store)
        assert await stored.recent() == []  # finished ones: none, nothing turned away
        detail = await stored.detail(href)
        assert detail is not None
        steps = [(step["kind"], step["text"]) for step in detail["steps"]]
        assert steps[0] == ("action", "invitation turned away: declined: busy")
        assert "ended" not in [kind for kind, _ in steps]
    finally:
        await engine.aclose(stop=False)


SECRET_FAREWELL = """
version: 1
name: closed
start: s
variables: {code: "s3cr3t-77"}
secrets: [code]
invitation:
  default: decline
  decline_message: "Closed. Ref {{ code }}"
states:
  s:
    enter: [{say: "hi"}]
    messages: [{any: true, do: [stop]}]
"""


async def test_a_secret_in_a_decline_message_is_kept_redacted(store: Store) -> None:
    # the farewell is rendered with the flow's defaults, a secret's among them: the
    # caller reads it, the store keeps it redacted as a running conversation's messages
    loaded = load_flow_text(SECRET_FAREWELL, "closed.flow.yaml")
    assert loaded.flow is not None, [str(d) for d in loaded.diagnostics]
    port = RecordingPort()
    engine = Engine(loaded.flow, port, ManualClock())
    durable = Durable(engine, store, ECHO_ACCOUNT, now=lambda: 1000.0)
    try:
        batch = _batch("msdocs_ReceiveAnIM_08", "eee0", "6400")
        await durable.handle(batch, ECHO_APP, f"{ECHO_APP}/events?1")
        await engine.idle()
        assert port.calls[0][0] == "accept"  # to say it (once connected), then leave
        (record,) = await store.conversations(ConversationQuery())
        assert record.extra["declined"]["farewell"] == "Closed. Ref [redacted]"
        (line,) = await store.transcript(ECHO_ACCOUNT, record.conversation)
        assert line.data["farewell"] == "Closed. Ref [redacted]"
    finally:
        await engine.aclose(stop=False)

"""``ucwa-flow transcripts`` in-process, against a SQLite file and a PostgreSQL schema.

The history is written with the store's own API (the commits a bot would make); the
command is run through :func:`ucwa_flow.cli.main`, as the console script runs it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.store.conftest import Target
from ucwa_flow.cli import main
from ucwa_flow.cli._transcript_text import dumps, jsonl_objects, list_rows, text_lines
from ucwa_flow.runtime.journal import Declined
from ucwa_flow.runtime.records import declined_record
from ucwa_flow.store import (
    Changes,
    ConversationQuery,
    ConversationRecord,
    Ending,
    OutboxEntry,
    OutboxUpdate,
    RotationRecord,
    TranscriptEntry,
    open_store,
)

BOT = "sip:helpdesk@contoso.com"
OTHER_BOT = "sip:sales@contoso.com"
APP = "/ucwa/oauth/v1/applications/101/communication/conversations"
T0 = 1767603600.0  # 2026-01-05 09:00:00Z
PIN = "4321"  # a secret: never printed
CARD = "4111111111111111"  # a secret too


# flow versions as the runtime stores them: the sha256 of the flow's text, 64 hex digits
HELPDESK = "3f2a9c1e77d04b6a" * 4
SALES = "99aa0b1c2d3e4f50" * 4


def href(key: str) -> str:
    return f"{APP}/{key}"


async def _seed(target: Target) -> None:
    """Ann's ended helpdesk conversation (sent and failed replies, a secret, an error), Bob's
    active one (its record still holds a secret), Cy's on another bot account."""
    store = await target.open()
    try:
        ann = ConversationRecord(
            BOT, href("8f3b2d41"), "helpdesk", HELPDESK, "ask_id", T0, T0 + 30,
            variables={"name": "Ann", "pin": PIN}, caller_uri="sip:ann@contoso.com",
            caller_name="Ann Smith", secrets=frozenset({"pin", "card"}),
        )  # fmt: skip

        def ann_line(at: float, kind: str, data: object, key: str | None = None) -> TranscriptEntry:
            return TranscriptEntry(BOT, ann.conversation, T0 + at, kind, data, key=key)

        out = [OutboxEntry(BOT, ann.conversation, "message", {}, f"op-{n}", T0) for n in (1, 2)]
        menu = {"html": None, "text": "Hi Ann!\n1. Password\n2. Other"}
        to_ask = {"previous": "greeting", "state": "ask_id", "variables": {"pin": PIN}}
        failed = {"message": "webhook crm failed: 503", "location": "helpdesk.flow.yaml:40:9"}
        await store.commit(
            BOT,
            Changes(
                conversations=(ann,),
                outbox=tuple(out),
                transcript=(
                    ann_line(0, "message_in", {"text": "hello"}),
                    ann_line(0.4, "state", {"previous": None, "state": "greeting"}),
                    ann_line(0.5, "message_out", menu, "op-1"),
                    ann_line(9, "message_in", {"text": "1"}),
                    ann_line(9.2, "state", to_ask),
                    ann_line(20, "variable", {"name": "pin", "value": PIN}),
                    ann_line(20.5, "matched", {"captures": {"card": CARD}}),
                    ann_line(21, "message_out", {"text": "Thanks, checking."}, "op-2"),
                    ann_line(30, "error", failed),
                ),
            ),
        )
        await store.commit(
            BOT,
            Changes(
                sent=(
                    OutboxUpdate("op-1", "sent", T0 + 1),
                    OutboxUpdate("op-2", "failed", T0 + 22, "403 Forbidden"),
                )
            ),
        )
        # the caller leaves: the runtime ends the record and writes the ``ended`` line
        left = replace(ann, status="ended", ended_reason="caller", updated_at=T0 + 300)
        gone = ann_line(300, "ended", {"reason": "ended by the caller", "state": "ask_id"})
        await store.commit(BOT, Changes(conversations=(left,), transcript=(gone,)))

        bob = ConversationRecord(
            BOT, href("c0ffee01"), "helpdesk", HELPDESK, "menu", T0 + 3600,
            T0 + 3610, variables={"pin": PIN, "ref": f"R-{PIN}"}, caller_uri="sip:bob@fabrikam.com",
            caller_name="Bob Jones", secrets=frozenset({"pin"}),
        )  # fmt: skip
        cy = ConversationRecord(
            OTHER_BOT, href("c0ffee02"), "sales", SALES, "greeting", T0 + 7200,
            T0 + 7200, caller_uri="sip:cy@contoso.com",
        )  # fmt: skip
        hi = TranscriptEntry(BOT, bob.conversation, T0 + 3600, "message_in", {"text": "hi"})
        await store.commit(BOT, Changes(conversations=(bob,), transcript=(hi,)))
        await store.commit(OTHER_BOT, Changes(conversations=(cy,)))
    finally:
        await store.aclose()


@pytest.fixture
def where(target: Target, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The seeded store's options: ``--state PATH`` or ``--store URL`` (with its schema)."""
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    asyncio.run(_seed(target))
    if target.backend == "sqlite":
        return ["--state", str(target.path)]
    return ["--store", f"{target.url}&options=-csearch_path%3D{target.schema}"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``ucwa-flow transcripts ARGS``: exit status, stdout, stderr."""
    try:
        main(["transcripts", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


LIST = """\
ACCOUNT                   STARTED               CALLER            FLOW               STATE     STATUS         MESSAGES              CONVERSATION
sip:sales@contoso.com     2026-01-05 11:00:00Z  cy@contoso.com    sales@99aa0b1c     greeting  active         0 in, 0 out           c0ffee02
sip:helpdesk@contoso.com  2026-01-05 10:00:00Z  bob@fabrikam.com  helpdesk@3f2a9c1e  menu      active         1 in, 0 out           c0ffee01
sip:helpdesk@contoso.com  2026-01-05 09:00:00Z  ann@contoso.com   helpdesk@3f2a9c1e  ask_id    ended: caller  2 in, 2 out, 1 error  8f3b2d41
"""  # noqa: E501


def test_list_shows_one_line_per_conversation_newest_first(
    where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "list", *where) == (0, LIST, "")
    # one account: no account column
    code, out, _ = run(capsys, "list", *where, "--account", BOT)
    assert code == 0
    assert out.splitlines()[0].split() == [
        "STARTED", "CALLER", "FLOW", "STATE", "STATUS", "MESSAGES", "CONVERSATION",
    ]  # fmt: skip
    assert [line.split()[-1] for line in out.splitlines()[1:]] == ["c0ffee01", "8f3b2d41"]
    # the account as the bot's --user may give it, without sip:
    assert run(capsys, "list", *where, "--account", BOT.removeprefix("sip:")) == (0, out, "")


@pytest.mark.parametrize(
    ("options", "ids"),
    [
        (["--caller", "ANN SMITH"], ["8f3b2d41"]),
        (["--caller", "fabrikam"], ["c0ffee01"]),
        (["--flow", "sales"], ["c0ffee02"]),
        (["--state-name", "menu"], ["c0ffee01"]),
        (["--ended"], ["8f3b2d41"]),
        (["--active"], ["c0ffee02", "c0ffee01"]),
        (["--since", "2026-01-05T10:00:00Z"], ["c0ffee02", "c0ffee01"]),
        (["--since", "2026-01-05 09:30", "--until", "2026-01-05T11:00"], ["c0ffee01"]),
        (["--until", "2026-01-05T10:30+01:00"], ["8f3b2d41"]),  # 09:30Z
        (["--since", "1h"], []),
        (["--since", "3650d", "--flow", "helpdesk", "--ended"], ["8f3b2d41"]),
    ],
)
def test_list_filters(
    where: list[str], capsys: pytest.CaptureFixture[str], options: list[str], ids: list[str]
) -> None:
    code, out, err = run(capsys, "list", *where, *options)
    assert code == 0
    assert [line.split()[-1] for line in out.splitlines()[1:]] == ids
    assert err == ("" if ids else "No conversations match.\n")


def test_list_says_when_there_are_more_than_the_limit(
    where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "list", *where, "--limit", "2")
    assert (code, len(out.splitlines()), err) == (0, 3, "(the newest 2; --limit N shows more)\n")
    code, out, err = run(capsys, "list", *where, "--limit", "3")
    assert (code, len(out.splitlines()), err) == (0, 4, "")


def test_a_limit_or_a_time_past_what_a_store_or_a_date_holds_means_all(
    where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # --limit 99999999999999999999999: "OverflowError: Python int too large to convert to
    # SQLite INTEGER"; prune --older-than 99999999999d: "ValueError: year -273788674 is out
    # of range", both tracebacks
    code, out, err = run(capsys, "list", *where, "--limit", "99999999999999999999999")
    assert (code, len(out.splitlines()), err) == (0, 4, "")
    code, out, err = run(capsys, "list", *where, "--since", "99999999999d")
    assert (code, len(out.splitlines()), err) == (0, 4, "")
    code, out, err = run(capsys, "prune", *where, "--older-than", "99999999999d")
    assert (code, err) == (0, "")
    assert out.startswith("Pruned 0 conversation(s) that ended before 0001-01-02 00:00:00Z ")


def test_list_as_json_lines_one_object_per_conversation(
    where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # for scripts: export's first line of each conversation, with list's id and counts
    code, out, err = run(capsys, "list", *where, "--format", "jsonl", "--limit", "2")
    assert (code, err) == (0, "(the newest 2; --limit N shows more)\n")
    cy, bob = (json.loads(line) for line in out.splitlines())
    assert (cy["id"], cy["account"], cy["flow"], cy["status"]) == (
        "c0ffee02", OTHER_BOT, "sales", "active",
    )  # fmt: skip
    assert bob["conversation"] == href("c0ffee01")
    assert bob["counts"]["message_in"] == 1
    assert bob["ended_why"] is None
    code, out, _ = run(capsys, "list", *where, "--format", "jsonl", "--ended")
    (ann,) = (json.loads(line) for line in out.splitlines())
    assert (ann["id"], ann["status"], ann["ended_reason"]) == ("8f3b2d41", "ended", "caller")
    assert ann["counts"]["message_in"] == 2
    assert ann["counts"]["message_out"] == 2
    assert ann["counts"]["error"] == 1
    assert ann["variables"]["pin"] == "[redacted]"
    # the same object as export's first line, but for the two list adds
    code, out, _ = run(capsys, "export", *where, "--ended")
    exported = json.loads(out.splitlines()[0])
    assert {k: v for k, v in ann.items() if k not in ("id", "counts")} == exported


SHOW = f"""\
Conversation  {APP}/8f3b2d41
Account       sip:helpdesk@contoso.com
Caller        Ann Smith <sip:ann@contoso.com>
Flow          helpdesk (version 3f2a9c1e77d0), state ask_id
Started       2026-01-05 09:00:00Z
Status        ended 2026-01-05 09:05:00Z: by the caller
Variables     name = "Ann", pin = [redacted]

2026-01-05 09:00:00Z  caller  hello
2026-01-05 09:00:00Z  state   (start) -> greeting
2026-01-05 09:00:00Z  bot     Hi Ann!
                              1. Password
                              2. Other  [sent]
2026-01-05 09:00:09Z  caller  1
2026-01-05 09:00:09Z  state   greeting -> ask_id
2026-01-05 09:00:20Z  set     pin = [redacted]
2026-01-05 09:00:20Z  matched  {{"captures":{{"card":"[redacted]"}}}}
2026-01-05 09:00:21Z  bot     Thanks, checking.  [FAILED: 403 Forbidden]
2026-01-05 09:00:30Z  error   webhook crm failed: 503 (helpdesk.flow.yaml:40:9)
2026-01-05 09:05:00Z  ended   by the caller
"""


@pytest.mark.parametrize(
    "name", [href("8f3b2d41"), "8f3b", "8F3B2D41", "conversations/8f3b2d41", f"{APP}/8f"]
)
def test_show_prints_the_whole_history_by_href_id_or_unique_part(
    where: list[str], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert run(capsys, "show", name, *where) == (0, SHOW, "")


def test_show_as_json_lines(where: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "8f3b2d41", *where, "--format", "jsonl")
    assert (code, err) == (0, "")
    objects = [json.loads(line) for line in out.splitlines()]
    head, *entries = objects
    assert head == {
        "type": "conversation",
        "account": BOT,
        "conversation": href("8f3b2d41"),
        "flow": "helpdesk",
        "flow_version": HELPDESK,
        "state": "ask_id",
        "status": "ended",
        "ended_reason": "caller",
        "caller_uri": "sip:ann@contoso.com",
        "caller_name": "Ann Smith",
        "created_at": "2026-01-05T09:00:00.000Z",
        "updated_at": "2026-01-05T09:05:00.000Z",
        "variables": {"name": "Ann", "pin": "[redacted]"},
        "misses": 0,
        "ended_why": None,  # the caller ended it
    }
    assert [e["kind"] for e in entries] == [
        "message_in", "state", "message_out", "message_in", "state", "variable", "matched",
        "message_out", "error", "ended",
    ]  # fmt: skip
    assert entries[2] == {
        "type": "entry",
        "account": BOT,
        "conversation": href("8f3b2d41"),
        "seq": entries[2]["seq"],
        "at": "2026-01-05T09:00:00.500Z",
        "kind": "message_out",
        "data": {"html": None, "text": "Hi Ann!\n1. Password\n2. Other"},
        "outcome": "sent",
        "key": "op-1",
    }
    assert entries[7]["outcome"] == "failed: 403 Forbidden"
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "c0ffee",
            "'c0ffee' matches 2 conversations (c0ffee01, c0ffee02): give more of it",
        ),
        ("nothing-like-it", "no conversation in {target} matches 'nothing-like-it'"),
        ("ffee0", "no conversation in {target} matches 'ffee0'"),  # the middle is not enough
    ],
)
def test_show_names_a_conversation_that_is_not_unique_or_not_there(
    where: list[str], target: Target, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    async def stored_as() -> str:
        async with await open_store(where[1]) as store:
            return store.target

    expected = message.format(target=asyncio.run(stored_as()))
    assert run(capsys, "show", name, *where) == (1, "", f"ucwa-flow: error: {expected}\n")
    # --account narrows it down
    code, out, _ = run(capsys, "show", "c0ffee", *where, "--account", OTHER_BOT)
    assert code == 0
    assert out.startswith(f"Conversation  {APP}/c0ffee02\n")


def test_the_same_conversation_href_under_two_accounts_needs_the_account(
    where: list[str], target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    async def twin() -> None:
        async with await target.open() as store:
            record = ConversationRecord(
                OTHER_BOT, href("8f3b2d41"), "sales", SALES, "greeting", T0, T0
            )
            await store.commit(OTHER_BOT, Changes(conversations=(record,)))

    asyncio.run(twin())
    assert run(capsys, "show", href("8f3b2d41"), *where) == (
        1,
        "",
        f"ucwa-flow: error: {href('8f3b2d41')!r} is a conversation of several accounts "
        f"({BOT}, {OTHER_BOT}): add --account SIP\n",
    )
    assert run(capsys, "show", "8f3b", *where) == (
        1,
        "",
        f"ucwa-flow: error: '8f3b' matches 2 conversations ({href('8f3b2d41')} of {BOT}, "
        f"{href('8f3b2d41')} of {OTHER_BOT}): give more of it\n",
    )
    assert run(capsys, "show", "8f3b", *where, "--account", BOT) == (0, SHOW, "")


def test_export_writes_every_matching_conversation_oldest_first(
    where: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "audit.jsonl"
    code, out, err = run(capsys, "export", *where, "--output", str(output))
    assert (code, out, err) == (0, "", f"Exported 3 conversation(s) to {output}.\n")
    objects = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    heads = [o["conversation"] for o in objects if o["type"] == "conversation"]
    assert heads == [href("8f3b2d41"), href("c0ffee01"), href("c0ffee02")]
    assert len(objects) == 3 + 10 + 1  # three heads, Ann's ten lines, Bob's one
    assert not list(tmp_path.glob("*.partial"))

    code, out, err = run(capsys, "export", *where, "--format", "text", "--caller", "ann")
    assert (code, out, err) == (0, SHOW, "Exported 1 conversation(s).\n")
    code, out, _ = run(capsys, "export", *where, "--format", "text", "--flow", "helpdesk")
    assert out.startswith(SHOW + "\nConversation  " + href("c0ffee01"))


def test_export_to_a_file_that_cannot_be_written_is_one_line(
    where: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "missing" / "audit.jsonl"
    assert run(capsys, "export", *where, "-o", str(output)) == (
        2,
        "",
        f"ucwa-flow: error: {output}: cannot write: No such file or directory\n",
    )


def test_no_output_ever_shows_a_secret(
    where: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = []
    for args in (
        ["list"],
        ["list", "--format", "jsonl"],
        ["show", "8f3b2d41"],
        ["show", "8f3b2d41", "--format", "jsonl"],
        ["show", "c0ffee01"],  # active: its record still holds the PIN
        ["show", "c0ffee01", "--format", "jsonl"],
        ["export"],
        ["export", "--format", "text"],
        ["export", "-o", str(tmp_path / "all.jsonl")],
    ):
        code, out, err = run(capsys, *args, *where)
        assert code == 0, err
        printed.append(out + err)
    printed.append((tmp_path / "all.jsonl").read_text("utf-8"))
    everything = "\n".join(printed)
    assert PIN not in everything
    assert CARD not in everything
    assert everything.count("[redacted]") >= 10


def test_prune_deletes_what_ended_before_the_cutoff(
    where: list[str], target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    async def end_one_yesterday() -> None:
        async with await target.open() as store:
            ending = Ending(href("c0ffee01"), "done", time.time() - 86400)
            await store.commit(BOT, Changes(ends=(ending,)))

    asyncio.run(end_one_yesterday())
    code, out, err = run(capsys, "prune", *where, "--older-than", "30d")
    assert (code, err) == (0, "")
    assert out.startswith("Pruned 1 conversation(s) that ended before ")

    async def left() -> list[str]:
        async with await target.open() as store:
            return [c.conversation for c in await store.conversations(ConversationQuery())]

    assert asyncio.run(left()) == [href("c0ffee01"), href("c0ffee02")]
    assert run(capsys, "show", "8f3b", *where)[0] == 1  # gone, with its history


def test_prune_says_how_many_round_robin_positions_went(
    where: list[str], target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    async def accepted() -> None:  # Ann 31 days ago, Bo yesterday
        now = time.time()
        rows = tuple(
            RotationRecord(BOT, "helpdesk", f"sip:{agent}@contoso.com", n, now - days * 86400)
            for agent, n, days in (("ann", 1, 31), ("bo", 2, 1))
        )
        async with await target.open() as store:
            await store.commit(BOT, Changes(rotations=rows))

    asyncio.run(accepted())
    code, out, err = run(capsys, "prune", *where, "--older-than", "30d")
    assert (code, err) == (0, "")
    said = r"Pruned \d+ conversation\(s\) that ended before [^,]+, and 1 round-robin position\(s\) "
    assert re.fullmatch(said + r"as old, from \S+\.\n", out), out
    code, out, err = run(capsys, "prune", *where, "--older-than", "30d")
    assert (code, err) == (0, "")
    assert re.fullmatch(r"Pruned 0 conversation\(s\) that ended before [^,]+ from \S+\.\n", out), (
        out
    )


def test_the_docs_show_what_the_command_prints() -> None:
    """docs/transcripts.md shows this module's history as the command prints it."""
    docs = (Path(__file__).parents[2] / "docs" / "transcripts.md").read_text("utf-8")
    assert "$ ucwa-flow transcripts list --state helpdesk.sqlite3\n" + LIST in docs
    assert "$ ucwa-flow transcripts show 8f3b --state helpdesk.sqlite3\n" + SHOW in docs


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)  # one store is enough
def test_the_docs_other_samples_are_what_the_command_prints(
    where: list[str], target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ended conversations of one account, and an active one as JSON lines."""
    docs = (Path(__file__).parents[2] / "docs" / "transcripts.md").read_text("utf-8")
    for command in (
        f"list --state helpdesk.sqlite3 --account {BOT} --ended",
        "show c0ffee01 --state helpdesk.sqlite3 --format jsonl",
    ):
        args = [where[1] if a == "helpdesk.sqlite3" else a for a in command.split()]
        code, out, err = run(capsys, *args)
        assert (code, err) == (0, "")
        assert f"$ ucwa-flow transcripts {command}\n{out}" in docs


def test_a_deployments_store_folder_is_read_with_the_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` keeps one file per account in its ``store:`` folder; ``--state FOLDER``
    was refused as 'a directory' with no hint of the files in it."""
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    folder = tmp_path / "state"
    asyncio.run(_seed(Target("sqlite", path=folder / "helpdesk@contoso.com.sqlite3")))
    code, out, err = run(
        capsys, "list", "--state", str(folder), "--account", "helpdesk@contoso.com"
    )
    assert code == 0, err
    assert [line.split()[-1] for line in out.splitlines()[1:]] == ["c0ffee01", "8f3b2d41"]
    code, out, err = run(capsys, "list", "--state", str(folder))
    assert code == 2
    assert err.splitlines()[-1] == (
        f"Error: {folder} is a folder (a deployment's store: one file per account); "
        "add --account SIP, or give one of its files (helpdesk@contoso.com.sqlite3)"
    )


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)  # the text, not the store
def test_show_says_why_the_bot_ended_a_conversation(
    target: Target, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record says only ``bot``; its ``ended`` line says why (``stop``, ``shutdown``):
    ``show`` printed ``ended by the bot`` and a status of ``bot``, so a conversation the
    flow closed and one cut by the bot's shutdown read the same."""
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)

    async def cut() -> None:
        async with await target.open() as store:
            record = ConversationRecord(
                BOT, href("5eed0001"), "helpdesk", HELPDESK, "menu", T0, T0 + 2,
                status="ended", ended_reason="bot",
            )  # fmt: skip
            why = {"reason": "ended by the bot", "state": "menu", "why": "shutdown"}
            line = TranscriptEntry(BOT, record.conversation, T0 + 2, "ended", why)
            await store.commit(BOT, Changes(conversations=(record,), transcript=(line,)))

    asyncio.run(cut())
    code, out, err = run(capsys, "show", "5eed", "--state", str(target.path))
    assert (code, err) == (0, "")
    assert "Status        ended 2026-01-05 09:00:02Z: by the bot (shutdown)\n" in out
    assert out.endswith("2026-01-05 09:00:02Z  ended   by the bot (shutdown)\n")


async def _endings(target: Target) -> None:
    """Four conversations of the helpdesk: closed by the flow's ``stop``, cut by the bot's
    shutdown, left by the caller, and one still going."""
    async with await target.open() as store:
        for n, (by, why) in enumerate([("bot", "stop"), ("bot", "shutdown"), ("caller", None)]):
            record = ConversationRecord(
                BOT, href(f"e0{n}"), "helpdesk", HELPDESK, "menu", T0 + n, T0 + n + 0.5,
                status="ended", ended_reason=by,
            )  # fmt: skip
            data = {"reason": f"ended by the {by}", "state": "menu"}
            if why is not None:
                data["why"] = why
            line = TranscriptEntry(BOT, record.conversation, T0 + n + 0.5, "ended", data)
            await store.commit(BOT, Changes(conversations=(record,), transcript=(line,)))
        going = ConversationRecord(BOT, href("e03"), "helpdesk", HELPDESK, "menu", T0 + 3, T0 + 3)
        await store.commit(BOT, Changes(conversations=(going,)))


def test_list_says_why_the_bot_ended_a_conversation(
    target: Target, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``list`` printed ``ended: bot`` for a conversation the flow closed and for one the
    bot's shutdown cut alike: only ``show`` told them apart."""
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    asyncio.run(_endings(target))
    if target.backend == "sqlite":
        where = ["--state", str(target.path)]
    else:
        where = ["--store", f"{target.url}&options=-csearch_path%3D{target.schema}"]
    code, out, err = run(capsys, "list", *where)
    assert (code, err) == (0, "")
    assert [re.split(r"\s{2,}", row)[4:6] for row in out.splitlines()] == [
        ["STATUS", "MESSAGES"],
        ["active", "0 in, 0 out"],
        ["ended: caller", "0 in, 0 out"],
        ["ended: bot (shutdown)", "0 in, 0 out"],
        ["ended: bot (stop)", "0 in, 0 out"],
    ]
    # --format jsonl (show, export) says it in a field of its own
    code, out, err = run(capsys, "export", *where)
    assert (code, err) == (0, "Exported 4 conversation(s).\n")
    heads = [o for o in map(json.loads, out.splitlines()) if o["type"] == "conversation"]
    assert [(o["status"], o["ended_reason"], o["ended_why"]) for o in heads] == [
        ("ended", "bot", "stop"),
        ("ended", "bot", "shutdown"),
        ("ended", "caller", None),
        ("active", None, None),
    ]


def test_an_active_conversation_has_no_ended_why() -> None:
    # invited again into the same conversation, it keeps its earlier run's `ended` entry:
    # that run's why was given as the active one's
    record = ConversationRecord(BOT, href("e04"), "helpdesk", HELPDESK, "menu", T0, T0 + 2)
    data = {"reason": "ended by the bot", "state": "menu", "why": "stop"}
    earlier = TranscriptEntry(BOT, record.conversation, T0 + 1, "ended", data)
    head = next(jsonl_objects(record, [earlier]))
    assert (head["status"], head["ended_why"]) == ("active", None)
    ended = replace(record, status="ended", ended_reason="bot")
    assert next(jsonl_objects(ended, [earlier]))["ended_why"] == "stop"


async def _seed_declined(target: Target) -> str:
    """An invitation the after-hours flow's default declined, as a durable bot commits it
    (:func:`~ucwa_flow.runtime.records.declined_record` and the journal's line)."""
    declined = Declined(
        conversation=DECLINED_HREF,
        caller_uri="sip:someone@fabrikam.com",
        caller_name="Someone",
        flow="after-hours",
        version="89cf316d4ab91066a65db3dff9324eeb38a28162a07b0df7ad8deb0fef015d1e",
        secrets=frozenset(),
        decision="decline",
        by="default",
        location="flows/after-hours.flow.yaml:20:1",
        farewell="Sorry, this service is only for Contoso staff.",
    )
    at = 1796280784.0  # 2026-12-03 06:53:04Z
    record = declined_record(declined, account="sip:toshm@contoso.com", at=at)
    line = TranscriptEntry(record.account, DECLINED_HREF, at, "declined", declined.to_data())
    store = await target.open()
    try:
        await store.commit(record.account, Changes(conversations=(record,), transcript=(line,)))
    finally:
        await store.aclose()
    return DECLINED_HREF


DECLINED_HREF = (
    "/ucwa/oauth/v1/applications/879718321191/communication/conversations/"
    "de2a3490-a32d-4d1e-ae24-f2802f8e18af"
)


def test_an_invitation_turned_away_is_listed_and_shown_as_the_docs_say(
    target: Target, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    asyncio.run(_seed_declined(target))
    if target.backend == "sqlite":
        where = ["--state", str(target.path)]
    else:
        where = ["--store", f"{target.url}&options=-csearch_path%3D{target.schema}"]
    docs = (Path(__file__).parents[2] / "docs" / "transcripts.md").read_text("utf-8")
    for command in ("list --state desk.sqlite3", "show de2a --state desk.sqlite3"):
        args = command.split()[:-2] + where
        code, out, err = run(capsys, *args)
        assert (code, err) == (0, "")
        assert f"$ ucwa-flow transcripts {command}\n{out}" in docs
    code, out, _ = run(capsys, "show", "de2a", "--format", "jsonl", *where)
    conversation, entry = map(json.loads, out.splitlines())
    assert (conversation["status"], conversation["ended_reason"]) == ("ended", "declined")
    assert conversation["declined"] == entry["data"]
    assert entry["data"]["by"] == "default"
    code, out, _ = run(capsys, "list", "--ended", "--caller", "fabrikam", *where)
    assert out.splitlines()[1].split()[-1] == "de2a3490-a32d-4d1e-ae24-f2802f8e18af"


def test_what_a_caller_wrote_reaches_no_terminal_as_escape_sequences() -> None:
    # a caller's text, name and address holding escape sequences (set the window title,
    # clear the screen, colour, the 8-bit CSI) and a carriage return that would overwrite
    # the line: `show`, `export --format text` and `list` print each as its escape
    evil = "hi\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b1m\rfake"
    record = ConversationRecord(
        BOT, href("e5c"), "helpdesk", HELPDESK, "menu", T0, T0 + 2,
        caller_uri="sip:eve@contoso.com\x1b[8m", caller_name="Eve\x1b]52;c;cm0gLXJm\x07",
    )  # fmt: skip
    said = TranscriptEntry(BOT, record.conversation, T0 + 1, "message_in", {"text": evil})
    twice = TranscriptEntry(BOT, record.conversation, T0 + 2, "message_in", {"text": "a\nb"})
    shown = "\n".join([*text_lines(record, [said, twice]), *list_rows([record], {}, {})])
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", shown), ascii(shown)
    assert "caller  hi\\u001b]0;pwned\\u0007\\u001b[2J\\u001b[31m\\u009b1m\\rfake" in shown
    assert "Caller        Eve\\u001b]52;c;cm0gLXJm\\u0007 <sip:eve@contoso.com\\u001b[8m>" in shown
    assert "eve@contoso.com\\u001b[8m" in shown.splitlines()[-1]
    assert "caller  a\n" in shown  # a message of several lines keeps them


def test_json_lines_carry_no_c1_control_raw() -> None:
    # json.dumps(ensure_ascii=False) escapes C0 controls but leaves C1 ones raw: U+009B is
    # a CSI to terminals that take C1 controls in UTF-8 (`show --format jsonl` in one)
    record = ConversationRecord(
        BOT, href("e5d"), "helpdesk", HELPDESK, "menu", T0, T0 + 2, caller_name="Eve\x9b2J"
    )
    said = TranscriptEntry(BOT, record.conversation, T0 + 1, "message_in", {"text": "\x9b2J é"})
    lines = [dumps(obj) for obj in jsonl_objects(record, [said])]
    assert not re.search("[\x00-\x1f\x7f-\x9f]", "".join(lines)), lines
    assert [json.loads(line) for line in lines][1]["data"] == {"text": "\x9b2J é"}
    assert "é" in lines[1]  # other text beyond ASCII is kept as it is

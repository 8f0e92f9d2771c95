"""Replay of conversations recorded for real: ``ucwa-flow run`` on the embedded simulator.

Five callers chat with the helpdesk through ``ucwa-flow run --state FILE`` (the real bot,
the real store; the demo ticket service answers the webhook, a simulated agent the
invitation), the store is exported with ``ucwa-flow transcripts export``, and the export is
replayed against the helpdesk as it is and as three changes make it:

* one text change (the ticket reply) touches exactly the three conversations that opened
  a ticket;
* one new state on a path (menu entry 2 asks a question first) touches exactly the one
  conversation that took that entry, and it stops where the recording has no answer;
* one removed handler (the hardware keywords of the menu) touches exactly the one
  conversation that typed "laptop".

The flow as it is touches none of them. A conversation recorded in a PostgreSQL store is
replayed straight from the store.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.e2e.harness import ROOT
from tests.e2e.test_cli import ucwa_flow
from tests.store.conftest import postgres_url
from ucwa_flow.cli import main

HELPDESK = ROOT / "flows" / "helpdesk.flow.yaml"

CHATS = {
    "ann": ["hello", "1", "E123456", "no"],  # password reset, a ticket, done
    "bob": ["hi", "laptop", "my screen is broken", "E654321", "yes", "4"],  # keywords, agent
    "cy": ["hello", "2", "the printer jams", "E111111", "no"],  # menu entry 2, a ticket
    "dan": ["hello", "what", "4"],  # no match, then an agent
    "eve": ["hello", "stop"],  # the global stop command
}


def caller(name: str) -> str:
    return f"sip:{name}@contoso.com"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five conversations, recorded by ``ucwa-flow run`` and exported as JSON lines."""
    where = tmp_path_factory.mktemp("recorded")
    state = where / "helpdesk.sqlite3"
    for name, lines in CHATS.items():
        done = ucwa_flow(
            "run", str(HELPDESK), "--state", str(state), "--caller", caller(name),
            "--agent-delay", "0.2", stdin="".join(line + "\n" for line in lines),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    out = where / "export.jsonl"
    done = ucwa_flow("transcripts", "export", "--state", str(state), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "Exported 5 conversation(s)" in done.stderr
    return out


TICKET = "Ticket {{ ticket.id }} is open."
NOW_OPEN = "Ticket {{ ticket.id }} is now open."
REPLY = "Ticket INC0001001 is open. IT will get back to you within the working day."
NEW_REPLY = "Ticket INC0001001 is now open. IT will get back to you within the working day."


def changed(tmp_path: Path, old: str, new: str) -> Path:
    text = HELPDESK.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "helpdesk.flow.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, str], str]:
    """``ucwa-flow replay ARGS --json``: exit status, caller -> reason of the diverged ones,
    and the JSON document."""
    try:
        main(["replay", *args, "--json"])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr().out
    report = json.loads(out)
    diverged = {
        r["caller"].removeprefix("sip:").split("@")[0]: r["reason"]
        for r in report["results"]
        if r["status"] == "diverged"
    }
    return code, diverged, out


def test_the_flow_as_it_is_changes_nothing(
    export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, diverged, out = replay(capsys, str(HELPDESK), str(export))
    assert diverged == {}
    assert code == 0
    report = json.loads(out)
    assert (report["conversations"], report["unchanged"], report["diverged"]) == (5, 5, 0)


def test_a_text_change_touches_the_conversations_that_got_that_reply(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = changed(
        tmp_path, "Ticket {{ ticket.id }} is open.", "Ticket {{ ticket.id }} is now open."
    )
    code, diverged, out = replay(capsys, str(flow), str(export))
    assert diverged == {"ann": "reply changed", "bob": "reply changed", "cy": "reply changed"}
    assert code == 1
    report = json.loads(out)
    assert report["by_state"] == {"open_ticket": {"reply changed": 3}}
    first = next(r for r in report["results"] if r["caller"] == caller("ann"))["first"]
    assert (first["recorded"], first["replayed"]) == (REPLY, NEW_REPLY)


def test_a_new_state_on_a_path_stops_where_the_callers_answer_is_unknown(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = changed(
        tmp_path,
        "      - choice: [2, hardware]\n        set: {category: hardware}\n"
        "        goto: describe\n",
        "      - choice: [2, hardware]\n        set: {category: hardware}\n"
        "        goto: which_device\n",
    )
    text = flow.read_text(encoding="utf-8").replace(
        "  describe:\n",
        "  which_device:\n"
        "    enter:\n"
        "      - say: Which device is it?\n"
        "    messages:\n"
        "      - any: true\n"
        "        goto: describe\n"
        "\n"
        "  describe:\n",
        1,
    )
    flow.write_text(text, encoding="utf-8")
    code, diverged, out = replay(capsys, str(flow), str(export))
    assert diverged == {"cy": "caller's answer unknown"}
    assert code == 1
    cy = next(r for r in json.loads(out)["results"] if r["caller"] == caller("cy"))
    assert cy["where"] == "menu"
    assert cy["first"]["kind"] == "state"
    assert cy["first"]["recorded"] == "(enters describe)"
    assert cy["first"]["replayed"] == "(enters which_device)"
    assert cy["stop"]["kind"] == "answer_unknown"
    assert cy["stop"]["state"] == "which_device"
    assert cy["stop"]["expected_state"] == "describe"
    assert cy["stop"]["detail"] == "the printer jams"


def test_a_removed_handler_touches_the_conversation_it_answered(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = changed(
        tmp_path,
        "      - keywords: [laptop, printer, screen, monitor, keyboard, mouse, dock]\n"
        "        set: {category: hardware}\n"
        "        goto: describe\n",
        "",
    )
    code, diverged, out = replay(capsys, str(flow), str(export))
    assert list(diverged) == ["bob"]
    assert code == 1
    bob = next(r for r in json.loads(out)["results"] if r["caller"] == caller("bob"))
    assert bob["where"] == "menu"
    assert bob["first"]["replayed"] == "Sorry, I didn't get that. Please answer 1, 2, 3 or 4."
    assert bob["stop"]["kind"] == "answer_unknown"


def test_allow_changes_exits_0_and_the_text_report_groups_by_state(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = changed(
        tmp_path, "Ticket {{ ticket.id }} is open.", "Ticket {{ ticket.id }} is now open."
    )
    with pytest.raises(SystemExit) as exited:
        main(["replay", str(flow), str(export), "--allow-changes", "-v"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == (
        f"Replayed 5 conversations against {flow} (compare exact): 2 unchanged, 3 diverged."
    )
    assert lines[1] == "Where they first diverge, by state:"
    assert lines[2].split() == ["open_ticket", "3", "reply", "changed", "3"]
    assert (
        "  -bot:    Ticket INC0001001 is open. IT will get back to you within the working day."
        in lines
    )
    assert (
        "  +bot:    Ticket INC0001001 is now open. IT will get back to you within the working day."
        in lines
    )


def test_the_store_is_read_directly_and_a_loose_compare_ignores_case(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = export.parent / "helpdesk.sqlite3"
    flow = changed(tmp_path, "Ticket {{ ticket.id }} is open.", "TICKET {{ ticket.id }}  is open.")
    code, diverged, _ = replay(capsys, str(flow), "--state", str(state))
    assert set(diverged) == {"ann", "bob", "cy"}
    code, diverged, _ = replay(capsys, str(flow), "--state", str(state), "--compare", "loose")
    assert (code, diverged) == (0, {})


def test_a_flow_whose_name_changed_says_which_flows_the_store_holds(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it said only "No conversations to replay." and exit 0: the gate passed on nothing
    state = export.parent / "helpdesk.sqlite3"
    flow = changed(tmp_path, "name: helpdesk\n", "name: it-helpdesk\n")
    for given, said in ((flow, True), (HELPDESK, False)):
        with pytest.raises(SystemExit) as exited:
            main(["replay", str(given), "--state", str(state)])
        assert exited.value.code == 0
        err = capsys.readouterr().err.splitlines()
        line = (
            "The store holds no conversations of the flow it-helpdesk (FLOW's `name:`), "
            "only of: helpdesk."
        )
        assert (line in err) is said, err


def test_the_flows_the_store_holds_are_named_without_terminal_escapes(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # FLOW's `name:` was printed as it was: a flow file could set the terminal's title
    state = export.parent / "helpdesk.sqlite3"
    flow = changed(tmp_path, "name: helpdesk\n", 'name: "it\\e]0;pwned\\a"\n')
    with pytest.raises(SystemExit) as exited:
        main(["replay", str(flow), "--state", str(state)])
    assert exited.value.code == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err, err
    assert "\x07" not in err, err
    line = (
        "The store holds no conversations of the flow it\\u001b]0;pwned\\u0007 "
        "(FLOW's `name:`), only of: helpdesk."
    )
    assert line in err.splitlines(), err


def test_a_postgresql_store_is_replayed_directly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres_url()
    schema = f"replay_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        sep = "&" if "?" in url else "?"
        store = f"{url}{sep}options=-csearch_path%3D{schema}"
        echo = ROOT / "flows" / "echo.flow.yaml"
        done = ucwa_flow("run", str(echo), "--store", store, stdin="hello\nhow are you\nbye\n")
        assert done.returncode == 0, done.stderr
        code, diverged, out = replay(capsys, str(echo), "--store", store)
        assert (code, diverged) == (0, {})
        assert json.loads(out)["conversations"] == 1
        edited = tmp_path / "echo.flow.yaml"
        text = echo.read_text(encoding="utf-8")
        edited.write_text(text.replace("You said:", "You wrote:"), encoding="utf-8")
        code, diverged, _ = replay(capsys, str(edited), "--store", store)
        assert (code, diverged) == (1, {"lenea": "reply changed"})
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_the_export_in_the_replay_format_replays_the_same(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = export.parent / "helpdesk.sqlite3"
    lines = tmp_path / "replay.jsonl"
    main(["transcripts", "export", "--state", str(state), "--format", "replay", "-o", str(lines)])
    capsys.readouterr()
    recordings = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    assert [r["caller"] for r in recordings] == [caller(name) for name in CHATS]
    webhook = next(e for e in recordings[0]["events"] if "webhook" in e)
    assert (webhook["webhook"], webhook["status"], webhook["json"]["id"]) == (
        "success", 201, "INC0001001",
    )  # fmt: skip
    assert recordings[0]["vars"]["ticket_url"].startswith("http://127.0.0.1:")
    code, diverged, _ = replay(capsys, str(HELPDESK), str(lines))
    assert (code, diverged) == (0, {})
    flow = changed(tmp_path, TICKET, NOW_OPEN)
    _, diverged, _ = replay(capsys, str(flow), str(lines))
    assert set(diverged) == {"ann", "bob", "cy"}


def test_a_deployments_store_folder_is_read_with_the_account(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--state FOLDER --account SIP`` reads that account's file, as ``transcripts`` does
    (the option refused a folder before the store was looked at)."""
    import shutil

    folder = tmp_path / "state"
    folder.mkdir()
    shutil.copy(export.parent / "helpdesk.sqlite3", folder / "toshm@contoso.com.sqlite3")
    flow = changed(tmp_path, TICKET, NOW_OPEN)
    code, diverged, _ = replay(
        capsys, str(flow), "--state", str(folder), "--account", "sip:toshm@contoso.com"
    )
    assert (code, set(diverged)) == (1, {"ann", "bob", "cy"})


def test_a_reply_of_several_lines_is_marked_and_aligned_on_each_line(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-v showed the lines of a reply under its first one unmarked, three columns left of
    the text, as if they were no part of the change."""
    flow = changed(tmp_path, "1. Reset my password", "1. Reset a password")
    with pytest.raises(SystemExit):
        main(["replay", str(flow), str(export), "-v"])
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("  -bot:    What can I help you with?")
    assert lines[at + 1 : at + 3] == [
        "  -        1. Reset my password",
        "  -        2. Broken hardware (laptop, printer, screen ...)",
    ]
    assert "  +        1. Reset a password" in lines[at:]

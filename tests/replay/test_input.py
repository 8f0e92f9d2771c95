"""What ``ucwa-flow replay`` reads, and what it says about input it cannot read.

Bad input is one line and exit status 2: a recording that is not valid JSON or not a
recording (``file:line:col``), a flow with errors, no recordings named at all. A progress
bar is drawn on a terminal, never into a pipe. A recording converted from the export's
lines to the replay format and back reads the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT
from tests.e2e.test_cli import ENV, UCWA_FLOW
from tests.guards import WAIT
from ucwa_flow.cli import main
from ucwa_flow.flow import load_flow
from ucwa_flow.replay import (
    RecordingError,
    from_export,
    read_lines,
    read_recordings,
    recording_line,
    replay,
)

ECHO = str(ROOT / "flows" / "echo.flow.yaml")
HI = 'Hi Ann! I repeat everything you write. Type "stop" to end.'
GOOD = json.dumps(
    {
        "caller": "sip:ann@contoso.com",
        "caller_name": "Ann",
        "flow": "echo",
        "events": [
            {"at": 0, "caller": "hello"},
            {"at": 0, "bot": HI},
            {"at": 0, "bot": "You said: hello"},
        ],
    }
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["replay", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "recordings.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("line", "where", "message"),
    [
        ('{"events": [{"at": 0, "caller": "hi"}', "2:38", "not JSON: Expecting ',' delimiter"),
        ("[1, 2]", "2:1", "a line must be a JSON object"),
        (  # json.loads' RecursionError was a traceback
            '{"events": ' + "[" * 5000 + "]" * 5000 + "}",
            "2:1",
            "JSON nested deeper than 128 levels",
        ),
        (
            '{"type": "conversation", "created_at": "nope"}',
            "2:1",
            "'created_at' must be an ISO-8601 time like 2026-01-05T09:00:00Z",
        ),
        (
            '{"type": "entry", "kind": "message_in"}',
            "2:2",
            "an entry line before any conversation line",
        ),
        ('{"type": "chat"}', "2:2", "unknown line type 'chat' (conversation, entry or replay)"),
        ('{"caller": "sip:a@b.c"}', "2:1", 'a recording needs "events": a list of events'),
        (
            '{"events": [{"at": 0, "caler": "hi"}]}',
            "2:13",  # the event (was the "events" key)
            "event 1: an event has exactly one of bot, caller, ended, handoff, invite, left, "
            "state, webhook",
        ),
        (  # an event after the first is located in that event, not at the line's first key
            '{"events": [{"at": 0, "caller": "hi"}, {"at": "x", "bot": "y"}]}',
            "2:41",
            'event 2: "at" is seconds since the start, a number >= 0',
        ),
        (
            '{"events": [{"webhook": "success"}, {"webhook": "sucess"}]}',
            "2:38",
            "event 2: 'webhook' is one of success, failure, not 'sucess'",
        ),
        (
            '{"events": [{"caller": "hi"}, {"caler": "x"}]}',
            "2:31",
            "event 2: an event has exactly one of bot, caller, ended, handoff, invite, left, "
            "state, webhook",
        ),
        (  # a key in a text of an earlier event is not the key
            '{"id": "\\"at\\"", "events": [ {"caller": "\\"at\\""} , {"at": -1, "bot": "x"}]}',
            "2:54",
            'event 2: "at" is seconds since the start, a number >= 0',
        ),
        (
            '{"events": [{"at": -1, "caller": "hi"}]}',
            "2:14",
            'event 1: "at" is seconds since the start, a number >= 0',
        ),
        ('{"events": [{"caller": 5}]}', "2:14", "event 1: 'caller' must be text"),
        (
            '{"events": [], "started": "yesterday"}',
            "2:16",
            "'started' must be an ISO-8601 time like 2026-01-05T09:00:00Z",
        ),
        (
            '{"events": [{"left": "bot"}]}',
            "2:14",
            'event 1: "left" is true (the caller left) or "server"',
        ),
        # no JSON number: read as nan and inf, which no store writes
        ('{"events": [{"at": NaN, "caller": "hi"}]}', "2:20", "not JSON: NaN is no JSON number"),
        (
            '{"events": [{"at": Infinity, "caller": "hi"}]}',
            "2:20",
            "not JSON: Infinity is no JSON number",
        ),
        (
            '{"events": [{"invite": "accept"}]}',
            "2:14",
            "event 1: 'invite' is one of accepted, declined, no_answer, not 'accept'",
        ),
        (
            '{"events": [{"webhook": "sucess"}]}',
            "2:14",
            "event 1: 'webhook' is one of success, failure, not 'sucess'",
        ),
        (
            '{"type": "conversation"}\n{"type": "entry", "seq": "a"}\n{"type": "entry", "seq": 1}',
            "2:1",
            'an entry\'s "seq" must be a whole number',
        ),
    ],
)
def test_a_bad_line_is_one_located_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, where: str, message: str
) -> None:
    path = write(tmp_path, GOOD, line)
    code, out, err = run(capsys, ECHO, path)
    assert (code, out) == (2, "")
    assert err == f"ucwa-flow: error: {path}:{where}: {message}\n"


def test_a_good_file_replays_and_a_missing_one_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, ECHO, write(tmp_path, GOOD, ""))
    assert code == 0, err
    assert out.startswith("Replayed 1 conversation against ")
    assert err == ""  # no progress bar when stderr is not a terminal
    code, _, err = run(capsys, ECHO, str(tmp_path / "nope.jsonl"))
    assert code == 2
    assert err.startswith("ucwa-flow: error: ")
    assert "nope.jsonl: cannot read" in err


def test_a_file_saved_with_a_byte_order_mark_and_crlf_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Notepad and other Windows editors start a UTF-8 file with a BOM: it was "not JSON"
    path = tmp_path / "notepad.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + f"{GOOD}\r\n\r\n{GOOD}\r\n".encode())
    code, out, err = run(capsys, ECHO, str(path))
    assert (code, err) == (0, "")
    assert out.startswith("Replayed 2 conversations against ")


def test_a_flow_with_errors_and_no_recordings_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.flow.yaml"
    broken.write_text("version: 1\nname: x\nstart: nowhere\nstates: {}\n", encoding="utf-8")
    code, out, err = run(capsys, str(broken), write(tmp_path, GOOD))
    assert (code, out) == (2, "")
    assert err.startswith(f"{broken}:")
    code, _, err = run(capsys, ECHO)
    assert code == 2
    assert "give RECORDINGS files, or a store" in err
    sub = tmp_path / "ask.subflow.yaml"  # exit 2 and not a word said
    sub.write_text("version: 1\nsubflow: ask\nstart: a\nstates: {a: {enter: [return]}}\n", "utf-8")
    code, out, err = run(capsys, str(sub), write(tmp_path, GOOD))
    assert (code, out) == (2, "")
    assert err == (
        f"ucwa-flow: error: {sub} is a sub-flow, not a flow: replay a flow that calls it\n"
    )
    code, _, err = run(capsys, ECHO, write(tmp_path, GOOD), "--compare", "fuzzy")
    assert code == 2
    assert "'fuzzy': expected exact, loose, similar or similar:0.8" in err
    for threshold in ("abc", "1.5"):  # "abc" said "could not convert string to float"
        code, _, err = run(capsys, ECHO, write(tmp_path, GOOD), "--compare", f"similar:{threshold}")
        assert code == 2
        assert err.endswith(
            f"'similar:{threshold}': the similarity threshold is a number in (0, 1], like "
            "similar:0.9\n"
        )


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--since", "2030-01-01"], "--since"), (["--account", "sip:bot@contoso.com"], "--account")],
)
def test_a_stores_filter_with_files_only_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], option: str
) -> None:
    # `--since 2030-01-01` was ignored: every conversation of the file was replayed
    code, out, err = run(capsys, ECHO, write(tmp_path, GOOD), *args)
    assert (code, out) == (2, "")
    assert (
        f"Error: {option} selects the conversations of a store (--state or --store), not of "
        "RECORDINGS files: select with `ucwa-flow transcripts export` instead"
    ) in err


def test_conversations_of_other_flows_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = json.dumps({"flow": "helpdesk", "events": [{"at": 0, "caller": "hi"}]})
    code, out, err = run(capsys, ECHO, write(tmp_path, GOOD, other), "--json")
    assert code == 0
    assert json.loads(out)["conversations"] == 1
    assert err == "Skipped 1 conversation(s) of other flows than echo.\n"


def test_invitations_the_bot_turned_away_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # as `transcripts export` writes one (JSON lines, and the replay format)
    declined = {"decision": "decline", "by": "default", "flow": "echo", "answer": "declined"}
    exported = {
        "type": "conversation",
        "conversation": "/c/1",
        "flow": "echo",
        "caller_uri": "sip:someone@fabrikam.com",
        "created_at": "2026-01-05T09:00:00.000Z",
        "variables": {},
        "declined": declined,
    }
    entry = {"type": "entry", "seq": 1, "at": "2026-01-05T09:00:00.000Z", "kind": "declined"}
    lines = [json.dumps(exported), json.dumps({**entry, "data": declined})]
    (recording,) = read_lines("x", lines)
    replayed = json.dumps(recording_line(recording))
    assert json.loads(replayed)["declined"] is True
    path = write(tmp_path, GOOD, *lines, replayed)
    code, out, err = run(capsys, ECHO, path, "--json")
    assert code == 0
    assert json.loads(out)["conversations"] == 1
    assert err == "Skipped 2 invitation(s) the bot turned away (no conversation ran).\n"
    # from Python too (docs/replay.md's example asserts nothing diverged): the API
    # reported each as "declined by the invitation policy", a divergence
    flow = load_flow(ECHO).raise_for_errors()
    results = asyncio.run(replay(flow, read_recordings(path)))
    assert [(r.recording.id, r.diverged) for r in results] == [(f"{path}:1", False)]


def test_the_json_document_has_counts_groups_and_one_object_per_conversation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = GOOD.replace("You said: hello", "You said: HELLO")
    code, out, _ = run(capsys, ECHO, write(tmp_path, GOOD, changed), "--json")
    assert code == 1
    report = json.loads(out)
    assert set(report) == {
        "flow", "compare", "conversations", "unchanged", "diverged", "partial", "by_state",
        "results",
    }  # fmt: skip
    assert (report["conversations"], report["unchanged"], report["diverged"]) == (2, 1, 1)
    assert report["by_state"] == {"echo": {"reply changed": 1}}  # from the replay: no states
    diverged = report["results"][1]
    assert diverged["status"] == "diverged"
    assert diverged["source"].endswith("recordings.jsonl:2")
    assert diverged["first"] == {
        "kind": "reply",
        "state": "echo",
        "after_input": 1,
        "recorded": "You said: HELLO",
        "replayed": "You said: hello",
    }
    code, _, _ = run(capsys, ECHO, write(tmp_path, GOOD, changed), "--json", "--allow-changes")
    assert code == 0


def test_an_export_converts_to_the_replay_format_and_reads_back_the_same() -> None:
    conversation = {
        "type": "conversation",
        "conversation": "/ucwa/conversations/c0ffee01",
        "flow": "echo",
        "caller_uri": "sip:ann@contoso.com",
        "caller_name": "Ann",
        "created_at": "2026-01-05T09:00:00.000Z",
        "variables": {"count": 2, "home": "https://example.test"},
    }

    def entry(seq: int, at: str, kind: str, data: object) -> dict[str, object]:
        return {
            "type": "entry",
            "seq": seq,
            "at": f"2026-01-05T09:00:{at}Z",
            "kind": kind,
            "data": data,
        }

    entries = [
        entry(1, "00.000", "state", {"state": "echo", "previous": None}),
        entry(2, "00.100", "message_out", {"text": HI, "html": None}),
        entry(3, "01.500", "message_in", {"text": "hello"}),
        entry(4, "02.000", "variable", {"name": "count", "value": 2}),
        entry(
            5,
            "03.000",
            "outcome",
            {
                "action": "webhook",
                "branch": "success",
                "result": {"status": 201, "json": {"id": 1}},
            },
        ),
        entry(6, "09.000", "ended", {"reason": "ended by the caller", "state": "echo"}),
    ]
    recording = from_export(conversation, entries, "x:1")
    assert recording.id == "c0ffee01"
    assert dict(recording.start_variables) == {"home": "https://example.test"}
    assert [(e.at, e.kind, e.text) for e in recording.events] == [
        (0.0, "state", "echo"),
        (0.1, "bot", HI),
        (1.5, "caller", "hello"),
        (3.0, "webhook", "success"),
        (9.0, "left", "caller"),
    ]
    line = json.dumps(recording_line(recording))
    again = next(read_lines("again.jsonl", [line]))
    assert again.events == recording.events
    assert again.variables == recording.variables
    assert again.start_variables == recording.start_variables
    assert again.started == recording.started
    grouped = list(
        read_lines("export.jsonl", [json.dumps(conversation), *map(json.dumps, entries)])
    )
    assert [r.events for r in grouped] == [recording.events]


def test_a_bad_line_raises_a_located_error_from_the_api() -> None:
    with pytest.raises(RecordingError, match=r"^f\.jsonl:1:1: a line must be a JSON object$"):
        list(read_lines("f.jsonl", ["3"]))


def test_a_progress_bar_shows_on_a_terminal_only(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, GOOD, GOOD)
    main_fd, terminal = os.openpty()
    try:
        done = subprocess.run(
            [UCWA_FLOW, "replay", ECHO, path],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            env=ENV | {"TERM": "xterm", "COLUMNS": "80"},
            timeout=WAIT,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(main_fd)
    assert done.returncode == 0
    assert done.stdout.startswith("Replayed 3 conversations")
    assert "3/3" in shown.decode("utf-8", "replace")  # the bar's count, drawn on stderr


def test_the_command_leaves_the_loggers_level_as_it_found_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = logging.getLogger("ucwa_flow")
    before = logger.level
    logger.setLevel(logging.INFO)
    try:
        code, _, _ = run(capsys, ECHO, write(tmp_path, GOOD))
        assert code == 0
        assert logger.level == logging.INFO  # other tests in this process still see warnings
    finally:
        logger.setLevel(before)


@pytest.mark.parametrize(
    ("part", "line"),
    [
        (
            "lib/confirm.subflow.yaml",
            "is a sub-flow, not a flow: replay a flow that calls it",
        ),
        (
            "lib/desk.states.yaml",
            "is an included file, not a flow: replay a flow that includes it",
        ),
    ],
)
def test_a_part_of_a_flow_is_one_line_that_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], part: str, line: str
) -> None:
    # it ended with status 2 and said nothing at all
    path = str(ROOT / "flows" / part)
    code, out, err = run(capsys, path, write(tmp_path, GOOD))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"ucwa-flow: error: {path} {line}"]


def test_a_callers_escape_sequences_are_printed_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a stored conversation replayed (its export, read back): what the caller wrote and
    # the bot said back is shown in the divergence's detail, never obeyed by the terminal
    evil = "hi\x1b]0;pwned\x07\x1b[2J\x9b1m\rx"
    recording = {
        "caller": "sip:ann@contoso.com",
        "caller_name": "Ann",
        "flow": "echo",
        "events": [
            {"at": 0, "caller": "hello"},
            {"at": 0, "bot": HI},
            {"at": 0, "bot": "You said: hello"},
            {"at": 1, "caller": evil},
            {"at": 1, "bot": "not what the bot says"},
        ],
    }
    code, out, err = run(capsys, ECHO, write(tmp_path, json.dumps(recording)))
    assert code == 1, (out, err)
    for control in ("\x1b", "\x07", "\x9b", "\r"):
        assert control not in out, ascii(out)
    assert "hi\\u001b]0;pwned\\u0007\\u001b[2J\\u009b1m\\rx" in out, out

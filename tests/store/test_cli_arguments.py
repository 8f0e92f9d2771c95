"""Which store a command opens, the times it accepts, and its one-line errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from tests.store.test_cli_transcripts import run
from ucwa_flow.cli._store_target import resolve_store_target
from ucwa_flow.cli._times import format_time, iso_time, parse_duration, parse_moment
from ucwa_flow.errors import UnreadableFileError
from ucwa_flow.store import default_state_path, open_store

PG = "postgresql://bot@db.example/ucwa"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    return tmp_path / "state"


def test_options_come_first_then_the_environment_then_the_account(
    tmp_path: Path, state_home: Path
) -> None:
    file = tmp_path / "bot.sqlite3"
    env = {"UCWA_FLOW_STORE": PG}
    assert resolve_store_target(file, None, env, "sip:bot@contoso.com") == str(file)
    assert resolve_store_target(None, PG, {}, "sip:bot@contoso.com") == PG
    assert resolve_store_target(None, None, env, "sip:bot@contoso.com") == PG
    assert resolve_store_target(None, None, {"UCWA_FLOW_STORE": str(file)}, None) == str(file)
    default = resolve_store_target(None, None, {"UCWA_FLOW_STORE": " "}, "sip:bot@contoso.com")
    assert default == str(state_home / "ucwa-flow" / "bot@contoso.com.sqlite3")
    assert default == str(default_state_path("sip:bot@contoso.com"))
    assert resolve_store_target("~/bot.sqlite3", None, {}, None) == str(Path.home() / "bot.sqlite3")


@pytest.mark.parametrize(
    ("state", "store", "env", "message"),
    [
        (
            "a.sqlite3",
            PG,
            {},
            "give --state PATH (a SQLite file) or --store URL (PostgreSQL), not both",
        ),
        (
            None,
            "a.sqlite3",
            {},
            "--store takes a postgresql:// URL, not 'a.sqlite3'; "
            "for a SQLite file use --state PATH",
        ),
        (
            None,
            None,
            {},
            "which store? give --state PATH, --store URL or --account SIP (or set UCWA_FLOW_STORE)",
        ),
        (
            None,
            None,
            {"UCWA_FLOW_STORE": "mysql://bot@db/ucwa"},
            "UCWA_FLOW_STORE takes a postgresql:// URL or the path of a SQLite file, "
            "not 'mysql://bot@db/ucwa'",
        ),
    ],
)
def test_options_that_name_no_store_or_two_are_usage_errors(
    state: str | None, store: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(click.UsageError) as caught:
        resolve_store_target(state, store, env, None)
    assert caught.value.message == message
    assert caught.value.exit_code == 2


def test_a_missing_file_is_refused_only_when_it_must_exist(
    tmp_path: Path, state_home: Path
) -> None:
    missing = tmp_path / "nope.sqlite3"
    assert resolve_store_target(missing, None, {}, None) == str(missing)  # run creates it
    with pytest.raises(UnreadableFileError, match=r"nope.sqlite3: no such store file$"):
        resolve_store_target(missing, None, {}, None, must_exist=True)
    with pytest.raises(UnreadableFileError, match=r"no such store file \(from UCWA_FLOW_STORE\)"):
        resolve_store_target(None, None, {"UCWA_FLOW_STORE": str(missing)}, None, must_exist=True)
    default = default_state_path("sip:bot@contoso.com")
    with pytest.raises(UnreadableFileError) as caught:
        resolve_store_target(None, None, {}, "sip:bot@contoso.com", must_exist=True)
    assert str(caught.value) == (
        f"{default}: no such store file (the default for sip:bot@contoso.com)"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("90m", 5400), ("2h", 7200), ("30d", 30 * 86400), ("1w", 7 * 86400),
     ("1d12h", 36 * 3600), ("1.5h", 5400), (" 2H ", 7200)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "2 days", "-1h", "1h-"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration: write e\.g\. 45s, 90m, 2h"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("2h", NOW - 7200),
        ("2026-01-05", NOW - 9 * 3600),
        ("2026-01-05T09:00", NOW),  # no offset: UTC
        ("2026-01-05 09:00:00Z", NOW),
        ("2026-01-05T10:00:00+01:00", NOW),
    ],
)
def test_moments(text: str, at: float) -> None:
    assert parse_moment(text, NOW) == at


def test_times_are_printed_in_utc() -> None:
    assert format_time(NOW + 12.7) == "2026-01-05 09:00:12Z"
    assert iso_time(NOW + 12.7) == "2026-01-05T09:00:12.700Z"


def test_bad_command_lines_are_one_error_and_status_2(
    tmp_path: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.sqlite3"
    code, out, err = run(capsys, "list", "--state", str(missing))
    assert (code, out, err) == (2, "", f"ucwa-flow: error: {missing}: no such store file\n")
    assert not missing.exists()  # never a new, empty store

    code, _, err = run(capsys, "list", "--state", str(missing), "--store", PG)
    assert code == 2
    assert err.splitlines()[-1] == (
        "Error: give --state PATH (a SQLite file) or --store URL (PostgreSQL), not both"
    )
    code, _, err = run(capsys, "list", "--account", "sip:bot@contoso.com")
    assert code == 2
    assert "bot@contoso.com.sqlite3: no such store file (the default for" in err
    code, _, err = run(capsys, "list", "--state", str(missing), "--since", "yesterday")
    assert code == 2
    assert err.splitlines()[-1] == (
        "Error: Invalid value for '--since': 'yesterday' is neither a time (2026-01-05, "
        "2026-01-05T09:30, ...) nor a duration before now (2h, 3d, ...)"
    )
    code, _, err = run(capsys, "prune", "--state", str(missing), "--older-than", "0d")
    assert (code, err.splitlines()[-1]) == (
        2,
        "Error: Invalid value for '--older-than': '0d' is no time at all",
    )
    code, _, err = run(capsys, "prune", "--state", str(missing))
    assert (code, err.splitlines()[-1]) == (2, "Error: Missing option '--older-than'.")


def test_a_store_that_fails_is_one_line_and_status_1(
    tmp_path: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database, just bytes " * 200)
    code, out, err = run(capsys, "list", "--state", str(junk))
    assert (code, out) == (1, "")
    assert err.startswith(f"ucwa-flow: error: the store {junk} is not a usable database (")
    assert err.count("\n") == 1

    code, out, err = run(capsys, "show", "x", "--store", "postgresql://bot:sekret@127.0.0.1:1/ucwa")
    assert (code, out) == (1, "")
    assert err.startswith(
        "ucwa-flow: error: the store postgresql://bot:***@127.0.0.1:1/ucwa cannot be reached"
    )
    assert err.count("\n") == 1


def test_the_environment_or_the_account_names_the_store(
    tmp_path: Path,
    state_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def create(path: Path) -> None:
        await (await open_store(path)).aclose()

    default = default_state_path("sip:bot@contoso.com")
    asyncio.run(create(default))
    assert run(capsys, "list", "--account", "sip:bot@contoso.com") == (
        0,
        "",
        "No conversations match.\n",
    )
    other = tmp_path / "other.sqlite3"
    asyncio.run(create(other))
    monkeypatch.setenv("UCWA_FLOW_STORE", str(other))
    default.unlink()  # the environment wins over the account's default file
    assert run(capsys, "list", "--account", "sip:bot@contoso.com")[0] == 0

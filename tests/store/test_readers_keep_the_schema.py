"""The commands that read a store (and ``transcripts prune``) never change its schema.

They migrated a store an older ucwa-flow wrote, as a bot does: an operator reading
transcripts while the older bot still ran changed the schema under it (and that bot then
refused its own store at its next start, as one from a newer version). Now they refuse it in
one line and exit 1, naming the store (its password masked), both schema versions and what
to do, and leave it as it was; a store from a newer version is refused the same way.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import UCWA_FLOW
from tests.guards import WAIT
from tests.store.builders import ACCOUNT, conversation, line
from tests.store.conftest import Target
from ucwa_flow.store import SCHEMA_VERSION, Changes, StoreTooNew, StoreTooOld

HELPDESK = str(Path(__file__).parents[2] / "flows" / "helpdesk.flow.yaml")
OLD = 3  # workers and leases, no campaigns, rotations, left_at (versions 4 to 6)
ADVICE = (
    f"older than this ucwa-flow's {SCHEMA_VERSION}: start this version's bot on it "
    "(ucwa-flow run or serve) to migrate it; a command that reads or prunes a store never "
    "migrates it (a bot of the older version may still run on it)"
)


def _build(target: Target, version: int) -> None:
    """A store at schema ``version`` (above the latest: a newer ucwa-flow's), with a
    conversation and its history, closed."""

    async def build() -> None:
        store = await target.open(_upto=min(version, SCHEMA_VERSION))
        try:
            record = conversation("old", status="ended", ended_reason="bot")
            ended = line("ended", {"reason": "ended by the bot", "why": "stop"}, "old")
            await store.commit(ACCOUNT, Changes(conversations=(record,), transcript=(ended,)))
        finally:
            await store.aclose()

    asyncio.run(build())
    if version > SCHEMA_VERSION:
        target.raw(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (%s, %s, %s)",
            (version, "from the future", 0.0),
        )


def _as_it_is(target: Target) -> Any:
    """What a refusal must leave alone: a SQLite file's bytes and the files beside it; a
    PostgreSQL schema's tables, columns, indexes and applied migrations."""
    if target.backend == "sqlite":
        assert target.path is not None
        files = sorted(p.name for p in target.path.parent.iterdir())
        return target.path.read_bytes(), files
    assert target.schema is not None
    columns = target.raw(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s ORDER BY 1, 2",
        (target.schema,),
    )
    indexes = target.raw(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s ORDER BY 1", (target.schema,)
    )
    return columns, indexes, target.raw("SELECT version FROM schema_migrations ORDER BY 1")


@pytest.mark.parametrize("version", [OLD, SCHEMA_VERSION + 1], ids=["older", "newer"])
async def test_a_reader_refuses_a_store_of_another_version_and_leaves_it(
    target: Target, version: int
) -> None:
    await asyncio.to_thread(_build, target, version)
    before = _as_it_is(target)
    with pytest.raises(StoreTooOld if version < SCHEMA_VERSION else StoreTooNew) as refused:
        await target.open(existing=True)
    message = str(refused.value)
    assert "\n" not in message
    assert not refused.value.retryable
    if version < SCHEMA_VERSION:
        assert message.endswith(f" has schema version {OLD}, {ADVICE}"), message
    else:
        assert f"(schema version {version}; this version knows up to {SCHEMA_VERSION})" in message
    assert (target.schema or str(target.path)) in message
    assert _as_it_is(target) == before
    if version < SCHEMA_VERSION:  # the bot of this version migrates it still
        store = await target.open()
        await store.aclose()
        assert target.raw("SELECT MAX(version) FROM schema_migrations") == [(SCHEMA_VERSION,)]


async def test_a_reader_opens_a_store_of_this_version(target: Target) -> None:
    await asyncio.to_thread(_build, target, SCHEMA_VERSION)
    async with await target.open(existing=True) as store:
        (record,) = await store.conversations()
    assert record.conversation == "/conv/old"


async def test_a_reader_does_not_wait_for_the_write_lock_of_a_bot(tmp_path: Path) -> None:
    """Opening a store to read it ran the migrations' write transaction, which waited for
    a bot's write lock (a long commit, a checkpoint) and failed past the busy timeout
    (``StoreLocked``), although a read under WAL needs no lock at all."""
    path = tmp_path / "bot.sqlite3"
    target = Target("sqlite", path=path)
    await asyncio.to_thread(_build, target, SCHEMA_VERSION)
    bot = sqlite3.connect(path, isolation_level=None)
    try:
        bot.execute("BEGIN IMMEDIATE")  # held until the reader is done
        bot.execute("UPDATE conversations SET state = 'menu'")
        async with await target.open(existing=True, busy_timeout=0.05) as store:
            (record,) = await store.conversations()
        assert record.state == "greeting"  # what was committed: the bot's write is not
    finally:
        bot.execute("ROLLBACK")
        bot.close()


def test_a_reader_beside_a_running_older_bot_leaves_its_schema_alone(tmp_path: Path) -> None:
    """The case that matters: the older bot has the file open, its last writes still in the
    WAL (so the file is looked at through a read-only connection, not as immutable)."""
    target = Target("sqlite", path=tmp_path / "bot.sqlite3")
    assert target.path is not None
    _build(target, OLD)
    bot = sqlite3.connect(target.path, isolation_level=None)
    try:
        bot.execute("PRAGMA wal_autocheckpoint=0")
        bot.execute("UPDATE conversations SET state = 'menu'")
        assert Path(f"{target.path}-wal").stat().st_size > 0
        before = target.path.read_bytes()
        done = _cli(["transcripts", "list", "--state", str(target.path)])
        assert done.returncode == 1, done.stderr
        assert done.stderr.endswith(f" has schema version {OLD}, {ADVICE}\n"), done.stderr
        assert bot.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (OLD,)
        tables = bot.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        assert ("campaigns",) not in tables
        assert target.path.read_bytes() == before
    finally:
        bot.close()


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [UCWA_FLOW, *args], capture_output=True, text=True, timeout=WAIT, check=False
    )


COMMANDS = {
    "transcripts list": ["transcripts", "list"],
    "transcripts show": ["transcripts", "show", "old"],
    "transcripts export": ["transcripts", "export"],
    "transcripts prune": ["transcripts", "prune", "--older-than", "1d"],
    "replay": ["replay", HELPDESK],
    "review": ["review", HELPDESK, "--listen", "127.0.0.1:0"],
}
#: each command with an older store; a newer one, refused as before, with one of them
CASES = [
    *((command, OLD) for command in COMMANDS),
    ("transcripts list", SCHEMA_VERSION + 1),
]


@pytest.mark.parametrize(("command", "version"), CASES, ids=lambda v: str(v).replace(" ", "-"))
def test_the_reading_commands_refuse_a_store_of_another_version_in_one_line(
    target: Target, command: str, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refused(target, COMMANDS[command], command == "review", version, monkeypatch)


@pytest.mark.parametrize("version", [OLD, SCHEMA_VERSION + 1], ids=["older", "newer"])
def test_workers_refuses_a_store_of_another_version_in_one_line(
    pg_target: Target, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refused(pg_target, ["workers"], True, version, monkeypatch)


def _refused(
    target: Target, command: list[str], store: bool, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``command`` on a store at ``version`` (``store``: it names a file with --store
    too): one line, status 1, the store as it was."""
    monkeypatch.delenv("UCWA_FLOW_STORE", raising=False)
    _build(target, version)
    before = _as_it_is(target)
    if target.backend == "sqlite":
        where = ["--store" if store else "--state", str(target.path)]
        shown = str(target.path)
    else:
        assert target.url is not None
        # a password (the server trusts this client: it is not asked for) that never shows
        url = target.url.replace("postgres@", "postgres:s3cret@", 1)
        assert "s3cret" in url
        where = ["--store", f"{url}&options=-csearch_path%3D{target.schema}"]
        shown = f"postgres:***@{url.split('@', 1)[1].split('?')[0]}?options="
    done = _cli([*command, *where])
    assert done.returncode == 1, (done.stdout, done.stderr)
    (said,) = done.stderr.splitlines()
    assert said.startswith("ucwa-flow: error: "), said
    assert shown in said, said
    assert "s3cret" not in said
    if version < SCHEMA_VERSION:
        assert said.endswith(f" has schema version {OLD}, {ADVICE}"), said
    else:
        assert said.endswith(
            f"was written by a newer ucwa-flow (schema version {version}; this version "
            f"knows up to {SCHEMA_VERSION}): upgrade ucwa-flow to use it"
        ), said
    assert _as_it_is(target) == before

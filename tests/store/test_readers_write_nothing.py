"""The commands that read a SQLite store (``transcripts list/show/export``, ``replay``,
``review --store``) write nothing to it, and read every store they can read.

They opened it read-write once they had looked at it: a store a bot that crashed left with
its last writes in the ``-wal`` file was checkpointed into the file and its ``-wal`` and
``-shm`` files deleted; a rollback-journal copy (``VACUUM INTO``, a backup) was put in WAL
mode; ``-wal`` and ``-shm`` files were created while they read; a read-only file or a file in
a read-only folder could not be read at all. And through a symbolic link they looked for the
``-wal`` file beside the link, not beside the file, so a store a bot had just migrated (the
migration still in its ``-wal`` file) was refused as older.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_cli import UCWA_FLOW
from tests.guards import WAIT
from tests.store.builders import ACCOUNT, conversation
from tests.store.conftest import Target
from tests.store.test_readers_keep_the_schema import _build
from ucwa_flow.store import SCHEMA_VERSION, Changes, StoreError, open_store
from ucwa_flow.store import _sqlite as sqlite_backend
from ucwa_flow.store._sqlite_readonly import ReadOnlyFile


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _kept(folder: Path, before: dict[str, bytes]) -> None:
    """The files of ``folder`` are ``before``'s, but for the empty ``-wal`` and the ``-shm``
    file a read-only connection to a WAL database creates and leaves (a bot uses them)."""
    after = _files(folder)
    for name, data in after.items():
        if name not in before:
            assert name.endswith(("-wal", "-shm")), name
            assert name.endswith("-shm") or data == b"", name
    assert {name: after[name] for name in before} == before


def _version(path: Path, uri: str = "") -> int:
    conn = sqlite3.connect(f"{path.as_uri()}?{uri}", uri=True)
    try:
        return int(conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0])
    finally:
        conn.close()


def _journal(path: Path) -> bytes:
    """The header's file format versions: 1 1 is a rollback journal, 2 2 WAL."""
    return path.read_bytes()[18:20]


def _cli(args: list[str], *, user: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(user or []), UCWA_FLOW, *args],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


async def test_through_a_link_a_reader_sees_the_migration_a_bot_has_in_its_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot of this version has migrated the store; its checkpoint has not run yet."""
    monkeypatch.setattr(sqlite_backend, "CHECKPOINT_SECONDS", 3600.0)  # not while we look
    real = tmp_path / "disk" / "bot.sqlite3"
    await asyncio.to_thread(_build, Target("sqlite", path=real), SCHEMA_VERSION - 1)
    link = tmp_path / "bot.sqlite3"
    link.symlink_to(real)
    bot = await open_store(link, exclusive=True)
    try:
        assert _files(real.parent)["bot.sqlite3-wal"]  # the migration
        assert "bot.sqlite3-wal" not in _files(tmp_path)  # beside the link: none
        assert _version(real, "immutable=1") == SCHEMA_VERSION - 1  # the file alone: older
        done = await asyncio.to_thread(_cli, ["transcripts", "list", "--state", str(link)])
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[1].endswith(" ended: bot (stop)  0 in, 0 out  old")
        for options in ({"read_only": True}, {"existing": True}):  # a reader; prune's look
            async with await open_store(link, **options) as store:
                (record,) = await store.conversations()
            assert record.conversation == "/conv/old"
    finally:
        await bot.aclose()


async def test_a_reader_leaves_a_crashed_bots_wal_as_it_is_and_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await asyncio.to_thread(_build, Target("sqlite", path=path), SCHEMA_VERSION)
    crash = (
        "import os, sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('PRAGMA wal_autocheckpoint=0')\n"
        "conn.execute(\"UPDATE conversations SET state = 'menu'\")\n"
        "os._exit(0)\n"  # no close: no checkpoint, the -wal and -shm files stay
    )
    crashed = [sys.executable, "-c", crash, str(path)]
    await asyncio.to_thread(subprocess.run, crashed, check=True, timeout=WAIT)
    before = _files(tmp_path)
    assert set(before) == {"bot.sqlite3", "bot.sqlite3-wal", "bot.sqlite3-shm"}
    async with await open_store(path, read_only=True) as store:
        (record,) = await store.conversations()
    assert record.state == "menu"  # the crashed bot's last commit, in the -wal file
    done = _cli(["transcripts", "list", "--state", str(path)])
    assert done.returncode == 0, done.stderr
    after = _files(tmp_path)
    assert set(after) == set(before)
    for name in ("bot.sqlite3", "bot.sqlite3-wal"):  # the -shm file: the WAL's index
        assert after[name] == before[name], name


async def test_a_reader_leaves_a_rollback_journal_copy_in_its_mode(tmp_path: Path) -> None:
    """A copy made by ``VACUUM INTO`` (a backup) is in rollback-journal mode."""
    path = tmp_path / "bot.sqlite3"
    await asyncio.to_thread(_build, Target("sqlite", path=path), SCHEMA_VERSION)
    copy = tmp_path / "backup" / "copy.sqlite3"
    copy.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("VACUUM INTO ?", (str(copy),))
    conn.close()
    assert _journal(copy) == b"\x01\x01"
    before = _files(copy.parent)
    async with await open_store(copy, read_only=True) as store:
        (record,) = await store.conversations()
    assert record.conversation == "/conv/old"
    for command in (["transcripts", "list"], ["transcripts", "export"]):
        done = _cli([*command, "--state", str(copy)])
        assert done.returncode == 0, done.stderr
    assert _files(copy.parent) == before
    assert _journal(copy) == b"\x01\x01"


async def test_a_reader_keeps_the_file_and_sees_a_bot_that_starts_later(tmp_path: Path) -> None:
    """``review --store`` keeps its store open: it reads it through a read-only connection
    (which leaves the file as it is, but for an empty ``-wal`` and a ``-shm`` file beside
    it); it reads what a bot started since then writes, and never holds up its commits."""
    path = tmp_path / "bot.sqlite3"
    await asyncio.to_thread(_build, Target("sqlite", path=path), SCHEMA_VERSION)
    before = _files(tmp_path)
    reader = await open_store(path, read_only=True)
    try:
        assert [r.conversation for r in await reader.conversations()] == ["/conv/old"]
        _kept(tmp_path, before)
        bot = await open_store(path, exclusive=True)
        try:
            await bot.commit(ACCOUNT, Changes(conversations=(conversation("new"),)))
            seen = {r.conversation for r in await reader.conversations()}
            assert seen == {"/conv/old", "/conv/new"}
            await bot.commit(ACCOUNT, Changes(conversations=(conversation("newer"),)))
            assert len(await reader.conversations()) == 3
        finally:
            await bot.aclose()
        assert len(await reader.conversations()) == 3
    finally:
        await reader.aclose()
    assert _files(tmp_path)["bot.sqlite3"] != before["bot.sqlite3"]  # the bot's, checkpointed


def test_an_immutable_read_of_a_file_that_changed_meanwhile_is_not_trusted(
    tmp_path: Path,
) -> None:
    """A store no program has open is read as immutable; a bot that starts, writes,
    checkpoints and closes meanwhile changes the file under that read: the read is not
    trusted (the store's read is refused, retryable) and the next one reads afresh."""
    path = tmp_path / "bot.sqlite3"
    _build(Target("sqlite", path=path), SCHEMA_VERSION)
    file = ReadOnlyFile(path, 1.0, look=True)
    try:
        conn = file.connection()
        assert conn.execute("SELECT count(*) FROM conversations").fetchone() == (1,)
        assert file.unchanged()
        bot = sqlite3.connect(path, isolation_level=None)
        bot.execute("DELETE FROM conversations")
        bot.close()  # the last connection: checkpointed into the file, -wal deleted
        assert not Path(f"{path}-wal").exists()
        later = path.stat().st_mtime_ns + 10**9  # a file system's time may be coarse
        os.utime(path, ns=(later, later))
        assert not file.unchanged()
        again = file.connection()
        assert again is not conn
        assert again.execute("SELECT count(*) FROM conversations").fetchone() == (0,)
        assert file.unchanged()
    finally:
        file.close()


async def test_a_read_beside_a_bot_that_starts_on_the_file_is_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a store read by a command that keeps reading it is never read as immutable where a
    # bot may start on it: a bot's write and checkpoint during a read left that read (an
    # immutable one) answering from two states, or "a malformed disk image"
    path = tmp_path / "bot.sqlite3"
    await asyncio.to_thread(_build, Target("sqlite", path=path), SCHEMA_VERSION)
    store = await open_store(path, read_only=True)
    try:
        opened = ReadOnlyFile.connection

        def bot_meanwhile(file: ReadOnlyFile) -> sqlite3.Connection:
            conn = opened(file)
            monkeypatch.setattr(ReadOnlyFile, "connection", opened)  # once
            bot = sqlite3.connect(path, isolation_level=None)
            bot.execute("UPDATE conversations SET state = 'menu'")
            bot.close()
            return conn

        monkeypatch.setattr(ReadOnlyFile, "connection", bot_meanwhile)
        (record,) = await store.conversations()
        assert record.state == "menu"  # read after the bot's commit, whole
    finally:
        await store.aclose()


async def test_a_store_opened_to_be_read_cannot_be_written(target: Target) -> None:
    await asyncio.to_thread(_build, target, SCHEMA_VERSION)
    async with await target.open(read_only=True) as store:
        with pytest.raises(StoreError):
            await store.commit(ACCOUNT, Changes(conversations=(conversation("new"),)))
        assert store.commit_now(ACCOUNT, Changes()) is None
        assert len(await store.conversations()) == 1
    assert target.raw("SELECT count(*) FROM conversations") == [(1,)]


# -- read-only files and folders ------------------------------------------------------------


def _bound_by_permissions() -> list[str]:
    """The command prefix that runs a command so that permission bits apply to it: root
    reads and writes any file whatever its mode, unless it runs without the capabilities
    that let it (it stays root, so it still reads the checkout, wherever that is)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and setpriv is missing: permission bits do not apply")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


@pytest.mark.parametrize(
    ("kind", "file_mode", "folder_mode"),
    [
        ("store", 0o444, 0o755),
        ("store", 0o644, 0o555),
        ("backup copy", 0o444, 0o555),
    ],
    ids=["read-only file", "read-only folder", "rollback copy in a read-only folder"],
)
def test_a_reader_reads_a_read_only_file_or_folder(
    tmp_path: Path, kind: str, file_mode: int, folder_mode: int
) -> None:
    user = _bound_by_permissions()
    folder = tmp_path / "state"
    path = folder / "bot.sqlite3"
    _build(Target("sqlite", path=path), SCHEMA_VERSION)
    if kind == "backup copy":
        conn = sqlite3.connect(path)
        conn.execute("VACUUM INTO ?", (f"{path}.copy",))
        conn.close()
        Path(f"{path}.copy").replace(path)
    path.chmod(file_mode)
    folder.chmod(folder_mode)
    before = _files(folder)
    assert set(before) == {"bot.sqlite3"}
    read_only = path if file_mode & 0o200 == 0 else folder
    writable = subprocess.run([*(user or []), "test", "-w", str(read_only)], check=False)
    assert writable.returncode != 0  # the permission bits stop this user
    for command in (["transcripts", "list"], ["transcripts", "show", "old"]):
        done = _cli([*command, "--state", str(path)], user=user)
        assert done.returncode == 0, done.stderr
        assert "old" in done.stdout
    if folder_mode & 0o200 and file_mode & 0o200 == 0:  # a folder it may write in
        _kept(folder, before)
    else:
        assert _files(folder) == before


async def test_a_loop_of_links_is_a_store_error(tmp_path: Path) -> None:
    # a bare RuntimeError ("Symlink loop") came out of open_store
    loop = tmp_path / "bot.sqlite3"
    loop.symlink_to(loop.name)
    with pytest.raises(StoreError) as refused:
        await open_store(loop, read_only=True)
    assert str(loop) in str(refused.value)

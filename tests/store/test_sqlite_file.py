"""The SQLite backend's file: where it goes, how it is set up, and what goes wrong with it."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import gc
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.guards import WAIT
from tests.store.builders import ACCOUNT, conversation, position
from ucwa_flow.store import (
    Changes,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreInUse,
    StoreLocked,
    StoreUnavailable,
    _checkpointer,
    _sqlite,
    default_state_path,
    is_postgres_url,
    open_store,
)
from ucwa_flow.store._holder import lock_path
from ucwa_flow.store._sqlite import CHECKPOINT_ROWS, INLINE_ROWS, SqliteStore


def one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


async def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "bot.sqlite3"
    store = await open_store(path)
    await store.aclose()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"this is not a database, just some text\n" * 200)
    with pytest.raises(StoreCorrupt) as caught:
        await open_store(path)
    message = one_line(caught.value)
    assert str(path) in message
    assert "not a usable database" in message
    assert not caught.value.retryable


async def test_a_folder_in_place_of_the_file_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        await open_store(tmp_path)
    assert str(tmp_path) in one_line(caught.value)
    assert not caught.value.retryable


async def test_a_lock_held_by_another_process_is_retryable(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await open_store(path, busy_timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreLocked) as caught:
            await store.commit(ACCOUNT, Changes(position=position(1)))
        assert "locked by another process" in one_line(caught.value)
        assert caught.value.retryable
        # reads do not wait for a writer under WAL
        assert (await store.load(ACCOUNT)).application is None
        other.execute("ROLLBACK")

        await store.commit(ACCOUNT, Changes(position=position(1)))
        assert (await store.load(ACCOUNT)).application is not None
    finally:
        other.close()
        await store.aclose()


async def test_a_full_disk_is_retryable_and_loses_nothing_committed(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "bot.sqlite3")
    assert isinstance(store, SqliteStore)
    try:
        await store.commit(ACCOUNT, Changes(position=position(1), conversations=(conversation(),)))
        # the database may not grow past its current size: the same error as a full disk
        await store._call(lambda: _cap(store))
        big = conversation("big", variables={"blob": "x" * 200_000})
        with pytest.raises(StoreFull) as caught:
            await store.commit(ACCOUNT, Changes(position=position(2), conversations=(big,)))
        assert "disk is full" in one_line(caught.value)
        assert caught.value.retryable
        snapshot = await store.load(ACCOUNT)
        assert snapshot.conversations == (conversation(),)
        assert snapshot.application is not None
        assert snapshot.application.events_next == position(1).events_next
    finally:
        await store.aclose()


def _cap(store: SqliteStore) -> None:
    conn = store._conn
    assert conn is not None
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "bot.sqlite3")
    await store.aclose()
    await store.aclose()
    with pytest.raises(StoreError, match="is closed"):
        await store.load(ACCOUNT)


def test_the_default_path_is_under_the_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = default_state_path("sip:tosh/m@contoso.com")
    assert path == tmp_path / "state" / "ucwa-flow" / "tosh_m@contoso.com.sqlite3"

    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = default_state_path("bot@contoso.com")
    assert path == tmp_path / "home" / ".local" / "state" / "ucwa-flow" / "bot@contoso.com.sqlite3"


def test_the_target_chooses_the_backend() -> None:
    assert is_postgres_url("postgresql://u@h/db")
    assert is_postgres_url("postgres://u@h/db")
    assert is_postgres_url("PostgreSQL://u@h/db")
    assert not is_postgres_url("state/postgres.sqlite3")
    assert not is_postgres_url(Path("postgresql:/x"))


async def test_a_new_store_file_is_for_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "bot.sqlite3"
    store = await open_store(path)
    try:
        await store.commit(ACCOUNT, Changes(position=position(1)))
    finally:
        await store.aclose()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o077 == 0
    for extra in path.parent.iterdir():  # the -wal and -shm files, if any are left
        assert extra.stat().st_mode & 0o077 == 0, extra


async def test_a_small_commit_runs_at_once_on_the_callers_thread(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "bot.sqlite3")
    try:
        result = store.commit_now(ACCOUNT, Changes(position=position(1)))
        assert result is not None
        assert result.applied
        assert (await store.load(ACCOUNT)).application is not None
        # a large one is left to the store's thread, and nothing is written
        many = tuple(conversation(f"c{i}") for i in range(INLINE_ROWS + 1))
        assert store.commit_now(ACCOUNT, Changes(conversations=many)) is None
        assert (await store.load(ACCOUNT)).conversations == ()
        await store.commit(ACCOUNT, Changes(conversations=many))
        assert len((await store.load(ACCOUNT)).conversations) == INLINE_ROWS + 1
    finally:
        await store.aclose()


async def test_a_small_commit_does_not_wait_for_another_process(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await open_store(path, busy_timeout=30.0)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        # the lock is taken: not now, nothing written (the caller waits on commit() instead)
        assert store.commit_now(ACCOUNT, Changes(position=position(1))) is None
        waiting = asyncio.ensure_future(store.commit(ACCOUNT, Changes(position=position(1))))
        other.execute("ROLLBACK")
        assert (await waiting).applied
        assert store.commit_now(ACCOUNT, Changes(position=position(2))) is not None
        application = (await store.load(ACCOUNT)).application
        assert application is not None
        assert application.events_next == position(2).events_next
    finally:
        other.close()
        await store.aclose()


async def test_checkpoints_run_beside_the_writes(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await open_store(path)
    assert isinstance(store, SqliteStore)
    checkpoints = store._checkpoints
    assert checkpoints is not None
    try:
        runs = checkpoints.runs
        # (opening wrote too: the migration counts as one row)
        for n in range(CHECKPOINT_ROWS - 1 - checkpoints._written):
            assert store.commit_now(ACCOUNT, Changes(position=position(n))) is not None
        # so far the tables are in the WAL only: the database file has just its first page
        assert path.stat().st_size <= 4096
        # the next write crosses the mark: it is written at once, and a checkpoint starts
        # on a thread of its own, which copies the WAL into the file
        assert store.commit_now(ACCOUNT, Changes(position=position(0))) is not None
        for _ in range(2000):  # the loop turns; only the outcome is asserted
            if checkpoints.runs > runs:
                break
            await asyncio.sleep(0.01)
        assert checkpoints.runs == runs + 1
        assert path.stat().st_size > 4096
        # the WAL was all copied: the next write starts it over, which syncs its header,
        # so it goes to the store's thread; the one after it is inline again
        assert store.commit_now(ACCOUNT, Changes(position=position(1))) is None
        await store.commit(ACCOUNT, Changes(position=position(1)))
        assert store.commit_now(ACCOUNT, Changes(position=position(2))) is not None
    finally:
        await store.aclose()


def committed_in_the_file_alone(path: Path, copy: Path) -> int:
    """How many conversations the database file holds without its WAL (what a power cut
    that lost the WAL's unsynced pages would leave)."""
    copy.write_bytes(path.read_bytes())
    conn = sqlite3.connect(copy)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'conversations'").fetchall():
            return 0
        return int(conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0])
    except sqlite3.DatabaseError:
        return -1  # copied while a checkpoint was writing the file: not yet
    finally:
        conn.close()


async def test_a_quiet_stores_commits_are_checkpointed_soon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "CHECKPOINT_SECONDS", 0.05)
    path, copy = tmp_path / "bot.sqlite3", tmp_path / "copy.sqlite3"
    store = await open_store(path)
    try:
        # far fewer rows than CHECKPOINT_ROWS, some inline, some on the store's thread
        assert store.commit_now(ACCOUNT, Changes(conversations=(conversation("c1"),)))
        assert committed_in_the_file_alone(path, copy) == 0  # in the WAL only, for now
        for _ in range(2000):  # the loop turns: no time is asserted, only the outcome
            if committed_in_the_file_alone(path, copy) == 1:
                break
            await asyncio.sleep(0.01)
        assert committed_in_the_file_alone(path, copy) == 1
        many = tuple(conversation(f"d{i}") for i in range(INLINE_ROWS + 1))
        await store.commit(ACCOUNT, Changes(conversations=many))
        for _ in range(2000):
            if committed_in_the_file_alone(path, copy) == 2 + INLINE_ROWS:
                break
            await asyncio.sleep(0.01)
        assert committed_in_the_file_alone(path, copy) == 2 + INLINE_ROWS
    finally:
        await store.aclose()


#: how often the WAL must start over in the tests below: about 700 and 50 times seen, where
#: with the checkpoints beside the writes alone it started over 0-8 times and grew to
#: 70-180 MB (counted by the header's salt: the file's size depends on the machine's load)
RESTARTS_AT_LEAST = 50
RESTARTS_BESIDE_A_READER_AT_LEAST = 5


def wal_salt(path: Path) -> bytes:
    """The WAL header's first salt: SQLite writes a new one each time the WAL starts over."""
    wal = path.with_name(path.name + "-wal")
    with wal.open("rb") as file:
        return file.read(32)[16:20]


async def test_the_wal_starts_over_under_steady_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a checkpoint beside the writes never copies a WAL that grows while it runs: past the
    # mark, the writers checkpoint after their commits, and the next one starts it over
    monkeypatch.setattr(_checkpointer, "RESTART_FRAMES", 64)
    monkeypatch.setattr(_sqlite, "CHECKPOINT_ROWS", 20)
    path = tmp_path / "bot.sqlite3"
    store = await open_store(path)
    salts: list[bytes] = []
    try:
        for n in range(3000):
            many = tuple(conversation(f"c{n}-{i}") for i in range(INLINE_ROWS + 1))
            await store.commit(ACCOUNT, Changes(conversations=many))  # no pause between them
            salt = wal_salt(path)
            if not salts or salts[-1] != salt:
                salts.append(salt)
    finally:
        await store.aclose()
    assert len(salts) > RESTARTS_AT_LEAST, f"the WAL started over {len(salts) - 1} time(s)"


async def test_a_checkpoint_a_reader_held_up_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "CHECKPOINT_SECONDS", 0.05)
    path, copy = tmp_path / "bot.sqlite3", tmp_path / "copy.sqlite3"
    store = await open_store(path)
    assert isinstance(store, SqliteStore)
    checkpoints = store._checkpoints
    assert checkpoints is not None
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        for _ in range(2000):  # the tables opening made, all copied into the file
            if checkpoints.runs:
                break
            await asyncio.sleep(0.01)
        assert checkpoints.runs == 1
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM conversations").fetchall()  # a snapshot
        await store.commit(ACCOUNT, Changes(conversations=(conversation("c1"),)))
        for _ in range(50):  # several tries, all held up: c1 is newer than the snapshot
            await asyncio.sleep(0.01)
        assert checkpoints.runs == 1
        reader.execute("COMMIT")  # the reader lets go; no write comes any more
        for _ in range(2000):  # (runs counts once the thread is done with the file)
            if checkpoints.runs == 2 and committed_in_the_file_alone(path, copy) == 1:
                break
            await asyncio.sleep(0.01)
        assert committed_in_the_file_alone(path, copy) == 1
        assert checkpoints.runs == 2
    finally:
        reader.close()
        await store.aclose()


async def test_a_store_under_the_home_folder_is_checkpointed_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "CHECKPOINT_SECONDS", 0.05)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    path, copy = tmp_path / "state" / "bot.sqlite3", tmp_path / "copy.sqlite3"
    store = await open_store("~/state/bot.sqlite3")
    try:
        assert store.commit_now(ACCOUNT, Changes(conversations=(conversation("c1"),)))
        for _ in range(2000):
            if committed_in_the_file_alone(path, copy) == 1:
                break
            await asyncio.sleep(0.01)
        assert committed_in_the_file_alone(path, copy) == 1
        assert not (tmp_path / "~").exists()
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    ("code", "kind", "retryable"),
    [
        (errno.ENOSPC, StoreFull, True),  # a full disk may be cleared: the bot tries again
        (errno.EMFILE, StoreUnavailable, True),
        (errno.EACCES, StoreUnavailable, False),  # the deployment's to fix: serve refuses it
    ],
)
async def test_a_file_that_cannot_be_made_says_whether_it_may_pass(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    kind: type[StoreError],
    retryable: bool,
) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_sqlite.os, "open", refuse)
    with pytest.raises(StoreError) as caught:
        await open_store(tmp_path / "bot.sqlite3")
    assert type(caught.value) is kind
    assert caught.value.retryable is retryable
    assert str(tmp_path / "bot.sqlite3") in one_line(caught.value)


async def test_the_wal_starts_over_beside_a_reader_that_reads_again_and_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another process reads in short transactions, back to back: one is often in the WAL
    # when a write starts, so all copied is not enough; a RESTART waits for a gap
    monkeypatch.setattr(_checkpointer, "RESTART_FRAMES", 64)
    monkeypatch.setattr(_checkpointer, "RESTART_EVERY", 0.0)
    path = tmp_path / "bot.sqlite3"
    store = await open_store(path)
    stop = threading.Event()

    def read() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            while not stop.is_set():
                conn.execute("BEGIN")
                conn.execute("SELECT COUNT(*) FROM conversations").fetchall()
                stop.wait(0.002)
                conn.execute("COMMIT")
        finally:
            conn.close()

    reader = threading.Thread(target=read)
    reader.start()
    salts: list[bytes] = []
    try:
        for n in range(6000):  # one row each: inline, unless the WAL is long or fresh
            await store.commit(ACCOUNT, Changes(conversations=(conversation(f"c{n}"),)))
            salt = wal_salt(path)
            if not salts or salts[-1] != salt:
                salts.append(salt)
    finally:
        stop.set()
        reader.join()
        await store.aclose()
    assert len(salts) > RESTARTS_BESIDE_A_READER_AT_LEAST, (
        f"the WAL started over {len(salts) - 1} time(s)"
    )


async def test_a_store_closed_beside_another_checkpoints_what_it_wrote(tmp_path: Path) -> None:
    # `transcripts prune` beside a running bot: its close is not the last connection's,
    # which would checkpoint, and the bot may stay quiet for long
    path, copy = tmp_path / "bot.sqlite3", tmp_path / "copy.sqlite3"
    bot = await open_store(path)
    assert isinstance(bot, SqliteStore)
    checkpoints = bot._checkpoints
    assert checkpoints is not None
    try:
        for _ in range(2000):  # the bot's own tables, checkpointed
            if checkpoints.runs:
                break
            await asyncio.sleep(0.01)
        other = await open_store(path)
        await other.commit(ACCOUNT, Changes(conversations=(conversation("c1"),)))
        await other.aclose()
        assert committed_in_the_file_alone(path, copy) == 1
    finally:
        await bot.aclose()


@pytest.mark.parametrize("why", ["a file in place of its folder", "in use"])
async def test_a_store_that_fails_to_open_ends_its_thread(tmp_path: Path, why: str) -> None:
    """A failed open shut its thread down only once Python's cycle collector freed the
    store (the store, its last future and the error's traceback hold one another): a
    ``serve`` trying again (or any long-lived program) kept a thread per failed open. The
    collector is off here, so only the open itself can end them."""
    path = tmp_path / "bot.sqlite3"
    if why == "in use":  # as another process's hold does (a lock on another description)
        fd = os.open(lock_path(path), os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        (tmp_path / "file").write_text("")
        path = tmp_path / "file" / "bot.sqlite3"
    before = set(threading.enumerate())
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(3):
            with pytest.raises(StoreError) as caught:
                await open_store(path, exclusive=True)
            assert (type(caught.value) is StoreInUse) is (why == "in use")
        started = [
            thread
            for thread in threading.enumerate()
            if thread not in before and thread.name.startswith("ucwa-flow-")
        ]
        deadline = time.monotonic() + WAIT  # only bounds the old code's wait: they never end
        for thread in started:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert [thread.name for thread in started if thread.is_alive()] == []
    finally:
        if collecting:
            gc.enable()
        if why == "in use":
            os.close(fd)

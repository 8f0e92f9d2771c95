"""A bot's SQLite store (``open_store(path, exclusive=True)``) is held against other
processes while it is open; readers are not held back (``ucwa_flow.store._holder``).

The other process is a real one: ``python -c`` opening the same file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.guards import WAIT
from tests.store.builders import ACCOUNT, conversation
from ucwa_flow.store import (
    Changes,
    ConversationQuery,
    StoreCorrupt,
    StoreTooNew,
    _sqlite,
    open_store,
)
from ucwa_flow.store._holder import Hold

ROOT = Path(__file__).resolve().parents[2]

# opens the store as the bot would (exclusive) or as `transcripts` does, and reads it
_OTHER = """\
import asyncio, sys
from ucwa_flow.store import ConversationQuery, StoreError, open_store

async def main() -> None:
    store = await open_store(sys.argv[1], exclusive=sys.argv[2] == "bot")
    try:
        print(len(await store.conversations(ConversationQuery())))
    finally:
        await store.aclose()

try:
    asyncio.run(main())
except StoreError as exc:
    print(exc)
    sys.exit(1)
"""

# holds the store, then forks: the child's own exclusive open is refused
_FORKED = """\
import asyncio, os, sys
from ucwa_flow.store import StoreInUse, open_store

async def hold():
    return await open_store(sys.argv[1], exclusive=True)

async def again() -> int:
    try:
        store = await open_store(sys.argv[1], exclusive=True)
    except StoreInUse as exc:
        print(exc, flush=True)
        return 0
    await store.aclose()
    return 1

loop = asyncio.new_event_loop()
held = loop.run_until_complete(hold())
child = os.fork()
if child == 0:
    os._exit(asyncio.run(again()))
_, status = os.waitpid(child, 0)
loop.run_until_complete(held.aclose())
sys.exit(os.waitstatus_to_exitcode(status))
"""

# holds the store, forks a child that lives on (until told) and lets go: the child must not
# keep the lock; prints the child's pid once the parent has let go, waits for a line
_LETS_GO = """\
import asyncio, os, sys
from ucwa_flow.store import open_store

loop = asyncio.new_event_loop()
held = loop.run_until_complete(open_store(sys.argv[1], exclusive=True))
ready_r, ready_w = os.pipe()
go_r, go_w = os.pipe()
child = os.fork()
if child == 0:
    os.close(ready_r)
    os.close(go_w)
    os.write(ready_w, b"+")  # after the fork handlers have run
    os.read(go_r, 1)  # until the parent's end closes
    os._exit(0)
os.close(ready_w)
os.close(go_r)
os.read(ready_r, 1)
loop.run_until_complete(held.aclose())
print(child, flush=True)
sys.stdin.readline()
os.close(go_w)
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""

# forks while another thread holds the holder's guard: the child's open must not wait
# for a thread it does not have (exit 0: opened; 3: stuck)
_GUARDED = """\
import asyncio, os, sys, threading
from tests.guards import WAIT
from ucwa_flow.store import _holder, open_store

taken, done = threading.Event(), threading.Event()

def keep() -> None:
    with _holder._GUARD:
        taken.set()
        done.wait()

threading.Thread(target=keep, daemon=True).start()
taken.wait()
child = os.fork()
if child == 0:
    opened = threading.Event()

    def again() -> None:
        async def main() -> None:
            await (await open_store(sys.argv[1], exclusive=True)).aclose()

        asyncio.run(main())
        opened.set()

    threading.Thread(target=again, daemon=True).start()
    os._exit(0 if opened.wait(WAIT / 2) else 3)  # within _other's WAIT
done.set()
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


async def _other(path: Path, how: str, script: str = _OTHER) -> tuple[int, str]:
    """Another process opening ``path`` (``bot``: exclusive; ``reader``: not): its exit
    status and its output's last line."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script, str(path), how],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=WAIT,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout.strip()


def _started(script: str, path: Path) -> subprocess.Popen[str]:
    """``script`` on ``path`` started, its stdin and stdout pipes."""
    return subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _in_use(path: Path, pid: int) -> str:
    return (
        f"the store {path} is in use by another ucwa-flow process (pid {pid}); stop it "
        "first, or use a PostgreSQL store to share accounts between workers"
    )


async def test_another_process_running_a_bot_is_refused_and_readers_are_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    bot = await open_store(path, exclusive=True)
    try:
        await bot.commit(ACCOUNT, Changes(conversations=(conversation("c1"),)))
        assert (tmp_path / "bot.sqlite3.lock").read_text() == f"{os.getpid()}\n"
        assert await _other(path, "bot") == (1, _in_use(path, os.getpid()))
        assert await _other(path, "reader") == (0, "1")
        # in this process a reader opens, and closes, without letting the hold go
        reader = await open_store(path)
        assert len(await reader.conversations(ConversationQuery())) == 1
        await reader.aclose()
        assert (await _other(path, "bot"))[0] == 1
    finally:
        await bot.aclose()
    assert await _other(path, "bot") == (0, "1")  # closed: let go
    assert (tmp_path / "bot.sqlite3.lock").read_text() == ""  # no pid to mislead


async def test_a_second_bot_store_in_one_process_shares_the_hold_until_the_last_closes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    first = await open_store(path, exclusive=True)
    second = await open_store(path, exclusive=True)
    await first.aclose()
    assert await _other(path, "bot") == (1, _in_use(path, os.getpid()))
    await second.aclose()
    await second.aclose()  # twice: nothing more to let go
    assert await _other(path, "bot") == (0, "0")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork: POSIX")
async def test_a_forked_child_does_not_share_its_parents_hold(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await (await open_store(path)).aclose()  # the schema first: the child only opens
    code, line = await _other(path, "-", _FORKED)
    assert code == 0, line
    assert line.startswith(f"the store {path} is in use by another ucwa-flow process (pid ")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork: POSIX")
async def test_a_forked_child_does_not_keep_the_hold_after_its_parent_lets_go(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    await (await open_store(path)).aclose()
    parent = _started(_LETS_GO, path)
    assert parent.stdin is not None
    assert parent.stdout is not None
    try:
        child = int(await asyncio.to_thread(parent.stdout.readline))  # the parent let go
        os.kill(child, 0)  # alive: it waits for the parent's word
        assert await _other(path, "bot") == (0, "0")
        parent.stdin.write("go\n")
        parent.stdin.close()
        assert await asyncio.to_thread(parent.wait, WAIT) == 0
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork: POSIX")
async def test_a_child_forked_while_another_thread_holds_the_guard_opens(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    await (await open_store(path)).aclose()
    assert await _other(path, "-", _GUARDED) == (0, "")


async def test_an_open_cancelled_while_the_thread_connects_lets_the_hold_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bot.sqlite3"
    taking, go_on, taken = threading.Event(), threading.Event(), threading.Event()
    real = _sqlite.hold

    def held_up(database: Path, target: str) -> Hold:  # the store's thread, connecting
        taking.set()
        go_on.wait(WAIT)
        try:
            return real(database, target)
        finally:
            taken.set()

    monkeypatch.setattr(_sqlite, "hold", held_up)
    opening = asyncio.create_task(open_store(path, exclusive=True))
    assert await asyncio.to_thread(taking.wait, WAIT)
    opening.cancel()  # while the thread connects: it goes on, and takes the hold
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert await asyncio.to_thread(taken.wait, WAIT)
    assert await _other(path, "bot") == (0, "0")  # nobody has the store: nobody holds it


async def test_a_store_that_cannot_open_lets_the_hold_go(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"not a database, at all: a mistake" * 100)
    with pytest.raises(StoreCorrupt, match="not a usable database"):
        await open_store(path, exclusive=True)
    path.unlink()
    assert await _other(path, "bot") == (0, "0")


async def test_the_file_is_held_under_every_name_it_has(tmp_path: Path) -> None:
    real = tmp_path / "real" / "bot.sqlite3"
    (tmp_path / "linked").mkdir()
    alias = tmp_path / "linked" / "bot.sqlite3"
    async with await open_store(real, exclusive=True):
        alias.symlink_to(real)
        assert await _other(alias, "bot") == (1, _in_use(alias, os.getpid()))
    assert not (tmp_path / "linked" / "bot.sqlite3.lock").exists()


async def test_the_lock_file_is_its_owners_alone(tmp_path: Path) -> None:
    """Any user who could read the lock file could ``flock`` it, and keep the bot from
    starting (or stop a ``serve`` account) for as long as they liked."""
    previous = os.umask(0o022)  # a umask that leaves files readable by everyone
    try:
        store = await open_store(tmp_path / "bot.sqlite3", exclusive=True)
    finally:
        os.umask(previous)
    try:
        lock = tmp_path / "bot.sqlite3.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    finally:
        await store.aclose()


def _unlocked_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "going on without the lock" in r.getMessage()]


async def test_a_store_opened_without_the_lock_says_so_once_it_has_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.sqlite3"
    (tmp_path / "bot.sqlite3.lock").mkdir()  # a lock file that cannot be opened
    async with await open_store(path, exclusive=True):
        (said,) = _unlocked_warnings(caplog)
    assert said.startswith(f"the store {path} cannot be locked against a second")


async def test_a_store_that_cannot_open_says_its_error_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a read-only folder, or another user's files: the warning that the bot goes on without
    # the lock came first, then the error that it could not go on at all
    path = tmp_path / "bot.sqlite3"
    (tmp_path / "bot.sqlite3.lock").mkdir()
    path.write_bytes(b"not a database, at all: a mistake" * 100)
    with pytest.raises(StoreCorrupt):
        await open_store(path, exclusive=True)
    assert _unlocked_warnings(caplog) == []


async def test_a_store_too_new_says_its_error_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the warning was said once the file was connected, before the version was checked
    path = tmp_path / "bot.sqlite3"
    async with await open_store(path):
        pass
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (999, 'x', 0)"
        )
    db.close()
    (tmp_path / "bot.sqlite3.lock").mkdir()
    with pytest.raises(StoreTooNew):
        await open_store(path, exclusive=True)
    assert _unlocked_warnings(caplog) == []

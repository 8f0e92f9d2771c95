"""A SQLite store serves one bot process: a second ``serve`` or ``run`` on it is refused.

Real OS processes on the simulator of the test's own process (the tools of
:mod:`tests.e2e.serving`):

* beside a running ``serve``, a second ``serve`` of the same deployment and a ``run`` on
  the same account's file each end with one line naming the store and the first one's pid,
  and exit status 1, before signing in; ``transcripts`` and ``replay`` read the store; the
  first process serves on, every reply once;
* a ``serve`` killed with SIGKILL leaves no lock behind: the next ``run`` on its file
  carries its conversation on, and holds the file in its turn (a ``serve`` is refused,
  naming the new pid).

Every wait is on a condition, bounded by ``WAIT``; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from tests.e2e.serving import ServeProcess, Talker
from tests.e2e.test_cli import UCWA_FLOW
from tests.e2e.test_serve import PASSWORD, TOKEN, Scene, _deploy, _process, _ready, _scene
from tests.guards import WAIT
from tests.lines import Lines

BOT = "sip:desk1@contoso.com"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("UCWA_FLOW_")} | {
    "PYTHONUNBUFFERED": "1",
    "NO_COLOR": "1",
    "DESK_PASSWORD": PASSWORD,
    "ADMIN_TOKEN": TOKEN,
}


def _in_use(store: Path, pid: int) -> str:
    return (
        f"cannot open the conversation store: the store {store} is in use by another "
        f"ucwa-flow process (pid {pid}); stop it first, or use a PostgreSQL store to share "
        "accounts between workers"
    )


async def _ucwa_flow(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ucwa-flow ARGS`` to its end, on a thread (the simulator runs on this loop)."""
    return await asyncio.to_thread(
        subprocess.run,
        [UCWA_FLOW, *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env=ENV,
        timeout=WAIT,
        check=False,
    )


def _run_args(scene: Scene, store: Path) -> list[str]:
    flow = str(scene.folder / "desk.flow.yaml")
    return ["run", flow, "--server", scene.url, "--user", BOT, "--password", PASSWORD,
            "--state", str(store)]  # fmt: skip


def _started(folder: Path, args: list[str]) -> subprocess.Popen[str]:
    """``ucwa-flow ARGS`` started, its stderr a pipe."""
    return subprocess.Popen(
        [UCWA_FLOW, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder,
        env=ENV,
    )


def _refused(done: subprocess.CompletedProcess[str], store: Path, pid: int) -> None:
    """``done`` ended with status 1 and one line: plain (``run``) or the JSON log line of
    ``serve`` (its deployment logs JSON)."""
    assert done.returncode == 1, f"{done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stdout == "", done.stdout
    [line] = done.stderr.splitlines()
    message = json.loads(line)["message"] if line.startswith("{") else line
    assert message in (_in_use(store, pid), f"ucwa-flow: error: {_in_use(store, pid)}"), line


@contextlib.asynccontextmanager
async def _first_serving(scene: Scene, deploy: Path, talker: Talker) -> AsyncIterator[ServeProcess]:
    """The first ``serve``, ready, its first conversation greeted and answered once."""
    first = _process(scene, deploy, "first")
    first.start()
    try:
        await first.listening()
        await _ready(first, ["desk1"])
        assert await talker.say("ping 0", 2) == ["hello", "v1 pong 0"]
        yield first
    finally:
        await first.close()


async def test_a_second_serve_or_run_on_a_store_in_use_is_refused(tmp_path: Path) -> None:
    async with _scene(tmp_path, ["desk1"], {"c": 1}) as scene:
        deploy = _deploy(tmp_path, ["desk1"])
        store = tmp_path / "state" / "desk1@contoso.com.sqlite3"
        [talker] = scene.talkers("c", 1, "desk1")
        async with _first_serving(scene, deploy, talker) as first:
            second = await _ucwa_flow(tmp_path, "serve", str(deploy), "--server", scene.url)
            _refused(second, store, first.pid)
            _refused(await _ucwa_flow(tmp_path, *_run_args(scene, store)), store, first.pid)

            # what reads a store works beside the bot
            listed = await _ucwa_flow(
                tmp_path, "transcripts", "export", "--state", "state", "--account", BOT
            )
            assert listed.returncode == 0, listed.stderr
            assert "v1 pong 0" in listed.stdout, listed.stdout
            replayed = await _ucwa_flow(tmp_path, "replay", "desk.flow.yaml", "--state",
                                        str(store), "--account", BOT)  # fmt: skip
            assert replayed.returncode == 0, replayed.stdout + replayed.stderr

            # the first one serves on, untouched: one answer each, nothing twice
            assert await talker.say("ping 1") == ["v1 pong 1"]
            assert talker.heard() == ["hello", "v1 pong 0", "v1 pong 1"]
            first.signal(signal.SIGTERM)
            assert await first.wait() == 0, first.tail()


async def test_a_killed_serve_leaves_no_lock_and_the_next_run_holds_the_store(
    tmp_path: Path,
) -> None:
    async with _scene(tmp_path, ["desk1"], {"k": 1}) as scene:
        deploy = _deploy(tmp_path, ["desk1"])
        store = tmp_path / "state" / "desk1@contoso.com.sqlite3"
        [talker] = scene.talkers("k", 1, "desk1")
        async with _first_serving(scene, deploy, talker) as first:
            first.signal(signal.SIGKILL)
            assert await first.wait() == -signal.SIGKILL
        assert store.with_name(store.name + ".lock").exists()  # left, but nobody holds it

        with _started(tmp_path, _run_args(scene, store)) as bot:
            try:
                lines = Lines(bot.stderr)
                await asyncio.to_thread(lines.until, "Ctrl-C to stop")
                assert await talker.say("ping 1") == ["v1 pong 1"]
                second = await _ucwa_flow(tmp_path, "serve", str(deploy), "--server", scene.url)
                _refused(second, store, bot.pid)
                assert await talker.say("ping 2") == ["v1 pong 2"]
                bot.send_signal(signal.SIGINT)
                assert await asyncio.to_thread(bot.wait, WAIT) == 0, "".join(lines.seen)
            finally:
                if bot.poll() is None:
                    bot.kill()

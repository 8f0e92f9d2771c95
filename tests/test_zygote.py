"""The tests' warm start of ``ucwa-flow`` processes (:mod:`tests.zygote`) gives the process
a fresh start would: what it prints and how it exits, its streams, working directory,
environment and file descriptors, its signals, and a pid that is the test's own child."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests import zygote

ROOT = Path(__file__).resolve().parent.parent
MODULE = [sys.executable, "-m", "ucwa_flow"]
SCRIPT = [zygote.SCRIPT]
FRESH = "PYTHON_UCWA_FLOW_TESTS_FRESH"

pytestmark = pytest.mark.skipif(
    os.environ.get("UCWA_FLOW_TESTS_FORK") == "0" or not sys.platform.startswith("linux"),
    reason="the zygote is off (UCWA_FLOW_TESTS_FORK=0) or this is not Linux",
)


def _both(
    command: list[str],
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    **options: object,
) -> Iterator[subprocess.CompletedProcess[str]]:
    """``command`` run forked, then started the usual way (a ``PYTHON*`` variable, one the
    interpreter does not read, that the zygote does not have)."""
    for forked in (True, False):
        environment = dict(os.environ if env is None else env)
        if not forked:
            environment[FRESH] = "1"
        before = zygote.started
        done = subprocess.run(
            command, env=environment, cwd=cwd, capture_output=True, text=True, check=False,
            **options,
        )  # type: ignore[call-overload]  # fmt: skip
        assert (zygote.started > before) is forked
        yield done


@pytest.mark.parametrize("start", [MODULE, SCRIPT], ids=["-m", "script"])
def test_a_forked_command_prints_and_exits_as_a_fresh_one(start: list[str]) -> None:
    for args in (["--version"], ["validate", "nope.flow.yaml"], ["frobnicate"]):
        forked, fresh = _both([*start, *args], stdin=subprocess.DEVNULL)
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            fresh.returncode,
            fresh.stdout,
            fresh.stderr,
        ), args


def test_a_forked_run_reads_its_stdin_and_writes_its_stdout() -> None:
    said = "hello\nping\n"
    forked, fresh = _both([*MODULE, "run", "flows/echo.flow.yaml"], input=said)
    assert forked.returncode == fresh.returncode == 0, forked.stderr
    assert forked.stdout == fresh.stdout
    assert "hello" in forked.stdout


def test_the_working_directory_and_the_environment_are_the_requested_ones(
    tmp_path: Path,
) -> None:
    flow = ROOT / "flows" / "echo.flow.yaml"
    (tmp_path / "here.flow.yaml").write_text(flow.read_text(encoding="utf-8"), encoding="utf-8")
    forked, fresh = _both([*MODULE, "validate", "here.flow.yaml"], cwd=tmp_path)
    assert forked.returncode == fresh.returncode == 0, forked.stderr
    narrow, wide = (
        list(_both([*MODULE, "--help"], env=dict(os.environ, COLUMNS=width)))
        for width in ("40", "200")
    )
    assert narrow[0].stdout == narrow[1].stdout
    assert wide[0].stdout == wide[1].stdout
    assert narrow[0].stdout != wide[0].stdout  # (click wraps the help to COLUMNS)


def test_the_process_is_our_child_with_only_the_descriptors_it_was_given(
    tmp_path: Path,
) -> None:
    before = zygote.started
    read, write = os.pipe()
    process = _simulator(os.environ, tmp_path, pass_fds=(write,))
    os.close(write)
    try:
        assert zygote.started == before + 1
        stat = Path(f"/proc/{process.pid}/stat").read_text(encoding="utf-8")
        assert int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()  # its parent: us
        assert Path(f"/proc/{process.pid}/cwd").resolve() == tmp_path.resolve()
        fds = {int(fd) for fd in os.listdir(f"/proc/{process.pid}/fd")}
        assert write in fds  # passed
        assert zygote._zygote is not None
        theirs = _links(zygote._zygote._process.pid)
        ours = _links(process.pid)
        assert not {link for link in theirs.values() if link.startswith("socket:")} & set(
            ours.values()
        )  # the zygote's socket is not inherited, nor its log
        assert ours[1] != theirs[1]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) in (0, 130, -signal.SIGINT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(read)


def _simulator(env: Mapping[str, str], cwd: Path, **options: Any) -> subprocess.Popen[bytes]:
    """``ucwa-flow simulate`` started, once it serves."""
    process = subprocess.Popen(
        [*MODULE, "simulate", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(env),
        cwd=cwd,
        **options,
    )
    assert process.stdout is not None
    process.stdout.readline()  # it serves
    return process


def _links(pid: int) -> dict[int, str]:
    folder = f"/proc/{pid}/fd"
    return {int(fd): os.readlink(f"{folder}/{fd}") for fd in os.listdir(folder)}


def test_killed_and_interrupted_processes_end_as_fresh_ones_do() -> None:
    outcomes = []
    for forked in (True, False):
        env = dict(os.environ)
        if not forked:
            env[FRESH] = "1"
        for how in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            process = _simulator(env, ROOT)
            process.send_signal(how)
            outcomes.append((forked, how, process.wait(timeout=30)))
            assert process.stdout is not None
            process.stdout.close()
    assert [o[2] for o in outcomes[:3]] == [o[2] for o in outcomes[3:]], outcomes


def test_asyncio_subprocesses_are_forked_and_waited_for() -> None:
    async def main() -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            *MODULE, "--version", stdout=asyncio.subprocess.PIPE, cwd=ROOT
        )
        out, _ = await process.communicate()
        return process.returncode or 0, out

    before = zygote.started
    code, out = asyncio.run(main())
    assert zygote.started == before + 1
    assert code == 0
    assert b"ucwa-flow" in out


def test_another_interpreter_setting_starts_the_usual_way(tmp_path: Path) -> None:
    def started(**env: str) -> bool:
        before = zygote.started
        done = subprocess.run(
            [*MODULE, "--version"], env=dict(os.environ, **env), capture_output=True, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
        return zygote.started > before

    def path(*folders: Path) -> str:
        return os.pathsep.join(filter(None, [*map(str, folders), os.environ.get("PYTHONPATH")]))

    assert started(PYTHONPATH=path(ROOT))  # where the package comes from anyway
    assert not started(PYTHONHASHSEED="7")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text("print('hooked')\n", encoding="utf-8")
    assert not started(PYTHONPATH=path(hook))  # a start-up hook would run
    copy = tmp_path / "copy"
    (copy / "ucwa_flow").mkdir(parents=True)
    assert not started(PYTHONPATH=path(copy))  # another copy of the package would be imported
    before = zygote.started
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert zygote.started == before


def test_a_forked_process_imports_from_its_own_python_path(tmp_path: Path) -> None:
    # a folder on PYTHONPATH comes before the interpreter's own, as in a fresh start
    extra = tmp_path / "extra"
    extra.mkdir()
    flow = tmp_path / "f.flow.yaml"
    flow.write_text((ROOT / "flows" / "echo.flow.yaml").read_text(encoding="utf-8"), "utf-8")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(extra), os.environ.get("PYTHONPATH")])),
    )
    forked, fresh = _both([*MODULE, "validate", str(flow)], env=env)
    assert forked.returncode == fresh.returncode == 0


def test_a_module_of_the_tests_is_forked_too() -> None:
    # the kill tests' waiting bot: an end of file instead of its go, and it exits
    before = zygote.started
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.ready_bot", "run", "flows/echo.flow.yaml"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert zygote.started == before + 1


def test_a_module_of_the_bench_is_forked_and_answers_as_a_fresh_one() -> None:
    # tests/bench starts each bench module for its arguments (a dozen starts)
    for args in (["bench.engine_load", "--help"], ["bench.engine_load", "many"], ["bench", "-h"]):
        forked, fresh = _both([sys.executable, "-m", *args], stdin=subprocess.DEVNULL)
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            fresh.returncode,
            fresh.stdout,
            fresh.stderr,
        ), args


@pytest.mark.parametrize("unbuffered", [True, False], ids=["PYTHONUNBUFFERED=1", "without"])
def test_a_start_with_a_pythonunbuffered_of_its_own_is_forked_with_its_streams(
    unbuffered: bool,
) -> None:
    # the suite's serve and run processes are given PYTHONUNBUFFERED=1, and a CI shell has
    # none: each of them started afresh (one of the two cases is the zygote's own setting)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, "-m", "tests.zygote.probe"]
    forked, fresh = _both(command, env=env, stdin=subprocess.DEVNULL)
    assert forked.returncode == fresh.returncode == 0, forked.stderr
    assert forked.stdout == fresh.stdout
    assert json.loads(forked.stdout)["stdout"] == [False, unbuffered]


@pytest.mark.parametrize("code", ["0", "3", "interrupt", "fail", "said"])
def test_a_forked_start_is_given_and_ends_as_a_fresh_one(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what exec would keep of the test's process: its working directory (no cwd given),
    # umask, ignored signals and limits; TZ from the environment; the exit as the
    # interpreter's, objects finalized at exit included
    import resource

    monkeypatch.chdir(tmp_path)
    env = dict(os.environ, TZ="Asia/Tokyo", ZYGOTE_PROBE="here")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    mask = os.umask(0o027)
    hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit[0], 999), limit[1]))
    before = zygote.started
    try:
        forked, fresh = (
            subprocess.run(
                [sys.executable, "-m", "tests.zygote.probe", code],
                env=dict(env, **({} if forked else {FRESH: "1"})),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
            )
            for forked in (True, False)
        )
    finally:
        os.umask(mask)
        signal.signal(signal.SIGHUP, hup)
        resource.setrlimit(resource.RLIMIT_NOFILE, limit)
    assert zygote.started == before + 1
    assert forked.returncode == fresh.returncode
    assert forked.stdout == fresh.stdout
    assert "/tmp" in forked.stdout or str(tmp_path) in forked.stdout
    # objects the probe held in __main__ and in a module the zygote imported, finalized at
    # the exit (in an order of the collector's)
    (forked_end, forked_rest), (fresh_end, fresh_rest) = (
        (
            sorted(e for e in lines if e.startswith("finalized")),
            [e for e in lines if not e.startswith("finalized")],
        )
        for lines in (forked.stderr.splitlines(), fresh.stderr.splitlines())
    )
    assert len(fresh_end) == 2, fresh.stderr
    assert forked_end == fresh_end
    # a traceback's frames above the probe differ (the zygote's, runpy's): its last line not
    assert forked_rest[-1:] == fresh_rest[-1:]


def test_a_signal_sent_as_soon_as_the_pid_is_known_is_not_lost() -> None:
    # before the forked process has its handlers it holds signals back: a SIGINT sent at
    # once ended it as a crash (127) or was lost (a simulator that served on). Sent at once
    # it ends the process as it ends a fresh start: by KeyboardInterrupt (130, or death by
    # SIGINT) when it comes before the simulator's own handler, or as the simulator's clean
    # stop (0) when the test was held back from sending it until after (a loaded machine:
    # a forked start reaches that handler within milliseconds)
    for _ in range(5):
        before = zygote.started
        process = subprocess.Popen(
            [*MODULE, "simulate", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=30) in (0, 130, -signal.SIGINT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert zygote.started == before + 1

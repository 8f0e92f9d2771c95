"""A warm start for the ``ucwa-flow`` processes the tests start: a zygote.

The suite starts about 370 ``ucwa-flow`` processes (``python -m ucwa_flow ...``, the
``ucwa-flow`` script, ``python -m tests....`` modules that run it, or the bench's
``python -m bench...`` modules, which import it too). On a 2-vCPU machine each spent
about 0.5 CPU s of its 0.8 importing the package before doing anything: close to a third
of the suite's CPU. Here one process per pytest worker, the zygote, imports the package
once, and each such start is a fork of it that becomes the process a fresh interpreter
would have been:

* its argv, environment, working directory (the test's own when none is given), session
  or process group, and what ``exec`` keeps of the test's process: umask, ignored
  signals, resource limits;
* standard streams made on the file descriptors the test asked for, as the interpreter
  makes them (buffered or not, line-buffered on a terminal and on stderr), every other file
  descriptor closed but ``pass_fds``, SIGINT raising ``KeyboardInterrupt``, and signals
  held back until all of this is done (one sent as soon as the pid is known is not lost);
* the command's ``__main__`` run as ``-m`` or a script runs it, and the interpreter's own
  exit (what it raises goes up to the zygote's top level): non-daemon threads joined,
  ``atexit``, objects finalized, the exit code of a ``SystemExit``, death by SIGINT after
  an uncaught ``KeyboardInterrupt``.

For the test nothing changes. :func:`install` replaces only ``Popen._execute_child``, so
``subprocess.Popen``, ``subprocess.run`` and asyncio's subprocesses keep their whole
interface, and the pid a test gets is its own child: the worker is a child subreaper
(``PR_SET_CHILD_SUBREAPER``) and the zygote forks through a short-lived middle process, so
the started process is re-parented to the worker before its pid is handed over; ``wait``,
``poll``, signals and asyncio's child watchers work as for any child.

What a forked start does not give: a fresh import of the package (a test of what a start
imports runs ``python -c``, which is never forked), a collector that walks the objects the
zygote made (they stay frozen, so the fork shares their pages instead of copying them all
at its first full collection; what the command itself makes is the collector's as in a fresh
start, its ``__main__`` included), a hash seed of its own, the command in
``/proc/PID/cmdline`` (it is the zygote's), and a traceback's outermost frames (the
zygote's instead of runpy's). The package is the checkout's the tests are in. The worker
being a subreaper, an orphan of any process it started (forked or not) is re-parented to
it and stays a zombie until the worker ends. Every other start (another program,
``-c`` or ``-X``, a ``preexec_fn``, a user or group, ``PYTHON*`` or locale variables that
are not the zygote's but ``PYTHONUNBUFFERED``, whose streams the fork makes, a missing
working directory) starts the usual way, and so does everything when
``UCWA_FLOW_TESTS_FORK=0`` or when the zygote cannot run.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import ctypes
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["install", "started"]

ROOT = Path(__file__).resolve().parents[2]
#: the ``ucwa-flow`` script beside this interpreter (the package's console entry point)
SCRIPT = str(Path(sys.executable).with_name("ucwa-flow"))
_PR_SET_CHILD_SUBREAPER = 36
_HEADER = struct.Struct("!I")
_PID = struct.Struct("!q")
_MAX_FDS = 253  # SCM_RIGHTS' own limit per message
_original = subprocess.Popen._execute_child  # type: ignore[attr-defined]
#: how many processes were started by a fork of the zygote (a test can tell it happened)
started = 0


#: what a fork makes as a fresh start would from the started process's own environment:
#: ``PYTHONUNBUFFERED`` (its standard streams; most of the suite's ``serve`` and ``run``
#: processes are given it, and CI's shell has none, so each of them started afresh)
_FORK_MAKES = frozenset({"PYTHONPATH", "PYTHONUNBUFFERED"})


def _interpreter_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables a fresh interpreter reads as it starts that a fork cannot take from
    the started process's environment (all of them but :data:`_FORK_MAKES`)."""
    return {
        k: v
        for k, v in env.items()
        if (k.startswith("PYTHON") and k not in _FORK_MAKES) or k in ("LANG", "LC_ALL", "LC_CTYPE")
    }


def _python_path(env: Mapping[str, str]) -> list[str]:
    return [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]


def _harmless(path: str) -> bool:
    """Whether a folder on a started process's ``PYTHONPATH`` (one not on the zygote's)
    would change nothing the zygote imported: no start-up hook in it, and no other copy of
    the package (tests put the checkout there, where the package comes from anyway)."""
    here = Path(path)
    if (here / "sitecustomize.py").exists() or (here / "usercustomize.py").exists():
        return False
    package = here / "ucwa_flow"
    return not package.exists() or package.resolve() == (ROOT / "ucwa_flow").resolve()


class _Zygote:
    """The worker's side of the zygote: one request at a time, over a Unix socket."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ)
        self.env = _interpreter_env(env)
        self.path = _python_path(env)
        self._log = Path(tempfile.gettempdir()) / f"ucwa-flow-tests-zygote-{os.getpid()}.log"
        fd = theirs.fileno()
        with open(self._log, "ab") as errors:
            self._process = subprocess.Popen(
                [sys.executable, "-c", f"from tests.zygote import _forked; _forked.serve({fd})"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=errors,
                stderr=errors,
                pass_fds=(fd,),
            )
        theirs.close()
        self._socket = ours
        self._lock = threading.Lock()
        atexit.register(self.close)
        # it says it is ready once it has imported the package (an end of file: it failed)
        if ours.recv(1) != b"+":
            self.close()
            raise OSError("the zygote did not start: see " + str(self._log))

    def start(self, request: dict[str, Any], fds: Sequence[int]) -> int:
        """Start the process ``request`` describes on ``fds``: its pid (a child of ours).

        No time limit: a zygote that is slow (a loaded machine) or stopped is waited for,
        since a start the usual way beside it could run the command twice. One that is gone
        fails the start (``OSError``): it may have forked the command before it went."""
        payload = pickle.dumps(request)
        with self._lock:
            try:
                self._socket.sendmsg(
                    [_HEADER.pack(len(payload)), payload],
                    [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())],
                )
                answer = _receive(self._socket, _PID.size)
            except BaseException as exc:
                # gone, or interrupted (a test's time limit, ^C): its answer would be the
                # next start's, so no start is asked of it again
                self._socket.close()
                if isinstance(exc, EOFError):
                    raise OSError(f"the tests' zygote is gone (see {self._log})") from exc
                raise
        (pid,) = _PID.unpack(answer)
        if pid <= 0:
            raise OSError("the zygote could not fork")
        return int(pid)

    def close(self) -> None:
        self._socket.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        with contextlib.suppress(OSError):
            if not self._log.stat().st_size:
                self._log.unlink()  # (what went wrong in the zygote stays to be read)


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            raise EOFError("the zygote is gone")
        data += part
    return data


_zygote: _Zygote | None = None
_broken = False
_starting = threading.Lock()


def _get() -> _Zygote | None:
    """The worker's zygote, started on first use; ``None`` when it cannot run."""
    with _starting:
        if _zygote is None and not _broken:
            _start()
    return _zygote


def _start() -> None:
    global _zygote, _broken
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:  # forks re-parented to us
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        _zygote = _Zygote()
    except BaseException as exc:  # (interrupted too: never half started)
        _broken = True
        if not isinstance(exc, (OSError, AttributeError)):
            raise


def _command(args: Any, executable: Any, env: Mapping[str, str]) -> dict[str, Any] | None:
    """What to run when ``args`` starts ``ucwa-flow`` (``python -m ucwa_flow`` or the
    script), a module of the tests (``python -m tests....``) or of the bench (``python -m
    bench...``): the module or the script, and the command's own ``sys.argv``."""
    if isinstance(args, (str, bytes, os.PathLike)) or not args:
        return None
    argv = [os.fsdecode(os.fspath(a)) for a in args]
    if executable is not None and os.fsdecode(os.fspath(executable)) != argv[0]:
        return None
    if argv[0] == sys.executable and argv[1:2] == ["-m"] and len(argv) > 2:
        module = argv[2]
        if module in ("ucwa_flow", "bench") or module.startswith(("tests.", "bench.")):
            return {"module": module, "script": None, "argv": ["-m", *argv[3:]]}
        return None
    program = argv[0]
    if os.sep not in program:
        program = shutil.which(program, path=env.get("PATH", os.defpath)) or ""
    if program == SCRIPT:
        return {"module": None, "script": SCRIPT, "argv": argv}
    return None


def _execute_child(
    self: subprocess.Popen[Any],
    args: Any,
    executable: Any,
    preexec_fn: Any,
    close_fds: bool,
    pass_fds: Sequence[int],
    cwd: Any,
    env: Mapping[str, str] | None,
    startupinfo: Any,
    creationflags: int,
    shell: bool,
    p2cread: int,
    p2cwrite: int,
    c2pread: int,
    c2pwrite: int,
    errread: int,
    errwrite: int,
    restore_signals: bool,
    gid: Any,
    gids: Any,
    uid: Any,
    umask: int,
    start_new_session: bool,
    process_group: int,
) -> None:
    """``Popen._execute_child``, through the zygote when the command is ``ucwa-flow``."""
    everything = (
        args, executable, preexec_fn, close_fds, pass_fds, cwd, env, startupinfo,
        creationflags, shell, p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite,
        restore_signals, gid, gids, uid, umask, start_new_session, process_group,
    )  # fmt: skip
    environment = dict(os.environ if env is None else env)
    command = None
    if (
        not shell
        and preexec_fn is None
        and close_fds
        and restore_signals
        and gid is None
        and gids is None
        and uid is None
        and umask < 0
        and len(pass_fds) + 3 <= _MAX_FDS
        and (cwd is None or os.path.isdir(cwd))
    ):
        command = _command(args, executable, environment)
    try:
        here = os.getcwd()
    except OSError:  # removed: only a start the usual way begins there
        command = None
    zygote = _get() if command is not None else None
    if (
        command is None
        or zygote is None
        or _interpreter_env(environment) != zygote.env
        or not all(map(_harmless, set(_python_path(environment)) - set(zygote.path)))
    ):
        _original(self, *everything)
        return
    sys.audit("subprocess.Popen", executable or args[0], args, cwd, env)
    stdio = [p2cread, c2pwrite, errwrite]
    fds = [fd if fd != -1 else i for i, fd in enumerate(stdio)] + [int(fd) for fd in pass_fds]
    request = {
        **command,
        "env": environment,
        "cwd": os.fsdecode(os.fspath(cwd)) if cwd is not None else here,
        "state": _process_state(),
        "session": bool(start_new_session),
        "group": process_group,
        "keep": [int(fd) for fd in pass_fds],
        "path": _python_path(environment),
        "zygote_path": zygote.path,
    }
    try:
        self.pid = zygote.start(request, fds)
    except BaseException:
        global _broken, _zygote
        _broken, _zygote = True, None  # the usual way from now on
        raise
    global started
    started += 1
    self._child_created = True  # type: ignore[attr-defined]
    self._close_pipe_fds(p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)  # type: ignore[attr-defined]


def _process_state() -> dict[str, Any]:
    """What a process inherits across ``exec`` from this one, besides its environment:
    its umask, the signals it ignores, its resource limits."""
    import resource
    import signal

    status = Path("/proc/self/status").read_text(encoding="ascii")
    mask = int(
        next(line for line in status.splitlines() if line.startswith("Umask:")).split()[1], 8
    )
    ignored = [
        int(s)
        for s in signal.valid_signals()
        if s not in (signal.SIGKILL, signal.SIGSTOP) and signal.getsignal(s) is signal.SIG_IGN
    ]
    limits = {
        name: resource.getrlimit(getattr(resource, name))
        for name in dir(resource)
        if name.startswith("RLIMIT_")
    }
    blocked = [int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])]
    return {"umask": mask, "ignored": ignored, "limits": limits, "mask": blocked}


def install() -> None:
    """Start ``ucwa-flow`` commands through a zygote in this process (see the module)."""
    if os.environ.get("UCWA_FLOW_TESTS_FORK", "1") == "0" or not sys.platform.startswith("linux"):
        return
    subprocess.Popen._execute_child = _execute_child  # type: ignore[attr-defined]

"""The zygote's side of :mod:`tests.zygote`: import the package once, then fork a process
per request that becomes what a fresh ``ucwa-flow`` start would have been, and runs it.

Each request comes on the worker's Unix socket with the file descriptors the process is to
have (its standard streams, then ``pass_fds``). The zygote forks a middle process, which
forks the requested one and exits at once: the requested one is re-parented to the worker
(a child subreaper) before its pid is sent back, so the worker can wait for it.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import gc
import io
import os
import pickle
import runpy
import signal
import socket
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any, NoReturn

from tests.zygote import _HEADER, _MAX_FDS, _PID, _receive

_ZYGOTE = os.getpid()


def serve(fd: int) -> None:
    """The zygote: import the package, then fork a process per request on socket ``fd``."""
    import importlib
    import pkgutil

    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # as cli.main does
    import ucwa_flow

    for module in pkgutil.walk_packages(ucwa_flow.__path__, "ucwa_flow."):
        if module.name != "ucwa_flow.__main__":
            with contextlib.suppress(ImportError):  # an optional part, its library absent
                importlib.import_module(module.name)
    gc.collect()
    gc.freeze()  # the forks share these pages, and their collector skips them
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # (ignored, its waitpid would fail)
    listener = socket.socket(fileno=fd)
    listener.sendall(b"+")  # ready
    while True:
        try:
            header, fds, _, _ = socket.recv_fds(listener, _HEADER.size, _MAX_FDS)
        except OSError:
            return
        if len(header) < _HEADER.size:
            return  # the worker is gone
        (size,) = _HEADER.unpack(header[: _HEADER.size])
        request = pickle.loads(_receive(listener, size))
        pid = _fork(request, fds, listener)
        for received in fds:
            os.close(received)
        listener.sendall(_PID.pack(pid))


def _fork(request: dict[str, Any], fds: list[int], listener: socket.socket) -> int:
    """Fork the requested process through a middle one that exits at once, so that it is
    re-parented to the worker (the subreaper) before its pid is told: -1 on failure."""
    read, write = os.pipe()
    # a signal sent as soon as the test has the pid waits until the process is what it is
    # to be (its handlers, its mask: _become); the middle one and the zygote never see it
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        middle = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return -1
    finally:
        if os.getpid() == _ZYGOTE:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    if middle == 0:
        os.close(read)
        try:
            pid = os.fork()
        except OSError:
            os._exit(1)
        if pid == 0:
            os.close(write)
            listener.detach()  # its file descriptor is closed with the others
            _become(request, fds)
        os.write(write, _PID.pack(pid))
        os._exit(0)
    os.close(write)
    answer = b""
    while len(answer) < _PID.size:
        part = os.read(read, _PID.size - len(answer))
        if not part:
            break
        answer += part
    os.close(read)
    os.waitpid(middle, 0)
    return _PID.unpack(answer)[0] if len(answer) == _PID.size else -1


def _become(request: dict[str, Any], fds: list[int]) -> NoReturn:
    """In the forked process: become what a fresh ``ucwa-flow`` start would be, and run it.

    What it raises, ``SystemExit`` included, goes up through the zygote's frames to the
    interpreter's top level, which ends the process as it ends any: the exit status,
    non-daemon threads joined, ``atexit``, what is printed as objects are finalized, and
    death by SIGINT after an uncaught ``KeyboardInterrupt``."""
    try:
        _arrange(request, fds)
    except BaseException:
        traceback.print_exc()
        os._exit(127)
    # The zygote's objects stay frozen: the collector never walks them, so the fork copies
    # only the pages it writes (unfrozen, the first full collection wrote to every page of
    # the zygote's heap: a start of ``validate`` took 0.26 CPU s instead of 0.08-0.10).
    # What it runs lives in a ``__main__`` of its own, which the collector and the exit
    # treat as in a fresh process (in the zygote's frozen one, nothing it held was
    # finalized at exit).
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    main.__annotations__ = {}
    sys.modules["__main__"] = main
    if "__mp_main__" in sys.modules:  # as multiprocessing sets it when it is imported
        sys.modules["__mp_main__"] = main
    atexit.register(_keep_modules)  # the last of the exit's callbacks (they run last first)
    # the test's own signal mask: what was sent meanwhile is delivered now
    signal.pthread_sigmask(signal.SIG_SETMASK, request["state"]["mask"])
    if request["script"]:  # as the interpreter runs a script: no restoring after it
        main.__file__ = request["script"]
        source = Path(request["script"]).read_bytes()
        exec(compile(source, request["script"], "exec"), main.__dict__)
    else:  # as ``-m`` runs a module
        runpy._run_module_as_main(request["module"])  # type: ignore[attr-defined]
    sys.exit(0)


def _keep_modules() -> None:
    """At exit, hold every module until the interpreter wipes the modules it still has.

    The interpreter's exit takes the modules out of ``sys.modules``, collects the garbage,
    then wipes the globals of each module still alive. A module the zygote imported and
    nothing else holds is kept alive only by the cycle between its globals and its
    functions, which is frozen: the collection cannot free it and the wipe skips it, so
    what the command had put in its globals would never be finalized (a fresh start frees
    it in that collection). Held from ``sys`` (wiped last), every module is wiped instead."""
    sys._zygote_modules = list(sys.modules.values())  # type: ignore[attr-defined]


def _arrange(request: dict[str, Any], fds: list[int]) -> None:
    _inherit(request["state"])
    if request["session"]:
        os.setsid()
    elif request["group"] >= 0:
        os.setpgid(0, request["group"])
    stdio, extra = fds[:3], fds[3:]
    keep = request["keep"]
    floor = max([*fds, *keep, 2]) + 1
    moved = [_dup_above(fd, floor) for fd in extra]
    for target, fd in enumerate(stdio):
        os.dup2(fd, target)
    for target, fd in zip(keep, moved, strict=True):
        os.dup2(fd, target)
    wanted = sorted({0, 1, 2, *keep})
    low = 0
    for fd in [*wanted, 1 << 20]:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    if request["cwd"] is not None:
        os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # TZ
    sys.argv = request["argv"]
    script = request["script"]
    first = [os.path.dirname(os.path.realpath(script)) if script else os.getcwd()]
    if request["env"].get("PYTHONSAFEPATH"):
        first = []  # (the zygote, started with it too, has no such entry either)
    # the interpreter's own part of the path (the zygote's, after its PYTHONPATH)
    rest = [p for p in sys.path[1:] if p not in request["zygote_path"]]
    sys.path[:] = [*first, *request["path"], *rest]
    _standard_streams(bool(request["env"].get("PYTHONUNBUFFERED")))


def _inherit(state: dict[str, Any]) -> None:
    """What ``exec`` would have kept of the worker: its umask, the signals it ignores (but
    SIGPIPE and SIGXFSZ, which ``Popen`` restores and the interpreter ignores again), its
    resource limits; and what a fresh interpreter sets: SIGINT raises ``KeyboardInterrupt``
    unless it is ignored. (Signals stay held back until :func:`_become` sets the mask.)"""
    import resource

    os.umask(state["umask"])
    kept = {signal.SIGPIPE, signal.SIGXFSZ}  # ignored by every interpreter
    ignored = set(state["ignored"]) - kept
    for number in signal.valid_signals() - kept - {signal.SIGKILL, signal.SIGSTOP}:
        with contextlib.suppress(OSError, ValueError):  # (the zygote's own back to default)
            signal.signal(number, signal.SIG_IGN if number in ignored else signal.SIG_DFL)
    if signal.SIGINT not in ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for name, limit in state["limits"].items():
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(getattr(resource, name), limit)


def _dup_above(fd: int, floor: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD, floor)


def _standard_streams(unbuffered: bool) -> None:
    """``sys.stdin``, ``stdout`` and ``stderr`` on file descriptors 0-2, as the interpreter
    makes them (``create_stdio``): its encodings and error handlers are the zygote's."""
    made = []
    for fd, old, name in ((0, sys.__stdin__, "<stdin>"), (1, sys.__stdout__, "<stdout>"),
                          (2, sys.__stderr__, "<stderr>")):  # fmt: skip
        write = fd > 0
        raw = io.FileIO(fd, "wb" if write else "rb", closefd=False)
        raw.name = name
        buffer: Any = raw
        if not (unbuffered and write):
            buffer = io.BufferedWriter(raw) if write else io.BufferedReader(raw)
        tty = raw.isatty()
        stream = io.TextIOWrapper(
            buffer,
            encoding=old.encoding if old is not None else "utf-8",
            errors=old.errors if old is not None else "strict",
            newline="\n",
            line_buffering=not unbuffered and (tty or fd == 2),
            write_through=unbuffered,
        )
        made.append(stream)
    for name, stream in zip(("stdin", "stdout", "stderr"), made, strict=True):
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)

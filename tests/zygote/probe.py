"""``python -m tests.zygote.probe [CODE]``: print what a started process is given, as JSON,
then exit with CODE: for :mod:`tests.test_zygote` to compare a forked start with a fresh
one. An object finalized at the interpreter's exit says so on stderr."""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time


class _Last:
    def __init__(self, where: str) -> None:
        self.where = where
        # (the order in which the exit wipes modules is not the point: __main__'s globals
        # may be gone when the one held by another module is finalized)
        self.write = os.write

    def __del__(self) -> None:
        self.write(2, f"finalized at exit: held {self.where}\n".encode())


def main() -> None:
    _last = _Last("by __main__")
    import ucwa_flow  # (the zygote imported it; a fresh start imports it here)

    ucwa_flow._probe_kept = _Last("by a module the zygote imported")
    mask = os.umask(0)
    seen = {
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "umask": mask,
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))[:-1],  # (the listing's own)
        "sighup": str(signal.getsignal(signal.SIGHUP)),
        "sigint": str(signal.getsignal(signal.SIGINT)),
        "sigpipe": str(signal.getsignal(signal.SIGPIPE)),
        "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "tz": time.tzname,
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "path0": sys.path[0],
        "stdout": [sys.stdout.line_buffering, getattr(sys.stdout, "write_through", None)],
        "stderr": [sys.stderr.line_buffering, sys.stderr.errors],
        "stdin": [sys.stdin.isatty(), sys.stdin.encoding],
        "env": os.environ.get("ZYGOTE_PROBE"),
    }
    print(json.dumps(seen))
    globals()["_kept"] = _last  # finalized with the module, at the interpreter's exit
    code = sys.argv[1] if len(sys.argv) > 1 else "0"
    if code == "interrupt":
        raise KeyboardInterrupt
    if code == "fail":
        raise RuntimeError("the probe failed as asked")
    sys.exit(int(code) if code.lstrip("-").isdigit() else code)


if __name__ == "__main__":
    main()

"""``python -m tests.service.sigterm_at POINT ucwa-flow ARGS...``: ``ucwa-flow ARGS`` with
a SIGTERM sent to itself at ``POINT`` of its start, where a signal from outside could land
(:mod:`ucwa_flow.cli._early_term`), with no timing involved:

* ``load``: as ``run`` or ``serve`` reads its file, before the event loop runs;
* ``loop``: as ``serve`` makes its service, in the loop but before its signal handlers.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import ucwa_flow.cli.run
import ucwa_flow.cli.serve
import ucwa_flow.service
from ucwa_flow.cli import main

F = TypeVar("F", bound=Callable[..., Any])


def _terminated_first(function: F) -> F:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)
        return function(*args, **kwargs)

    return call  # type: ignore[return-value]


def _patch(point: str) -> None:
    if point == "load":
        run, serve = ucwa_flow.cli.run, ucwa_flow.cli.serve
        run.load_or_exit = _terminated_first(run.load_or_exit)  # type: ignore[attr-defined]
        serve.load_deployment = _terminated_first(serve.load_deployment)  # type: ignore[attr-defined]
    elif point == "loop":
        ucwa_flow.service.Service = _terminated_first(ucwa_flow.service.Service)  # type: ignore[misc]
    else:
        raise SystemExit(f"unknown point {point!r}")


if __name__ == "__main__":
    _patch(sys.argv[1])
    sys.exit(main(sys.argv[2:]))

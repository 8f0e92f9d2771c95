"""``ucwa-flow`` that freezes its own process in the middle of sending a message (tests only).

``python -m tests.e2e.frozen_serve serve ...`` is ``python -m ucwa_flow serve ...`` with one
difference: once the file named by ``UCWA_FLOW_TEST_FREEZE`` exists, the next ``POST`` of a
message (UCWA ``sendMessage``) stops the process with ``SIGSTOP`` right after the request's
headers were written to the socket, before its body: where an outside ``SIGSTOP`` lands with
some luck when a worker has many sends under way. The file is removed and the request's
target (with its ``OperationContext``) written to the same name with the suffix
``.frozen``, so that the test knows when, and on which message, the process froze. A
``SIGCONT`` carries on from there, as it would after an outside ``SIGSTOP``.

And ``SIGUSR1`` stops the process with ``SIGSTOP`` from its event loop, between two steps of
its tasks: a freeze of a worker at any moment but the one the design cannot cover (a
request whose last lease check has passed and whose bytes are not yet written: about 300
lines of code that never wait, some 1 % of a busy worker's time, docs/ha.md, "The window
left"), where an outside ``SIGSTOP`` landed once under a heavily loaded run and a reply was
heard twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path
from typing import Any

import httpx
from httpcore._async.http11 import AsyncHTTP11Connection

from ucwa_flow.cli import main
from ucwa_flow.ucwa._connection import Connection

_send_head = Connection.send_head
_send_headers = AsyncHTTP11Connection._send_request_headers


async def _send_head_then_freeze(
    self: Connection, request: httpx.Request, data: bytes, within: float | None
) -> None:
    await _send_head(self, request, data, within)
    target = request.url.raw_path.decode()
    if request.method == "POST" and "/messaging/messages" in target and _disarm(target):
        os.kill(os.getpid(), signal.SIGSTOP)


def _disarm(target: str) -> bool:
    """Whether the freeze is armed; if so, disarm it and say on which request it froze."""
    armed = Path(os.environ["UCWA_FLOW_TEST_FREEZE"])
    if not armed.exists():
        return False
    armed.unlink()
    armed.with_suffix(".frozen").write_text(target, encoding="utf-8")
    return True


async def _send_headers_then_freeze(self: AsyncHTTP11Connection, request: Any) -> None:
    """The same for httpx's own transport (a worker's when the environment names a proxy)."""
    await _send_headers(self, request)
    target = bytes(request.url.target).decode()
    if request.method == b"POST" and "/messaging/messages" in target and _disarm(target):
        os.kill(os.getpid(), signal.SIGSTOP)


class _Policy(asyncio.DefaultEventLoopPolicy):
    """Every event loop of the main thread stops the process on ``SIGUSR1``."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        if threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGUSR1, os.kill, os.getpid(), signal.SIGSTOP)
        return loop


asyncio.set_event_loop_policy(_Policy())
Connection.send_head = _send_head_then_freeze  # type: ignore[method-assign]
AsyncHTTP11Connection._send_request_headers = _send_headers_then_freeze  # type: ignore[method-assign]

if __name__ == "__main__":
    main()

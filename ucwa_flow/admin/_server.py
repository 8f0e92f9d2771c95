"""Serving the admin app in the service's own event loop: :class:`AdminServer`.

uvicorn runs as a task of the running loop (no thread, no process), so the app reads the
service's live objects directly. It installs no signal handlers (the service owns SIGTERM,
SIGINT and SIGHUP), configures no logging (lines go through the process's handlers, so they
are formatted and redacted like every other line) and writes no access log: a scrape every
few seconds would drown the bots' lines, and the app logs the requests that change anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ucwa_flow._sockets import listen
from ucwa_flow.errors import OperationalError

__all__ = ["AdminServer"]

STOP_GRACE = 3.0  # seconds open requests get to finish on stop()

_HINTS = {
    errno.EADDRINUSE: " (is another ucwa-flow serve running? change admin.listen)",
    errno.EACCES: " (a port below 1024 needs privileges; use one such as 8470)",
    errno.EADDRNOTAVAIL: " (not an address of this machine; try 127.0.0.1)",
}


class _Quiet(H11Protocol):
    """HTTP/1.1 without access-log lines (uvicorn's ``access_log=False`` would instead
    cut the ``uvicorn.access`` logger off for the whole process)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the service handles signals, not uvicorn

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()


class AdminServer:
    """``app`` on ``host``:``port`` (``0``: a free port) in the running event loop.

    ``await start()`` returns the address it is bound to; ``await stop()`` closes it
    (open requests get :data:`STOP_GRACE` seconds). Binding problems are
    :class:`~ucwa_flow.errors.OperationalError` with one line saying what to change.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8470) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    async def start(self) -> tuple[str, int]:
        """Listen and serve; returns the bound ``(host, port)``."""
        if self._task is not None:
            raise RuntimeError("the admin server is already started")
        sock = _listen(self.host, self.port)
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            http=_Quiet,
            ws="none",
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=int(STOP_GRACE),
        )
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(
            server.serve(sockets=[sock]), name="ucwa-flow admin"
        )
        self._server, self._task, self._sock = server, task, sock
        up = asyncio.ensure_future(server.up.wait())
        await asyncio.wait([up, task], return_when=asyncio.FIRST_COMPLETED)
        if not server.up.is_set():  # serve() ended before it was up
            up.cancel()
            self._server = self._task = self._sock = None
            sock.close()
            reason = None if task.cancelled() else task.exception()
            raise OperationalError(
                f"the admin endpoint on {self.host}:{self.port} did not start"
                + (f": {reason}" if reason is not None else "")
            )
        host, port = sock.getsockname()[:2]
        return str(host), int(port)

    async def stop(self) -> None:
        """Stop serving (idempotent). An app with an :class:`asyncio.Event` as
        ``app.state.closing`` (:func:`~ucwa_flow.admin.create_app`'s) has it set first, so
        that its endless responses (event streams) end instead of holding the stop."""
        server, task, sock = self._server, self._task, self._sock
        self._server = self._task = self._sock = None
        closing = getattr(getattr(self.app, "state", None), "closing", None)
        if isinstance(closing, asyncio.Event):
            closing.set()
        if server is not None:
            server.should_exit = True
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if sock is not None:
            sock.close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (``[::1]`` or ``::1``), or one clear line."""
    return listen(
        host,
        port,
        what=" for the admin endpoint",
        hint=lambda exc, _: _HINTS.get(exc.errno or 0, ""),
    )

"""Serving the review app in the running event loop: :class:`ReviewServer`.

uvicorn runs as a task of the loop (``ucwa-flow review`` owns the loop; ``ucwa-flow run
--review`` shares the bot's, so the app reads the bot's live board directly). No signal
handlers, no access log; binding problems are one line
(:class:`~ucwa_flow.errors.OperationalError`) through :func:`ucwa_flow._sockets.listen`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Generator
from typing import Any

import uvicorn

from ucwa_flow._sockets import listen
from ucwa_flow.errors import OperationalError

__all__ = ["DEFAULT_LISTEN", "ReviewServer", "parse_listen"]

#: where ``ucwa-flow review`` listens by default
DEFAULT_LISTEN = "127.0.0.1:8300"
STOP_GRACE = 1.0  # seconds open requests (event streams) get on stop()

_HINTS = {
    errno.EADDRINUSE: " (is another review running? choose another port, or port 0)",
    errno.EACCES: " (a port below 1024 needs privileges; use one such as 8300)",
    errno.EADDRNOTAVAIL: " (not an address of this machine; try 127.0.0.1)",
}


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8300``, or ``:8300`` for 127.0.0.1) -> ``(host, port)``;
    :class:`ValueError` with a one-line reason otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8300)")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r}: the port must be a number from 0 to 65535")
    host = host or "127.0.0.1"
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"{text!r}: an IPv6 address is written [::1]:PORT")
    return host, int(port)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the command owns the signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()


class ReviewServer:
    """``app`` on ``host``:``port`` (``0``: a free port) in the running event loop."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8300) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    async def start(self) -> str:
        """Listen and serve; returns the URL to open (``http://127.0.0.1:8300/``)."""
        if self._task is not None:
            raise RuntimeError("the review server is already started")
        sock = listen(
            self.host,
            self.port,
            what=" for the review",
            hint=lambda exc, _: _HINTS.get(exc.errno or 0, ""),
        )
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=int(STOP_GRACE) or 1,
        )
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(
            server.serve(sockets=[sock]), name="ucwa-flow review"
        )
        self._server, self._task, self._sock = server, task, sock
        up = asyncio.ensure_future(server.up.wait())
        await asyncio.wait([up, task], return_when=asyncio.FIRST_COMPLETED)
        if not server.up.is_set():
            up.cancel()
            self._server = self._task = self._sock = None
            sock.close()
            reason = None if task.cancelled() else task.exception()
            raise OperationalError(
                f"the review on {self.host}:{self.port} did not start"
                + (f": {reason}" if reason is not None else "")
            )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}/"

    async def stop(self) -> None:
        """Stop serving (idempotent). The event streams of an app made by
        :func:`~ucwa_flow.review.create_app` end first (its ``state.closing``); others are
        cut after the grace time."""
        server, task, sock = self._server, self._task, self._sock
        self._server = self._task = self._sock = None
        closing = getattr(getattr(self.app, "state", None), "closing", None)
        if isinstance(closing, asyncio.Event):
            closing.set()
        if server is not None:
            server.should_exit = True
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), STOP_GRACE + 2)
            except TimeoutError:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if sock is not None:
            sock.close()

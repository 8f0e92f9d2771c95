"""An ASGI app served by uvicorn as a task of the running event loop (private).

The admin endpoint of ``ucwa-flow serve`` and the review app both run this way: no thread,
no process, so an app reads the live objects of the process directly. uvicorn installs no
signal handlers (the command owns SIGTERM, SIGINT and SIGHUP), configures no logging (lines
go through the process's handlers, formatted and redacted like every other line) and writes
no access log. :class:`LoopServer` is the one place that knows how; binding problems are
one line (:class:`~ucwa_flow.errors.OperationalError`) through
:func:`ucwa_flow._sockets.listen`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator, Mapping
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ucwa_flow._listen import format_listen
from ucwa_flow._sockets import listen
from ucwa_flow.errors import OperationalError

__all__ = ["LoopServer"]


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
        yield  # the command owns the signals, not uvicorn

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()


class LoopServer:
    """``app`` on ``host``:``port`` (``0``: a free port) in the running event loop.

    ``what`` names it in errors ("the admin endpoint"); ``hints`` add a clause to a
    binding error by its errno; ``grace`` is how long open requests get on :meth:`stop`.
    An app with an :class:`asyncio.Event` as ``app.state.closing`` has it set first on
    stop, so that its endless responses (event streams) end instead of holding the stop.
    """

    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        what: str,
        hints: Mapping[int, str],
        grace: float,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._what = what
        self._hints = hints
        self._grace = grace
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    async def serve(self) -> tuple[str, int]:
        """Listen and serve; returns the bound ``(host, port)``."""
        if self._task is not None:
            raise RuntimeError(f"{self._what} is already started")
        hints = self._hints
        sock = listen(
            self.host,
            self.port,
            what=f" for {self._what}",
            hint=lambda exc, _: hints.get(exc.errno or 0, ""),
        )
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            http=_Quiet,
            ws="none",
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=max(1, int(self._grace)),
        )
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(
            server.serve(sockets=[sock]), name=f"ucwa-flow {self._what}"
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
                f"{self._what} on {format_listen(self.host, self.port)} did not start"
                + (f": {reason}" if reason is not None else "")
            )
        host, port = sock.getsockname()[:2]
        return str(host), int(port)

    async def stop(self) -> None:
        """Stop serving (idempotent); what is still open after the grace time is cut."""
        server, task, sock = self._server, self._task, self._sock
        self._server = self._task = self._sock = None
        closing = getattr(getattr(self.app, "state", None), "closing", None)
        if isinstance(closing, asyncio.Event):
            closing.set()
        if server is not None:
            server.should_exit = True
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), self._grace + 2)
            except TimeoutError:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if sock is not None:
            sock.close()

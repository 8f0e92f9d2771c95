"""Serving a simulator over real HTTP with uvicorn, on loopback by default.

* ``async with serve(sim, host="127.0.0.1", port=0) as base_url:`` runs uvicorn in the
  current event loop (so a :class:`~ucwa_flow.clock.ManualClock` advanced by a test
  drives it); port 0 picks a free port; on exit held P-GETs are released and the server
  stops cleanly.
* :class:`ThreadedServer` runs it in a thread with its own loop for synchronous callers.

Both take ``tls=`` (:class:`~ucwa_flow.simulator.tls.TlsFiles`) to serve HTTPS like a real
front end; the URL is then ``https://``. Server start-up lives in :func:`_make_server` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable, Generator
from typing import TYPE_CHECKING, Any

import uvicorn

from ucwa_flow._sockets import listen
from ucwa_flow.errors import OperationalError
from ucwa_flow.simulator.core import Simulator

if TYPE_CHECKING:  # cryptography (0.1-0.3 s of CPU to import) only for a simulator on HTTPS
    from ucwa_flow.simulator.tls import TlsFiles

__all__ = ["ThreadedServer", "bind", "serve", "serve_app"]


class _QuietDrops(logging.Filter):
    # An injected "drop" fault leaves a response unfinished on purpose.
    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, handle_signals: bool) -> None:
        super().__init__(config)
        self._handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if self._handle_signals:
            with super().capture_signals():
                yield
        else:
            yield


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or :class:`OperationalError` with one clear line.

    ``host`` is an address or a name of this machine; the line says what to change when
    the name does not resolve, the port needs privileges or is taken.
    """
    return listen(host, port, backlog=512, hint=_bind_hint)


def _bind_hint(exc: OSError, port: int) -> str:
    if exc.errno == errno.EACCES and 0 < port < 1024:
        return (
            f" (port {port} needs administrator rights: run as root, grant "
            "CAP_NET_BIND_SERVICE, or use a port above 1023 such as 8443)"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return " (not an address of this machine; try 127.0.0.1)"
    return " (is another simulator running? try --port 0)" if port else ""


def _make_server(sim: Simulator, handle_signals: bool, tls: TlsFiles | None = None) -> _Server:
    if tls is not None:
        tls.server_context()  # unusable files: one clear line now, not a uvicorn traceback
    return _server_for(sim.app, handle_signals, tls)


def _server_for(app: Any, handle_signals: bool, tls: TlsFiles | None = None) -> _Server:
    config = uvicorn.Config(
        app,
        ssl_certfile=tls.cert_file if tls else None,
        ssl_keyfile=tls.key_file if tls else None,
        lifespan="off",
        http="h11",
        ws="none",
        log_level="warning",
        timeout_keep_alive=75,
        timeout_graceful_shutdown=5,
    )
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    return _Server(config, handle_signals)


def url_of(sock: socket.socket, tls: bool = False) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


@contextlib.asynccontextmanager
async def serve(
    sim: Simulator,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    handle_signals: bool = False,
    tls: TlsFiles | None = None,
) -> AsyncIterator[str]:
    """Serve ``sim`` in this event loop; yields the base URL (``http://127.0.0.1:N``).

    With ``tls`` it serves HTTPS with that certificate and yields ``https://...``.
    """
    sock = bind(host, port)
    try:
        server = _make_server(sim, handle_signals, tls)
    except BaseException:
        sock.close()
        raise
    async with _serving(server, sock, "the simulator server", tls is not None, sim.close) as url:
        yield url


@contextlib.asynccontextmanager
async def serve_app(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve any ASGI ``app`` over plain HTTP in this event loop, as :func:`serve` serves a
    simulator (no signal handling of its own); yields its base URL."""
    sock = bind(host, port)
    async with _serving(_server_for(app, False), sock, "the server", False) as url:
        yield url


@contextlib.asynccontextmanager
async def _serving(
    server: _Server,
    sock: socket.socket,
    what: str,
    tls: bool,
    on_exit: Callable[[], None] | None = None,
) -> AsyncIterator[str]:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise OperationalError(f"{what} stopped during start-up")
            await asyncio.sleep(0.01)
        yield url_of(sock, tls)
    finally:
        if on_exit is not None:
            on_exit()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


class ThreadedServer:
    """Run a simulator in a background thread (its own event loop, the system clock).

    ``with ThreadedServer(sim) as url: ...``; ``sim`` must use a clock that works in
    that thread's loop (the default :class:`~ucwa_flow.clock.SystemClock` does).
    ``tls`` serves HTTPS as in :func:`serve`.
    """

    def __init__(
        self,
        sim: Simulator,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: TlsFiles | None = None,
    ) -> None:
        self.sim = sim
        self._sock = bind(host, port)
        self.url = url_of(self._sock, tls is not None)
        try:
            self._server = _make_server(sim, handle_signals=False, tls=tls)
        except BaseException:
            self._sock.close()
            raise
        self._thread = threading.Thread(target=self._run, name="ucwa-simulator", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await self._server.serve(sockets=[self._sock])

        asyncio.run(main())

    def start(self) -> str:
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            self._thread.join(0.01)
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.sim.close)
            self._server.should_exit = True
            self._thread.join(10)
        self._sock.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

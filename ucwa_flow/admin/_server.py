"""Serving the admin app in the service's own event loop: :class:`AdminServer`.

uvicorn runs as a task of the running loop (no thread, no process), so the app reads the
service's live objects directly. It installs no signal handlers (the service owns SIGTERM,
SIGINT and SIGHUP), configures no logging (lines go through the process's handlers, so they
are formatted and redacted like every other line) and writes no access log: a scrape every
few seconds would drown the bots' lines, and the app logs the requests that change anything.
"""

from __future__ import annotations

import errno
from typing import Any

from ucwa_flow._uvicorn import LoopServer

__all__ = ["AdminServer"]

STOP_GRACE = 3.0  # seconds open requests get to finish on stop()

_HINTS = {
    errno.EADDRINUSE: " (is another ucwa-flow serve running? change admin.listen or --admin)",
    errno.EACCES: " (a port below 1024 needs privileges; use one such as 8470)",
    errno.EADDRNOTAVAIL: " (not an address of this machine; try 127.0.0.1)",
}


class AdminServer(LoopServer):
    """``app`` on ``host``:``port`` (``0``: a free port) in the running event loop.

    ``await start()`` returns the address it is bound to; ``await stop()`` closes it
    (open requests get :data:`STOP_GRACE` seconds). Binding problems are
    :class:`~ucwa_flow.errors.OperationalError` with one line saying what to change.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8470) -> None:
        super().__init__(app, host, port, what="the admin endpoint", hints=_HINTS, grace=STOP_GRACE)

    async def start(self) -> tuple[str, int]:
        """Listen and serve; returns the bound ``(host, port)``."""
        return await self.serve()

"""Serving the review app in the running event loop: :class:`ReviewServer`.

uvicorn runs as a task of the loop (``ucwa-flow review`` owns the loop; ``ucwa-flow run
--review`` shares the bot's, so the app reads the bot's live board directly). No signal
handlers, no access log; binding problems are one line
(:class:`~ucwa_flow.errors.OperationalError`) through :func:`ucwa_flow._sockets.listen`.
"""

from __future__ import annotations

import errno
from typing import Any

from ucwa_flow._uvicorn import LoopServer

__all__ = ["DEFAULT_LISTEN", "ReviewServer"]

#: where ``ucwa-flow review`` listens by default
DEFAULT_LISTEN = "127.0.0.1:8300"
STOP_GRACE = 1.0  # seconds open requests (event streams) get on stop()

_HINTS = {
    errno.EADDRINUSE: " (is another review running? choose another port, or port 0)",
    errno.EACCES: " (a port below 1024 needs privileges; use one such as 8300)",
    errno.EADDRNOTAVAIL: " (not an address of this machine; try 127.0.0.1)",
}


class ReviewServer(LoopServer):
    """``app`` on ``host``:``port`` (``0``: a free port) in the running event loop. The
    event streams of an app made by :func:`~ucwa_flow.review.create_app` end first on
    :meth:`stop` (its ``state.closing``); others are cut after the grace time."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8300) -> None:
        super().__init__(app, host, port, what="the review", hints=_HINTS, grace=STOP_GRACE)

    async def start(self) -> str:
        """Listen and serve; returns the URL to open (``http://127.0.0.1:8300/``)."""
        host, port = await self.serve()
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

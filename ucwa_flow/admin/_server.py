"""Serving the admin app in the service's own event loop: :class:`AdminServer`.

uvicorn runs as a task of the running loop (no thread, no process), so the app reads the
service's live objects directly. It installs no signal handlers (the service owns SIGTERM,
SIGINT and SIGHUP), configures no logging (lines go through the process's handlers, so they
are formatted and redacted like every other line) and writes no access log: a scrape every
few seconds would drown the bots' lines, and the app logs the requests that change anything.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
from typing import Any

from ucwa_flow._uvicorn import LoopServer

__all__ = ["AdminServer", "unguarded"]

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


def unguarded(host: str, token: str | None, bound: str | None = None) -> str | None:
    """What a warning says of an endpoint without a token on ``host`` that is not loopback
    (``0.0.0.0``, a name, an interface's address): anyone on the network may use it;
    ``None`` with a token or on loopback. ``bound``, the address the listener got
    (``getsockname``), decides when given: a name resolves where its resolver says."""
    if token:
        return None
    if bound is not None:
        address = _address(bound.strip("[]"))
    else:
        name = host.strip("[]").lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            return None
        address = _address(name)
    if address is not None:
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
        if address.is_loopback or (mapped is not None and mapped.is_loopback):
            return None
    where = host if bound is None or bound == host.strip("[]") else f"{host} ({bound})"
    return (
        f"the admin endpoint listens on {where} without a token: whoever reaches it may "
        "reload the flows, start outbound conversations and read the live conversations; "
        "give it a token (admin.token_env or admin.token_file) or listen on 127.0.0.1"
    )


# what inet_aton reads as IPv4 and the listener binds as such: 127.1, 0x7f.1, 2130706433
_SHORT_IPV4 = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]+|[0-9]+)){0,3}")


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if _SHORT_IPV4.fullmatch(name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None

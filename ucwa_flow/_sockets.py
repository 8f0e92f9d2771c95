"""Listening sockets for the servers ucwa-flow runs itself (the simulator, the admin
endpoint), with one clear line instead of a traceback when the address cannot be used."""

from __future__ import annotations

import socket
from collections.abc import Callable

from ucwa_flow._listen import format_listen
from ucwa_flow.errors import OperationalError

__all__ = ["listen"]


def listen(
    host: str,
    port: int,
    *,
    what: str = "",
    backlog: int = 128,
    hint: Callable[[OSError, int], str] = lambda exc, port: "",
) -> socket.socket:
    """A non-blocking TCP socket listening on ``host``:``port``, or :class:`OperationalError`.

    ``host`` is an address or a name of this machine (``[::1]`` as well as ``::1``); the
    error line names ``what`` listens (``" for the admin endpoint"``) and ends with
    ``hint(exc, port)``: what to change when the port is taken or needs privileges.
    """
    name = host.removeprefix("[").removesuffix("]")
    try:
        found = socket.getaddrinfo(
            name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise OperationalError(
            f"cannot listen on {host}{what}: the host name does not resolve ({exc.strerror}); "
            "use an address of this machine such as 127.0.0.1"
        ) from None
    family, _, _, _, address = found[0]
    # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets whose proto says
    # TCP; without it Nagle holds a response body back behind its headers (40 ms delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise OperationalError(
            f"cannot listen on {format_listen(host, port)}{what}: {exc.strerror or exc}"
            f"{hint(exc, port)}"
        ) from None
    sock.setblocking(False)
    return sock

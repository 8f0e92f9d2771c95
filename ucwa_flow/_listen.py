"""The one parser of a listening address (``HOST:PORT``) for every command that serves.

``serve``'s admin endpoint (the deployment file's ``admin.listen`` and ``--admin``), ``review
--listen`` and ``run --review`` all take the same forms:

* ``127.0.0.1:8470``, ``0.0.0.0:8470``, ``localhost:8470``;
* ``[::1]:8470`` (an IPv6 address in brackets; the brackets are not part of the host);
* ``:8470`` (loopback, ``127.0.0.1``);
* port ``0``: a free port, chosen when the server starts.
"""

from __future__ import annotations

import re

__all__ = ["format_listen", "parse_listen"]

_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:\[\]]*)):(?P<port>\d+)$")


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> ``(host, port)``; :class:`ValueError` with a one-line reason."""
    match = _LISTEN.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8470, [::1]:8470, :8470; port 0 picks "
            "a free one)"
        )
    port = int(match["port"])
    if port > 65535:
        raise ValueError(f"{text!r}: the port must be a number from 0 to 65535")
    return match["v6"] or match["host"] or "127.0.0.1", port


def format_listen(host: str, port: int) -> str:
    """``(host, port)`` -> ``HOST:PORT`` as :func:`parse_listen` reads it and a URL writes it:
    an IPv6 address in brackets (``[::1]:8470``, not the ambiguous ``::1:8470``)."""
    name = host.removeprefix("[").removesuffix("]")
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"

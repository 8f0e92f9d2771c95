"""Guarding an HTTP app on this machine from web pages in its browsers (private).

A server on loopback is out of the network's reach, but not out of a browser's: any web
page the machine's browser opens can send requests to ``http://127.0.0.1:PORT``. Two
attacks follow, and :class:`LocalGuard` stops both:

* **DNS rebinding.** A page of ``attacker.example`` whose name then resolves to
  ``127.0.0.1`` reads the answers as its own (same origin for the browser): the live
  conversations, stored transcripts, metrics. Its requests carry ``Host:
  attacker.example``; the guard answers ``403`` to any ``Host`` that is not an IP address,
  a name without a dot (``localhost``, a machine or container name: no site on the
  internet has one), a ``.localhost`` name, this machine's host name or full name
  (``reviewbox.corp.example``, as colleagues reach a review page opened to the network), or
  a name given (the listen name, and the names a reverse proxy in front of the server
  forwards, such as ``review.example.com``: ``review --allow-host``, the deployment
  file's ``admin.allow_hosts``; :func:`host_to_allow` checks one). The refusal says to use
  an address or ``localhost`` and, in the app's own words (``hint``), how to allow the name.
* **Cross-site requests (CSRF).** A page can *send* a ``POST`` it cannot read the answer
  of (``fetch(url, {method: "POST", mode: "no-cors", body: ...})``). A browser puts the
  page's ``Origin`` on it; the guard answers ``403`` to a request other than ``GET`` and
  ``HEAD`` whose ``Origin`` is not the server's own (``http(s)://`` + its ``Host``).

Programs (curl, Prometheus, ``review --attach``) send no ``Origin`` and address the server
as they like; only the ``Host`` check can turn one away, and only when it is on.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Collection, Iterable

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ucwa_flow._host_names import is_address

__all__ = ["LocalGuard", "host_name", "host_to_allow"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: a DNS name: labels of letters, digits and hyphens (not first or last), joined by dots
#: (as the deployment schema's ``admin.allow_hosts`` items)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?", re.I)


def host_name(host: str) -> str:
    """The name of a ``Host`` header value, without port or IPv6 brackets, lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    name, _, _ = host.partition(":")
    return name.rstrip(".")


def host_to_allow(text: str) -> str:
    """``text`` as a host name to accept (lower-cased), or :class:`ValueError` saying why
    it is not one (a URL, a port, a path: only the name a ``Host`` header carries)."""
    name = text.strip()
    if not _DNS_NAME.fullmatch(name) or len(name) > 253:
        raise ValueError(
            f"{text!r} is not a host name such as review.example.com (no scheme, port or path)"
        )
    return name.lower().rstrip(".")


class LocalGuard:
    """ASGI middleware: the ``Host`` check (when ``check_host``) and the ``Origin`` check
    (always) of the module docstring. ``names``: more host names to accept (a
    ``--listen`` name); ``open_paths`` skip the ``Host`` check (health probes); ``hint``:
    how the app lets a name through, added to a ``Host`` refusal after "use its IP address
    or localhost, " with ``{name}`` replaced by the name refused (``"or start it with
    --allow-host {name}"``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        check_host: bool = True,
        names: Iterable[str] = (),
        open_paths: Collection[str] = (),
        hint: str = "",
    ) -> None:
        self.app = app
        self.hint = hint
        self.check_host = check_host
        self.open_paths = frozenset(open_paths)
        machine = {socket.gethostname().lower(), socket.getfqdn().lower()}
        given = {host_name(name) for name in names if name}
        self.names = frozenset(machine | given)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await PlainTextResponse(refusal + "\n", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        headers = dict(scope["headers"])  # the last of a repeated header: none repeats here
        host = headers.get(b"host", b"").decode("latin-1")
        if self.check_host and host and scope["path"] not in self.open_paths:
            name = host_name(host)
            if name.endswith(".localhost"):
                name = "localhost"
            if not (is_address(name) or "." not in name or name in self.names):
                allow = ", " + self.hint.replace("{name}", name) if self.hint else ""
                return (
                    f"refused: {host!r} is not an address of this server (a guard against "
                    f"DNS rebinding); use its IP address or localhost{allow}"
                )
        origin = headers.get(b"origin")
        if origin is not None and scope["method"] not in _SAFE_METHODS:
            text = origin.decode("latin-1").strip().lower().rstrip("/")
            own = {f"http://{host.lower()}", f"https://{host.lower()}"}
            if not host or text not in own:
                return (
                    f"refused: a {scope['method']} from the web page at {text} "
                    "(a guard against cross-site requests)"
                )
        return None

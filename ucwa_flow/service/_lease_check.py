"""The lease check on a leased account's requests to the UCWA server (private).

A worker among several (docs/ha.md) may send for an account only while it can prove it
holds the account's lease: the UCWA server cannot check a fencing token, so the worker's
own client does, before every request (a message, an invitation's answer, a long poll)
and again at the last moments, through the transport's trace events (httpcore's names,
which :class:`~ucwa_flow.ucwa._transport.Http11Transport` emits too): when the request's
headers are about to be written (it may have waited for a pooled connection meanwhile),
and when its body is (a worker frozen between the two must not complete a request that
the account's next owner has made again meanwhile: the server performs nothing until the
body is complete). A request refused this way fails unsent with :class:`LeaseExpired`,
the account's store writes revoked first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from ucwa_flow.ucwa import UcwaClient

__all__ = ["LeaseExpired", "check_lease"]

#: the moments (trace events) a request is checked at last: before its headers are
#: written, and before its body is, when it has one (one without a body was complete with
#: its headers)
_HEADERS, _BODY = "send_request_headers.started", "send_request_body.started"


class LeaseExpired(httpx.RequestError):
    """A request not sent: the worker can no longer prove it holds the account's lease."""


def check_lease(
    client: UcwaClient, account: str, valid: Callable[[], bool], revoke: Callable[[str], None]
) -> None:
    """Send each request of ``client`` only while ``valid()`` holds (module docstring);
    once it does not, ``revoke`` the account's writes (with the reason) and refuse."""

    def refuse() -> None:
        if not valid():
            # revoked first: the runtime takes a refused request for a failed one (a send
            # "failed", an invitation not accepted); none of what it decides from that may
            # be committed, or a message would be lost
            why = f"{account}: the lease is not surely valid any more"
            revoke(why)
            raise LeaseExpired(why)

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith(_HEADERS) or (event.endswith(_BODY) and _has_body(info.get("request"))):
            refuse()

    async def check(request: httpx.Request) -> None:
        refuse()
        # and again at the last moments: a request may wait for a connection of the pool
        # meanwhile, and a worker frozen there must not send it once resumed; nor the body
        # of one whose headers went out just before it froze (docs/ha.md, "A request in
        # flight")
        request.extensions["trace"] = trace

    client.before_each_request(check)


def _has_body(request: object) -> bool:
    """Whether a request says it has a body (``Content-Length`` above 0, or chunked): an
    ``httpx.Request`` (the client's own transport) or an httpcore one (httpx's transport,
    which serves the proxies the environment names)."""
    headers = getattr(request, "headers", ())
    for name, value in getattr(headers, "raw", headers):
        key = name.lower()
        if key == b"transfer-encoding" or (key == b"content-length" and value.strip() != b"0"):
            return True
    return False

"""The client's two connection pools and how one operation goes over them (private).

:class:`Wire` is what :class:`~ucwa_flow.ucwa.UcwaClient` sends through. It owns two
``httpx.AsyncClient`` pools that share one :class:`~ucwa_flow.ucwa.auth.WebTicketAuth`:

* ``http`` for ordinary requests, bounded by a semaphore, with short explicit timeouts;
  :meth:`Wire.send` sends one operation on it, again when the server said it did not do
  it (:mod:`ucwa_flow.ucwa._retry`), and turns the failures into one-line errors;
* ``poll`` for the event channel's long poll (:meth:`Wire.long_poll`), whose read timeout
  is set per request above the server's hold, so that a quiet channel is never cut short.

Neither pool keeps cookies: UCWA's one cookie (``cwt_ucwa``) only serves photo downloads
in browsers, and keeping it costs every request a cookie-header computation; nor reads
them (httpx hands every response to its jar, which copies the headers into an
``email.message.Message`` first). Both send through
:class:`~ucwa_flow.ucwa._transport.Http11Transport` unless a transport is given, and then
past ``AsyncClient.request``, straight to it (:mod:`ucwa_flow.ucwa._direct`: the same
request and response, without re-parsing each URL and re-merging each request's headers).

No answer's body is read past ``max_body`` bytes (:data:`~ucwa_flow.bounded_body.MAX_UCWA_BODY`
by default), counted after inflating: the lean transport counts as it reads, another one
gets a response hook (:func:`~ucwa_flow.bounded_body.cap`). A larger body fails its request
as a broken connection does (``ServerUnreachable``; the event channel retries after a
back-off), with :class:`~ucwa_flow.bounded_body.BodyTooLarge`'s one line.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.request import getproxies

import httpx

from ucwa_flow.bounded_body import MAX_UCWA_BODY, cap
from ucwa_flow.clock import Clock
from ucwa_flow.ucwa._direct import SUPPORTED, Direct
from ucwa_flow.ucwa._http import (
    ACCEPT_JSON,
    NETWORK_ERRORS,
    InFlight,
    error_for,
    host_of,
    unbound,
)
from ucwa_flow.ucwa._retry import with_retries
from ucwa_flow.ucwa._tls import not_tls_hint, rejected_certificate
from ucwa_flow.ucwa._transport import Http11Transport
from ucwa_flow.ucwa.auth import WebTicketAuth
from ucwa_flow.ucwa.errors import ServerUnreachable

__all__ = ["Wire"]

#: what both pools accept, whatever httpx would (it adds ``br``/``zstd`` when their
#: packages are installed): the codings ``bounded_body`` inflates within its bound
_ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate"}


def _proxied() -> bool:
    """Whether the environment names a proxy for http or https (``HTTPS_PROXY``,
    ``HTTP_PROXY``, ``ALL_PROXY``, as httpx reads them; ``NO_PROXY`` is httpx's to apply)."""
    return any(scheme in getproxies() for scheme in ("http", "https", "all"))


class Wire:
    """The connection pools of one identity and the send/long-poll primitives.

    ``who`` names the identity in log lines; ``clock`` runs the back-off between the
    repeats of :meth:`send`. ``verify`` is an ``ssl.SSLContext`` (or ``True`` when a
    ``transport`` brings its own TLS).
    """

    def __init__(
        self,
        auth: WebTicketAuth,
        *,
        who: str,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None,
        verify: ssl.SSLContext | bool,
        timeout: float,
        max_concurrency: int,
        poll_connections: int,
        lean_transport: bool = True,
        max_body: int = MAX_UCWA_BODY,
    ) -> None:
        self.who = who
        self.clock = clock
        self.timeout = timeout
        # the lean transport unless one was given (tests; it brings its own TLS then) or the
        # environment names a proxy (httpx's own transport goes through it; ours cannot)
        lean = (
            verify
            if lean_transport
            and isinstance(verify, ssl.SSLContext)
            and transport is None
            and not _proxied()
            else None
        )
        self.http = httpx.AsyncClient(
            auth=auth,
            cookies=_no_cookies(),
            transport=(
                Http11Transport(verify=lean, max_connections=max_concurrency, max_body=max_body)
                if lean is not None
                else transport
            ),
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
            headers=_ACCEPT_ENCODING,
        )
        self.poll = httpx.AsyncClient(
            auth=auth,
            cookies=_no_cookies(),
            transport=(
                Http11Transport(
                    verify=lean,
                    max_connections=poll_connections,
                    max_keepalive=1,
                    max_body=max_body,
                )
                if lean is not None
                else transport
            ),
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=poll_connections, max_keepalive_connections=1),
            headers=_ACCEPT_ENCODING,
        )
        if lean is None:  # the lean transport bounds bodies itself; another one, here
            for pool in (self.http, self.poll):
                pool.event_hooks["response"].append(_capping(max_body))
        # requests on the lean transport skip httpx.AsyncClient's own work (``_direct``)
        self._direct = _direct(self.http, auth)
        self._direct_poll = _direct(self.poll, auth)
        self._bound = asyncio.Semaphore(max_concurrency)
        #: requests sent and not yet answered in full, polls included (observability)
        self.in_flight = InFlight()

    async def aclose(self) -> None:
        """Close both pools."""
        await self.http.aclose()
        await self.poll.aclose()

    async def send(
        self,
        method: str,
        url: str,
        *,
        json: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        during_sign_in: bool = False,
        retries: int,
        backoff: float,
    ) -> httpx.Response:
        """One operation on ``url`` (absolute), sent again when that is safe (``_retry``):
        at most ``retries`` more times, ``backoff`` seconds apart and doubling.

        Returns a 2xx response; raises :class:`~ucwa_flow.ucwa.errors.UcwaHttpError` for
        any other answer and :class:`~ucwa_flow.ucwa.errors.ServerUnreachable` when no
        answer came (``during_sign_in``: the line names the host only).
        """
        return await with_retries(
            lambda: self._send_once(
                method,
                url,
                json=json,
                content=content,
                headers=headers,
                during_sign_in=during_sign_in,
            ),
            method=method,
            retries=retries,
            backoff=backoff,
            clock=self.clock,
            who=self.who,
        )

    async def long_poll(self, url: str, *, read_timeout: float) -> httpx.Response:
        """One GET on the long-poll pool; any status is returned, transport errors raised."""
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0), read=read_timeout)
        with self.in_flight:
            if self._direct_poll is not None:
                response = await self._direct_poll.request(
                    "GET", url, headers=ACCEPT_JSON, limits=timeout
                )
            else:
                response = await self.poll.get(url, headers=ACCEPT_JSON, timeout=timeout)
        return unbound(response)

    async def _send_once(
        self,
        method: str,
        url: str,
        *,
        json: Mapping[str, Any] | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        during_sign_in: bool,
    ) -> httpx.Response:
        all_headers = {**ACCEPT_JSON, **(headers or {})}
        if method == "POST" and json is None and content is None:
            content = b""  # UCWA wants Content-Length: 0 on body-less POSTs
        try:
            async with self._bound:
                with self.in_flight:
                    if self._direct is not None:
                        response = await self._direct.request(
                            method, url, json=json, content=content, headers=all_headers
                        )
                    else:
                        response = await self.http.request(
                            method, url, json=json, content=content, headers=all_headers
                        )
                    unbound(response)
        except NETWORK_ERRORS as exc:
            rejected = rejected_certificate(exc, url)
            if rejected is not None:
                raise rejected from None
            reason = str(exc) or type(exc).__name__
            if during_sign_in:
                reason += not_tls_hint(exc, url)
                raise ServerUnreachable(f"cannot reach {host_of(url)}: {reason}") from None
            raise ServerUnreachable(
                f"{method} {url} failed: {reason}", unsent=_failed_elsewhere(exc, url)
            ) from None
        if response.is_success:
            return response
        raise error_for(response)


def _capping(limit: int) -> Callable[[httpx.Response], Awaitable[None]]:
    """A response hook bounding each body to ``limit`` bytes (``bounded_body.cap``)."""

    async def hook(response: httpx.Response) -> None:
        cap(response, limit)

    return hook


def _direct(pool: httpx.AsyncClient, auth: WebTicketAuth) -> Direct | None:
    """A :class:`Direct` sender for ``pool`` when it sends through the lean transport."""
    transport = pool._transport
    if not SUPPORTED or not isinstance(transport, Http11Transport):
        return None
    return Direct(pool, transport, auth)


def _failed_elsewhere(exc: Exception, url: str) -> bool:
    """Whether the request that failed was another one (the token grant) than ``url``'s."""
    try:
        failed = exc.request  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when it is unset
        return False
    return isinstance(failed, httpx.Request) and str(failed.url) != url


class _NoCookies(CookieJar):
    """A cookie jar that keeps nothing and reads no response (see the module docstring)."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


def _no_cookies() -> CookieJar:
    return _NoCookies(policy=DefaultCookiePolicy(allowed_domains=[]))

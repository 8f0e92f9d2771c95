"""Requests handed straight to the client's own transport, past ``httpx.AsyncClient`` (private).

:class:`~ucwa_flow.ucwa._wire.Wire` sends every UCWA request through one of two
``httpx.AsyncClient`` pools. When a pool's transport is the client's own
(:class:`~ucwa_flow.ucwa._transport.Http11Transport`), :class:`Direct` does what
``AsyncClient.request`` does, in the same order and with the same results, minus the work
that a bot pays for on every request and that changes nothing for it
(docs/performance.md, "Overload", "Cheaper requests"):

* the URL: httpx parses and validates every URL character by character in Python.
  :func:`url_of` parses the origin (``scheme://authority``) once and takes the path and
  query as they are when httpx would leave them unchanged (only characters it does not
  escape, no ``.``/``..`` segment, no fragment); any other URL goes through ``httpx.URL``;
* the headers: the pool's default headers merged with the request's, once per set of
  request headers (httpx merges them again for every request);
* cookies: none are kept or sent (the pools' jars keep nothing); httpx still copies every
  response's headers into an ``email.message.Message`` for its jar, which is skipped.

What stays httpx's own: ``httpx.Request`` (body encoding, ``Host``, ``Content-Length``),
the auth flow (:class:`~ucwa_flow.ucwa.auth.WebTicketAuth`, its token grants included),
the pool's request and response event hooks (a lease-fenced worker's check), the pool's
timeouts as the request's ``timeout`` extension, ``httpx.Response`` (its ``request``,
``elapsed``, ``history`` and ``next_request`` set as httpx sets them, the body read and
decoded by it), the request attached to a transport error, the error for a closed pool,
and the ``httpx`` logger's line per request. A pool with another transport (a test's, or
httpx's own when the environment names a proxy) is not sent through here.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

try:  # httpx's internals this module relies on; a release without them is not sent through here
    from httpx._client import BoundAsyncStream

    SUPPORTED = (
        hasattr(httpx.URL("http://h/"), "_uri_reference")
        and hasattr(httpx.AsyncClient, "_build_redirect_request")
        and "start" in inspect.signature(BoundAsyncStream).parameters  # 0.27 took a timer
    )
except ImportError:  # pragma: no cover - only on an httpx release outside the tested range
    SUPPORTED = False

__all__ = ["SUPPORTED", "Direct", "url_of"]

_log = logging.getLogger("httpx")  # httpx's own logger, for its line per request

_MAX_URL = 65536  # httpx's limit; a longer URL goes through httpx.URL, which refuses it
# an absolute URL whose path and query hold only characters httpx's parser leaves as they
# are (printable ASCII except space " # < > and, in the path, ? ` { }); no fragment
_PLAIN = re.compile(
    r"(?P<origin>[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)"
    r"(?P<path>/[\x21\x24-\x3b\x3d\x40-\x5f\x61-\x7a\x7c\x7e]*)"
    r"(?:\?(?P<query>[\x21\x24-\x3b\x3d\x3f-\x7e]*))?"
)


@functools.lru_cache(maxsize=64)
def _origin(origin: str) -> httpx.URL:
    return httpx.URL(origin)


def url_of(url: str) -> httpx.URL:
    """``httpx.URL(url)``, built without re-parsing the path and query when that would not
    change them (see the module docstring); equal to ``httpx.URL(url)`` in every case."""
    match = _PLAIN.fullmatch(url) if len(url) <= _MAX_URL else None
    if match is None or "/." in match["path"]:  # a "." or ".." segment is normalised away
        return httpx.URL(url)
    origin = _origin(match["origin"])._uri_reference
    fast = httpx.URL.__new__(httpx.URL)
    fast._uri_reference = origin._replace(path=match["path"], query=match["query"])
    return fast


class Direct:
    """Sends the requests of ``client``, whose transport is ``transport``, straight to it."""

    def __init__(
        self, client: httpx.AsyncClient, transport: httpx.AsyncBaseTransport, auth: httpx.Auth
    ) -> None:
        self._client = client
        self._transport = transport
        self._auth = auth
        self._timeout = client.timeout.as_dict()
        self._encoding = client._default_encoding
        self._merged: dict[tuple[tuple[str, str], ...], httpx.Headers] = {}

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        content: bytes | None = None,
        limits: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """What ``client.request(method, url, json=, content=, headers=, timeout=limits)``
        does."""
        request = httpx.Request(
            method,
            url_of(url),
            headers=self._headers(headers),
            json=json,
            content=content,
            extensions={"timeout": self._timeout if limits is None else limits.as_dict()},
        )
        if self._client.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        response = await self._with_auth(request)
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response

    def _headers(self, headers: Mapping[str, str]) -> httpx.Headers:
        key = tuple(headers.items())
        merged = self._merged.get(key)
        if merged is None:
            merged = httpx.Headers(self._client.headers)
            merged.update(headers)
            if len(self._merged) < 64:
                self._merged[key] = merged
        return merged

    async def _with_auth(self, request: httpx.Request) -> httpx.Response:
        # httpx's AsyncClient._send_handling_auth, without its redirect loop (the pools do
        # not follow redirects: a redirect is returned, with its next_request)
        history: list[httpx.Response] = []
        flow = self._auth.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                response = await self._once(request, history)
                try:
                    try:
                        next_request = await flow.asend(response)
                    except StopAsyncIteration:
                        return response
                    response.history = list(history)
                    await response.aread()
                    request = next_request
                    history.append(response)
                except BaseException:
                    await response.aclose()
                    raise
        finally:
            await flow.aclose()

    async def _once(self, request: httpx.Request, history: list[httpx.Response]) -> httpx.Response:
        client = self._client
        hooks = client.event_hooks
        for hook in hooks["request"]:
            await hook(request)
        start = time.perf_counter()
        try:
            response = await self._transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request
            raise
        response.request = request
        response.stream = BoundAsyncStream(
            response.stream,  # type: ignore[arg-type]
            response=response,
            start=start,
        )
        response.default_encoding = self._encoding
        if _log.isEnabledFor(logging.INFO):
            _log.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        try:
            for hook in hooks["response"]:
                await hook(response)
            response.history = list(history)
            if response.has_redirect_location:
                response.next_request = client._build_redirect_request(request, response)
        except BaseException:
            await response.aclose()
            raise
        return response

"""The UCWA client: sign-in, the application, and the IM operations, on ``httpx``.

One :class:`UcwaClient` per signed-in identity. It sends through two ``httpx.AsyncClient``
pools that share one :class:`~ucwa_flow.ucwa.auth.WebTicketAuth` (``_wire``): one for
ordinary requests (bounded by a semaphore, short explicit timeouts) and one for the event
channel's long poll (its read timeout is set per request, above the server's hold). Every
URL it uses is a link the server gave: hrefs are resolved against the applications URL
with ``urljoin``, never assembled from strings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any

import httpx

from ucwa_flow.bounded_body import MAX_UCWA_BODY
from ucwa_flow.clock import Clock, SystemClock
from ucwa_flow.ucwa._http import (
    host_of,
    json_of,
    location_of,
    resolve,
    same_origin,
    with_query,
)
from ucwa_flow.ucwa._presence import Presence
from ucwa_flow.ucwa._tls import client_context
from ucwa_flow.ucwa._wire import Wire
from ucwa_flow.ucwa.application import Application
from ucwa_flow.ucwa.auth import WebTicketAuth
from ucwa_flow.ucwa.dataurl import encode_data_url
from ucwa_flow.ucwa.discovery import Discovery, discover
from ucwa_flow.ucwa.errors import ForeignHref, UcwaError
from ucwa_flow.ucwa.identity import default_user_agent, endpoint_id_for, sip_uri
from ucwa_flow.ucwa.trust import SignInTrust

__all__ = ["UcwaClient"]

log = logging.getLogger("ucwa_flow.ucwa")

_IMPORTANCE = ("Normal", "Urgent", "Emergency")


class UcwaClient(Presence):
    """A signed-in UCWA identity: discovery, the application and IM operations.

    ``user`` is the SIP address (``sip:toshm@contoso.com``). ``username`` is what the
    WebTicket service expects and defaults to the address without ``sip:``. With
    ``server_url`` discovery starts there; otherwise from ``lyncdiscoverinternal.<domain>``
    and ``lyncdiscover.<domain>``. ``transport`` (e.g. ``httpx.ASGITransport``) is used by
    both pools; tests pass one to talk to an in-process server.

    TLS certificates are verified (``httpx``'s default trust: ``SSL_CERT_FILE``,
    ``SSL_CERT_DIR``, else certifi's bundle). ``ca_bundle`` names a PEM file of CA
    certificates to trust as well (a corporate CA, the simulator's local CA);
    ``insecure=True`` turns verification off (never the default; only for a first look
    at a lab server). Both are ignored when ``transport`` is given: it has its own TLS.
    A certificate that fails verification raises
    :class:`~ucwa_flow.ucwa.errors.CertificateRejected`, naming the host and what to do.

    The password (and the tokens it buys) go only to trusted sign-in servers
    (:class:`~ucwa_flow.ucwa.trust.SignInTrust`): the host of ``server_url``, the hosts in
    the SIP domain of ``user`` (that domain and its subdomains, where Autodiscover starts
    without ``server_url``), and ``trusted_hosts``, host names the operator listed (an
    Autodiscover redirect or WebTicket service elsewhere, such as a hosting provider's).
    A challenge or redirect that would lead the password anywhere else fails sign-in with
    ``AuthenticationFailed``, naming the host, and nothing is sent there. A name in
    ``trusted_hosts`` that is not a host name raises :class:`ValueError`.

    Call :meth:`sign_in` first (or use ``async with``, which signs in and closes). Every
    operation takes an href from an event or a resource, resolved against the
    applications URL. Errors:

    * a non-2xx answer raises :class:`~ucwa_flow.ucwa.errors.UcwaHttpError` with the UCWA
      ``code``/``subcode``/``message`` (:class:`~ucwa_flow.ucwa.errors.ApplicationGone` when
      the application no longer exists: call :meth:`recreate_application`);
    * a network failure raises :class:`~ucwa_flow.ucwa.errors.ServerUnreachable`; only a
      GET is tried again (a POST may have been applied), the event channel retries;
    * a 5xx, 408 or 429 answer (the request was not performed) is tried again up to
      ``retries`` times, ``backoff`` seconds apart and doubling, on ``clock``;
    * sign-in problems raise ``AuthenticationFailed`` / ``DiscoveryFailed``.

    ``max_concurrency`` bounds the requests in flight and the connections kept (16 by
    default). Without ``transport``, both pools send through the client's own HTTP/1.1
    transport (:mod:`ucwa_flow.ucwa._transport`), whose cost per request does not grow
    with the pool (httpcore's did: it checks every pooled connection for every request;
    docs/performance.md, "Transport"). No answer's body is read past ``max_body`` bytes
    (after inflating; :data:`~ucwa_flow.bounded_body.MAX_UCWA_BODY`, 64 MiB, by default): a
    larger one fails its request as a broken connection does.
    """

    def __init__(
        self,
        user: str,
        password: str,
        *,
        server_url: str | None = None,
        username: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        user_agent: str | None = None,
        culture: str = "en-US",
        max_concurrency: int = 16,
        timeout: float = 15.0,
        poll_connections: int = 2,
        ca_bundle: str | os.PathLike[str] | None = None,
        insecure: bool = False,
        retries: int = 3,
        backoff: float = 0.5,
        lean_transport: bool = True,
        trusted_hosts: Iterable[str] = (),
        max_body: int = MAX_UCWA_BODY,
    ) -> None:
        self.user = sip_uri(user)
        self.retries = retries
        self.backoff = backoff
        self.server_url = server_url
        self.clock: Clock = clock or SystemClock()
        self.endpoint_id = endpoint_id_for(self.user)
        self.user_agent = user_agent or default_user_agent()
        self.culture = culture
        self.timeout = timeout
        self.trust = SignInTrust.for_account(self.user, server_url=server_url, hosts=trusted_hosts)
        self.auth = WebTicketAuth(
            username or self.user[4:], password, clock=self.clock, trust=self.trust
        )
        # one TLS context for both pools (loading a CA bundle costs tens of milliseconds)
        verify = client_context(ca_bundle, insecure=insecure) if transport is None else True
        self._wire = Wire(
            self.auth,
            who=self.user,
            clock=self.clock,
            transport=transport,
            verify=verify,
            timeout=timeout,
            max_concurrency=max_concurrency,
            poll_connections=poll_connections,
            lean_transport=lean_transport,
            max_body=max_body,
        )
        self._discovery: Discovery | None = None
        self._application: Application | None = None
        self._generation = 0
        self._formats: tuple[str, ...] | None = None  # set once makeMeAvailable succeeded
        self._wanted_formats: tuple[str, ...] | None = None  # what makeMeAvailable asked for
        self._recreating = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> UcwaClient:
        await self.sign_in()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close both connection pools. The server-side application is left alone."""
        await self._wire.aclose()

    def before_each_request(self, hook: Callable[[httpx.Request], Awaitable[None]]) -> None:
        """Await ``hook`` before each request this client sends (long polls included): an
        exception it raises fails that request, unsent (a worker that can no longer prove
        it holds the account's lease stops talking to the server this way)."""
        for pool in (self._wire.http, self._wire.poll):
            pool.event_hooks["request"].append(hook)

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered in full, polls included (observability)."""
        return self._wire.in_flight.count

    @property
    def discovery(self) -> Discovery | None:
        """Where discovery led, once :meth:`sign_in` has run."""
        return self._discovery

    @property
    def application(self) -> Application:
        """The current application snapshot; :meth:`sign_in` must have succeeded."""
        if self._application is None:
            raise UcwaError(f"{self.user} is not signed in: call sign_in() first")
        return self._application

    async def sign_in(self, expect: str | None = None) -> Application:
        """Discover the user's pool (once) and create (or get back) the application.

        The application is created with the stable :func:`endpoint_id_for` EndpointId, so
        a restarted bot gets its application back (200), with its conversations and its
        event queue, instead of a second one (201). The result says which:
        ``reattached`` is True when the server gave back an application that existed
        before this sign-in and, when ``expect`` is given (the self href of the
        application used before, as stored, absolute or server-relative), when it is
        that very application. False means a new application: the old one expired (or
        was deleted), its conversations ended on the server and its links (a stored
        event-channel ``next`` link among them) are dead.
        """
        if self._discovery is None:
            with self._wire.in_flight:
                self._discovery = await discover(
                    self._wire.http, self.user, server_url=self.server_url
                )
            log.info("%s: UCWA applications at %s", self.user, self._discovery.applications_url)
        return await self._create_application(expect)

    async def _create_application(self, expect: str | None = None) -> Application:
        assert self._discovery is not None
        url = self._discovery.applications_url
        body = {
            "UserAgent": self.user_agent,
            "EndpointId": self.endpoint_id,
            "Culture": self.culture,
        }
        response = await self._send("POST", url, json=body, during_sign_in=True)
        self._generation += 1
        application = Application.from_resource(
            json_of(response), str(response.url), generation=self._generation
        )
        existed = response.status_code == 200
        if expect is not None:
            existed = existed and application.self_href == self.absolute(expect)
        self._application = application = replace(application, reattached=existed)
        self._formats = None
        verb = "re-attached to" if existed else "created"
        log.info("%s: %s application %s", self.user, verb, application.self_href)
        return application

    async def refresh_application(self) -> Application:
        """GET the application again and publish the new snapshot (same generation)."""
        current = self.application
        response = await self._send("GET", current.self_href)
        self._application = Application.from_resource(
            json_of(response),
            str(response.url),
            generation=current.generation,
            reattached=current.reattached,
        )
        return self._application

    async def recreate_application(self, stale: Application | None = None) -> Application:
        """Create the application again after it expired (404/410), redoing makeMeAvailable.

        Pass the snapshot you saw fail as ``stale``: when another task (the keep-alive, the
        event channel) has already re-created it, the current application is returned and
        nothing is sent. All conversations of the old application are lost.
        """
        async with self._recreating:
            current = self._application
            formats = self._wanted_formats
            if stale is not None and current is not None and current.generation != stale.generation:
                if formats is not None and self._formats is None:
                    # re-created, but its makeMeAvailable failed: finish the job
                    return await self.make_me_available(formats)
                return current
            log.warning("%s: re-creating the UCWA application", self.user)
            application = await self._create_application()
            if formats is not None:
                application = await self.make_me_available(formats)
            return application

    async def delete_application(self) -> None:
        """DELETE the application: signs the endpoint out and ends its conversations."""
        await self._send("DELETE", self.application.self_href)
        self._application = None
        self._formats = self._wanted_formats = None

    # -- invitations and messaging --------------------------------------------------------

    async def accept(self, accept_href: str) -> None:
        """Accept an incoming messaging invitation (POST its ``accept`` link, empty body)."""
        await self._send("POST", accept_href)

    async def decline(self, decline_href: str, reason: str = "Local") -> None:
        """Decline an incoming invitation; ``reason`` is ``Local`` (this endpoint) or ``Global``."""
        await self._send("POST", decline_href, json={"reason": reason})

    async def start_messaging(
        self,
        to: str,
        *,
        subject: str = "",
        importance: str = "Normal",
        operation_id: str | None = None,
        message: str | None = None,
        html: bool = False,
    ) -> str:
        """Invite ``to`` to an IM conversation; returns the invitation href (``Location``).

        ``operation_id`` (at most 50 characters) is echoed in the invitation events, whose
        ``started`` may arrive before this call returns: pass your own to correlate.
        ``message`` is an optional first message, sent as a data URL (HTML with ``html``).
        """
        if importance not in _IMPORTANCE:
            raise ValueError(f"importance must be one of {_IMPORTANCE}, got {importance!r}")
        if len(subject) > 250:
            raise ValueError("a conversation subject has at most 250 characters")
        operation_id = operation_id or uuid.uuid4().hex
        if len(operation_id) > 50:
            raise ValueError("an operationId has at most 50 characters")
        href = self.application.start_messaging_href
        if href is None:
            href = (await self.refresh_application()).start_messaging_href
        if href is None:
            raise UcwaError(f"{self.user}: the server offers no startMessaging link")
        body: dict[str, Any] = {
            "to": sip_uri(to),
            "subject": subject,
            "importance": importance,
            "operationId": operation_id,
        }
        if message is not None:
            mime = "text/html" if html else "text/plain"
            body["_links"] = {"message": {"href": encode_data_url(message, mime)}}
        response = await self._send("POST", href, json=body)
        return location_of(response)

    async def send_message(
        self,
        send_message_href: str,
        text: str,
        *,
        html: bool = False,
        operation_context: str | None = None,
    ) -> str:
        """Send an IM on a connected conversation; returns the message href (``Location``).

        The body is the raw text (``text/plain`` or, with ``html``, ``text/html``; HTML
        needs Html among the negotiated formats). ``operation_context`` is added to the
        link's query string as ``OperationContext`` (a fresh UUID when not given).
        """
        url = with_query(
            self.absolute(send_message_href),
            OperationContext=operation_context or str(uuid.uuid4()),
        )
        mime = "text/html" if html else "text/plain"
        response = await self._send(
            "POST",
            url,
            content=text.encode("utf-8"),
            headers={"Content-Type": f"{mime}; charset=utf-8"},
        )
        return location_of(response)

    async def set_is_typing(self, set_is_typing_href: str) -> None:
        """Show "typing" to the other side for a few seconds (repeat to keep it)."""
        await self._send("POST", set_is_typing_href)

    async def stop_messaging(self, stop_messaging_href: str) -> None:
        """End the IM modality (POST ``stopMessaging``; also cancels a pending invitation)."""
        await self._send("POST", stop_messaging_href)

    async def leave(self, conversation_href: str) -> None:
        """Leave a conversation altogether (DELETE the conversation resource)."""
        await self._send("DELETE", conversation_href)

    async def get(self, href: str) -> dict[str, Any]:
        """GET any linked resource as a JSON object."""
        return json_of(await self._send("GET", href))

    # -- wire -----------------------------------------------------------------------------

    async def long_poll(self, href: str, *, read_timeout: float) -> httpx.Response:
        """One event-channel GET on the long-poll pool, for :class:`~ucwa_flow.ucwa.EventChannel`.

        Returns the response whatever its status, and lets ``httpx`` transport errors
        through: the channel decides what to retry.
        """
        return await self._wire.long_poll(self._own(href), read_timeout=read_timeout)

    def absolute(self, href: str) -> str:
        """``href`` (from an event or resource) as the absolute URL this client would use.

        Event hrefs are server-relative while :class:`Application` and the ``Location``
        results of this client are absolute: compare hrefs through this method.
        """
        if self._discovery is not None:
            return resolve(self._discovery.applications_url, href)
        return href

    def _own(self, href: str) -> str:
        """:meth:`absolute` of ``href``; :class:`ForeignHref` when it leads to another origin
        than the applications URL's, the host the account signed in to (its token's)."""
        url = self.absolute(href)
        if self._discovery is not None and not same_origin(url, self._discovery.applications_url):
            origin = host_of(self._discovery.applications_url)
            raise ForeignHref(
                f"{url} is not on the application's host {origin}: not requested (a UCWA "
                f"server's links stay on its host; this one is refused as a protocol error)"
            )
        return url

    async def _send(
        self,
        method: str,
        href: str,
        *,
        json: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        during_sign_in: bool = False,
    ) -> httpx.Response:
        """One operation on ``href``, sent again when the server said it did not do it."""
        return await self._wire.send(
            method,
            self.absolute(href) if during_sign_in else self._own(href),
            json=json,
            content=content,
            headers=headers,
            during_sign_in=during_sign_in,
            retries=self.retries,
            backoff=self.backoff,
        )

"""A small, real UCWA pool for the protocol-layer unit tests (Starlette, in-process).

It speaks the real wire protocol (Autodiscover root and user resources, the WebTicket
401 challenge and password grant, applications, makeMeAvailable, IM operations) but lets
a test script the event channel answer by answer and inspect every request. The full
simulator is used by the integration tests; this one exists so that the client can be
tested for what the simulator will not do on purpose (odd challenge spellings, redirect
loops, a scripted sequence of event-channel statuses).

Hosts matter: tokens are issued per host, and ``apps_host`` puts the applications
resource on another host than Autodiscover, as real pools sometimes do.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PASSWORD = "pass@word1"
APP = "/ucwa/oauth/v1/applications/101017548935"
HOST = "https://lyncdiscover.contoso.com"

CHALLENGES: dict[str, list[str]] = {
    "two": [
        'Bearer trusted_issuers="00000002-0000-0ff1-ce00-000000000000@contoso.com", '
        'client_id="00000004-0000-0ff1-ce00-000000000000"',
        'MsRtcOAuth href="{href}",grant_type="urn:microsoft.rtc:windows,'
        'urn:microsoft.rtc:anonmeeting,password"',
    ],
    "merged": [
        'Bearer trusted_issuers="", client_id="00000004-0000-0ff1-ce00-000000000000", '
        'MsRtcOAuth href="{href}",grant_type="urn:microsoft.rtc:windows,password"',
    ],
    "unquoted": ['MsRtcOAuth href={href},grant_type="password"'],
    "lower": ['msrtcoauth HREF = "{href}"'],
    "windows-only": ['MsRtcOAuth href="{href}",grant_type="urn:microsoft.rtc:windows"'],
    "ntlm": ["NTLM", "Negotiate"],
}

Scripted = dict[str, Any] | tuple[int, Any] | Response  # a Response: sent as it is


def batch(
    ack: int, *events: dict[str, Any], link: str = "next", to: int | None = None
) -> dict[str, Any]:
    """An event-channel body numbered ``ack`` whose ``link`` (next/resync/resume) goes to ``to``."""
    links: dict[str, Any] = {"self": {"href": f"{APP}/events?ack={ack}"}}
    links[link] = {"href": f"{APP}/events?ack={ack + 1 if to is None else to}"}
    body: dict[str, Any] = {"_links": links}
    if events:
        body["sender"] = [
            {
                "rel": "conversation",
                "href": f"{APP}/communication/conversations/c1",
                "events": list(events),
            }
        ]
    return body


def participant_added(name: str) -> dict[str, Any]:
    """A minimal event: participant ``name`` added to conversation c1."""
    href = f"{APP}/communication/conversations/c1/participants/{name}@contoso.com"
    return {"link": {"rel": "participant", "href": href}, "type": "added"}


class FakePool:
    """The server side. Attributes are the knobs and the observations of a test."""

    def __init__(
        self,
        *,
        challenge: str = "two",
        token_lifetime: int = 28289,
        apps_host: str | None = None,
        root: dict[str, Any] | None = None,
    ) -> None:
        self.challenge = challenge
        self.token_lifetime = token_lifetime
        self.apps_host = apps_host or HOST
        self.root = root
        self.roots: dict[str, Any] = {}  # host -> root body, overriding ``root``
        self.valid: dict[str, set[str]] = {}  # host -> tokens it accepts
        self.reject_all_tokens = False
        self.token_href: str | None = None  # the WebTicket the challenge names (else its own)
        self.authorized: list[str] = []  # the URLs of requests that carried Authorization
        self.grants: list[tuple[str, dict[str, str]]] = []
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, str, bytes, str]] = []  # method, url, body, content type
        self.created = 0
        self.available = False
        self.gone = False  # the application expired: 404 ApplicationNotFound
        self.conversations_link = True  # the communication resource links its conversations
        self.active: list[str] = []  # the hrefs the conversations listing names
        self.script: deque[Scripted | Callable[[], Scripted]] = deque()
        self.event_urls: list[str] = []
        self.outstanding = 0
        self.max_outstanding = 0
        self._more = asyncio.Condition()
        self._tokens = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/", self.root_resource),
                Route("/user", self.user),
                Route("/WebTicket/oauthtoken", self.token, methods=["POST"]),
                Route("/ucwa/oauth/v1/applications", self.applications, methods=["POST"]),
                Route(APP, self.application, methods=["GET", "DELETE"]),
                Route(APP + "/events", self.events),
                Route(APP + "/{rest:path}", self.operation, methods=["GET", "POST", "DELETE"]),
            ]
        )

    # -- test controls ----------------------------------------------------------------------

    async def push(self, *items: Scripted | Callable[[], Scripted]) -> None:
        """Queue answers for the next event-channel requests and wake a waiting one."""
        async with self._more:
            self.script.extend(items)
            self._more.notify_all()

    def expire_tokens(self) -> None:
        self.valid.clear()

    # -- resources ----------------------------------------------------------------------------

    def _host(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    def _unauthorized(self, request: Request) -> Response | None:
        self.requests.append((request.method, str(request.url)))
        header = request.headers.get("authorization", "")
        if header:
            self.authorized.append(str(request.url))
        known = self.valid.get(self._host(request), set())
        if not self.reject_all_tokens and header.startswith("Bearer ") and header[7:] in known:
            return None
        href = self.token_href or f"{self._host(request)}/WebTicket/oauthtoken"
        headers = [
            (b"www-authenticate", c.format(href=href).encode()) for c in CHALLENGES[self.challenge]
        ]
        response = Response(
            "<html><body>401 - Unauthorized</body></html>", 401, media_type="text/html"
        )
        response.raw_headers.extend(headers)
        return response

    async def root_resource(self, request: Request) -> Response:
        self.requests.append((request.method, str(request.url)))
        if request.headers.get("authorization"):
            self.authorized.append(str(request.url))
        body = (
            self.roots.get(request.url.hostname or "")
            or self.root
            or {"_links": {"self": {"href": "/"}, "user": {"href": "/user"}}}
        )
        return JSONResponse(body)

    async def user(self, request: Request) -> Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        return JSONResponse(
            {"_links": {"applications": {"href": f"{self.apps_host}/ucwa/oauth/v1/applications"}}}
        )

    async def token(self, request: Request) -> Response:
        assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
        form = dict(parse_qsl((await request.body()).decode()))
        self.grants.append((self._host(request), form))
        if form.get("grant_type") != "password":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if form.get("password") != PASSWORD:
            return JSONResponse({"error": "invalid_grant"}, 400)
        token = f"cwt=AAEB{next(self._tokens)}"
        self.valid.setdefault(self._host(request), set()).add(token)
        return JSONResponse(
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _application_body(self) -> dict[str, Any]:
        me_links: dict[str, Any] = {"self": {"href": f"{APP}/me"}}
        if self.available:
            me_links["reportMyActivity"] = {"href": f"{APP}/me/reportMyActivity"}
        else:
            me_links["makeMeAvailable"] = {"href": f"{APP}/me/makeMeAvailable"}
        communication: dict[str, Any] = {
            "self": {"href": f"{APP}/communication"},
            "startMessaging": {"href": f"{APP}/communication/messagingInvitations"},
        }
        if self.conversations_link:
            communication["conversations"] = {
                "href": f"{APP}/communication/conversations?filter=active"
            }
        return {
            "rel": "application",
            "_links": {"self": {"href": APP}, "events": {"href": f"{APP}/events?ack=1"}},
            "_embedded": {
                "me": {
                    "rel": "me",
                    "uri": "sip:toshm@contoso.com",
                    "name": "Tosh Meston",
                    "_links": me_links,
                },
                "communication": {"rel": "communication", "_links": communication},
            },
        }

    async def applications(self, request: Request) -> Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        body = await request.json()
        self.bodies.append(("POST", str(request.url), await request.body(), ""))
        fresh = self.created == 0 or self.gone
        self.created += 1
        if fresh:
            self.gone = False
            self.available = False
        assert body["EndpointId"], body
        assert body["UserAgent"].startswith("ucwa-flow/"), body
        return JSONResponse(self._application_body(), 201 if fresh else 200)

    def _gone(self) -> Response:
        return JSONResponse(
            {
                "code": "NotFound",
                "subcode": "ApplicationNotFound",
                "message": "Application not found.",
            },
            404,
        )

    async def application(self, request: Request) -> Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        if self.gone:
            return self._gone()
        if request.method == "DELETE":
            self.gone = True
            return Response(status_code=204)
        return JSONResponse(self._application_body())

    async def operation(self, request: Request) -> Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        content = await request.body()
        self.bodies.append(
            (request.method, str(request.url), content, request.headers.get("content-type", ""))
        )
        if self.gone:
            return self._gone()
        rest = request.path_params["rest"]
        if rest == "me/makeMeAvailable":
            if self.available:
                return JSONResponse({"code": "Conflict", "subcode": "AlreadyExists"}, 409)
            self.available = True
            return Response(status_code=204)
        if rest == "me/reportMyActivity":
            if not self.available:
                return JSONResponse({"code": "Conflict", "subcode": "MakeMeAvailableRequired"}, 409)
            return Response(status_code=204)
        if rest == "communication/messagingInvitations":
            return Response(
                status_code=201,
                headers={"Location": f"{APP}/communication/messagingInvitations/60c6"},
            )
        if rest.endswith("/messaging/messages"):
            return Response(status_code=201, headers={"Location": f"{APP}/{rest}/2"})
        if rest == "communication/conversations" and request.method == "GET":
            links: dict[str, Any] = {"self": {"href": f"{APP}/{rest}?filter=active"}}
            if self.active:
                links["conversation"] = [{"href": href} for href in self.active]
            return JSONResponse({"rel": "conversations", "_links": links})
        if rest.startswith("communication/conversations/") and request.method == "GET":
            return JSONResponse(
                {
                    "rel": "conversation",
                    "state": "Connected",
                    "_links": {"self": {"href": f"{APP}/{rest}"}},
                }
            )
        if rest.endswith("/fail"):
            return JSONResponse(
                {
                    "code": "ServiceFailure",
                    "subcode": "CallbackChannelError",
                    "message": "Try later.",
                },
                500,
            )
        return Response(status_code=204)

    async def events(self, request: Request) -> Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        self.event_urls.append(str(request.url))
        if self.gone:
            return self._gone()
        self.outstanding += 1
        self.max_outstanding = max(self.max_outstanding, self.outstanding)
        try:
            async with self._more:
                await self._more.wait_for(lambda: bool(self.script))
                item = self.script.popleft()
        finally:
            self.outstanding -= 1
        if isinstance(item, Response):  # (an ASGI app: callable too)
            return item
        if callable(item):
            item = item()
        status, body = (200, item) if isinstance(item, dict) else item
        if isinstance(body, str | bytes):
            return Response(body, status, media_type="application/json")
        return JSONResponse(body, status)


class FaultyTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and raises scripted transport errors, as a flaky network does.

    ``before`` errors are raised instead of sending the request (nothing reached the
    server); ``after`` errors are raised once the server has answered (the answer is lost).
    ``unreachable`` hosts refuse every connection.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.before: deque[tuple[str, Exception]] = deque()
        self.after: deque[tuple[str, Exception]] = deque()
        self.unreachable: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.unreachable:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if self.before and self.before[0][0] in str(request.url):
            raise self.before.popleft()[1]
        response = await self.inner.handle_async_request(request)
        if self.after and self.after[0][0] in str(request.url):
            await response.aread()
            raise self.after.popleft()[1]
        return response


def transport_for(pool: FakePool) -> FaultyTransport:
    return FaultyTransport(httpx.ASGITransport(app=pool.app))

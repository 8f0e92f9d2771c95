"""The simulator's ASGI application: routing, headers, errors and faults.

Every request goes through :meth:`SimulatorApp.__call__`:

1. an injected fault may delay it, answer it with an error, or drop its answer;
2. repeated slashes in the path are collapsed (IIS serves ``//ucwa/...`` as ``/ucwa/...``,
   which a client joining a root ending in ``/`` with an href starting with ``/`` sends);
   the path is matched case-insensitively (IIS style) against the route table; an
   unknown path is 404 ``NotFound/ResourceNotFound``, a known path with another method
   405 ``MethodNotAllowed`` (with ``Allow``);
3. below ``/ucwa/oauth/v1/applications`` the bearer token is checked (401 + challenge)
   and then the application (404 ``ApplicationNotFound`` / 410
   ``InactiveApplicationExpired``);
4. :class:`~ucwa_flow.simulator.errors.UcwaErrorResponse` becomes a ``{code, subcode,
   message}`` body; any other exception is logged and becomes 500 ``ServiceFailure``;
5. the front end's headers are added and any non-empty body is gzip-compressed when the
   request's ``Accept-Encoding`` allows it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ucwa_flow.simulator import auth, control, handlers, people
from ucwa_flow.simulator.errors import UcwaErrorResponse, not_found
from ucwa_flow.simulator.http import Ctx, compress, json_response

if TYPE_CHECKING:
    from ucwa_flow.simulator.core import Simulator

__all__ = ["SimulatorApp"]

log = logging.getLogger("ucwa_flow.simulator")

Handler = Callable[[Ctx], Awaitable[Response]]

_PUBLIC: list[tuple[str, str, dict[str, Handler]]] = [
    (r"/", "public", {"GET": auth.discovery}),
    (auth.ROOT_PATH, "public", {"GET": auth.discovery}),
    (auth.USER_PATH, "public", {"GET": auth.user_resource}),
    (auth.ROOT_PATH + "/user", "public", {"GET": auth.user_resource}),
    (auth.TOKEN_PATH, "public", {"POST": auth.oauth_token}),
]

_STATUS_CODES = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    408: "ClientTimeout",
    409: "Conflict",
    410: "Gone",
    429: "TooManyRequests",
    500: "ServiceFailure",
    502: "ServiceFailure",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class _Route:
    __slots__ = ("methods", "pattern", "scope")

    def __init__(self, path: str, scope: str, methods: dict[str, Handler]) -> None:
        self.pattern = re.compile(path, re.IGNORECASE)
        self.scope = scope
        self.methods = methods


def _error_response(exc: UcwaErrorResponse) -> Response:
    return json_response(exc.body(), status=exc.status, headers=exc.headers or None)


class SimulatorApp:
    """ASGI callable serving one :class:`~ucwa_flow.simulator.core.Simulator`."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        table = _PUBLIC + handlers.ROUTES + people.ROUTES + control.ROUTES
        self._routes = [_Route(path, scope, methods) for path, scope, methods in table]
        self.in_progress = 0  # HTTP requests received and not answered yet
        self.delayed = 0  # of those, waiting out a fault's delay on the clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        self.in_progress += 1
        try:
            await self._handle(_collapse_slashes(scope), receive, send)
        finally:
            self.in_progress -= 1

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        rule = self.sim.faults.take(
            request.method, request.url.path, request.headers.get("authorization")
        )
        try:
            if rule is not None and rule.delay > 0:
                self.delayed += 1
                try:
                    await self.sim.clock.sleep(rule.delay)
                finally:
                    self.delayed -= 1
            if rule is not None and rule.status is not None:
                code = _STATUS_CODES.get(rule.status, "ServiceFailure")
                raise UcwaErrorResponse(rule.status, code, rule.subcode, rule.message)
            if rule is not None and rule.body is not None:
                response = Response(rule.body, 200, media_type="application/json; charset=utf-8")
            else:
                response = await self._dispatch(request)
        except UcwaErrorResponse as exc:
            response = _error_response(exc)
        except ClientDisconnect:  # the client went away mid-request: nobody to answer
            log.debug("%s %s: the client disconnected", request.method, request.url)
            return
        except Exception:
            log.exception("unexpected error while handling %s %s", request.method, request.url)
            response = _error_response(
                UcwaErrorResponse(500, "ServiceFailure", None, "The server failed to respond.")
            )
        self._decorate(response)
        compress(response, request.headers.get("accept-encoding", ""))
        if rule is not None and rule.drop:
            await _send_broken(response, send)
            return
        await response(scope, receive, send)

    def _decorate(self, response: Response) -> None:
        names = {name for name, _ in response.raw_headers}
        cfg = self.sim.config
        if b"cache-control" not in names:
            response.raw_headers.append((b"cache-control", b"no-cache"))
        response.raw_headers.append((b"x-ms-server-fqdn", cfg.server_fqdn.encode()))
        response.raw_headers.append((b"x-ms-ucwaversion", cfg.ucwa_version.encode()))

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path.rstrip("/") or "/"
        match: re.Match[str] | None = None
        route: _Route | None = None
        for candidate in self._routes:
            match = candidate.pattern.fullmatch(path)
            if match is not None:
                route = candidate
                break
        if route is None or match is None:
            return await self._unknown(request, path)
        ctx = Ctx(request=request, sim=self.sim, params=match.groupdict(default=""))
        if route.scope in ("user", "app"):
            ctx.user = self.sim.authenticate(request.headers.get("authorization"), ctx.host)
            if ctx.user is None:
                return auth.challenge(ctx)
            if route.scope == "app":
                ctx.application = self.sim.find_application(ctx.params["app"], ctx.user)
        method = "GET" if request.method == "HEAD" else request.method
        handler = route.methods.get(method)
        if handler is None:
            allow = ", ".join(sorted(route.methods))
            raise UcwaErrorResponse(
                405,
                "MethodNotAllowed",
                None,
                f"The method {request.method} is not allowed here.",
                headers={"Allow": allow},
            )
        return await handler(ctx)

    async def _unknown(self, request: Request, path: str) -> Response:
        # Below a live application, a bad href still needs a token and a live app first.
        found = re.match(r"/ucwa/oauth/v1/applications/(\d+)/", path + "/", re.IGNORECASE)
        if found is not None:
            ctx = Ctx(request=request, sim=self.sim, params={})
            user = self.sim.authenticate(request.headers.get("authorization"), ctx.host)
            if user is None:
                return auth.challenge(ctx)
            self.sim.find_application(found.group(1), user)
        raise not_found()


_SLASHES = re.compile(r"/{2,}")


def _collapse_slashes(scope: Scope) -> Scope:
    """``scope`` with runs of ``/`` in its path made one, as IIS serves them."""
    path: str = scope["path"]
    if "//" not in path:
        return scope
    collapsed = dict(scope, path=_SLASHES.sub("/", path))
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        collapsed["raw_path"] = re.sub(rb"/{2,}", b"/", raw)
    return collapsed


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send_broken(response: Response, send: Send) -> None:
    """Start ``response`` and stop halfway: the client sees the connection break."""
    body: Any = response.body or b"{}"
    headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
    headers.append((b"content-length", str(len(body) + 64).encode()))
    status = 200 if response.status_code in (204, 304) else response.status_code
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": bytes(body), "more_body": True})

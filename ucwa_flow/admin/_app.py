"""The admin HTTP app: health, readiness, Prometheus metrics, reload, outbound starts, live feed.

=============================  ====================================================
``GET /healthz``               ``200 ok`` while the process runs (never authenticated)
``GET /readyz``                ``200`` when the target is ready, else ``503``; JSON body:
                               ``{"ready", "store", "accounts": [{"id", "user",
                               "signed_in", "channel_live", "error"}]}`` (never
                               authenticated: load balancers and orchestrators probe it)
``GET /metrics``               Prometheus text format
``POST /reload``               ``200 {"ok": true, "lines": [...]}``; ``422`` with the
                               same body when a file was refused; ``500`` if it failed
``POST /accounts/{id}/outbound``  body ``{"flow": ..., "invitee": ...}`` (or
                               ``"invitees": [...]``, or neither: the flow's
                               ``outbound.to``): ``202``, with ``"campaign": id``
                               when the flow is a campaign (a run started);
                               ``404`` unknown account or flow; ``400`` bad body
                               or a flow without ``outbound``; ``503`` the account
                               is not signed in (or the process is stopping)
``GET /live``                  the live picture (JSON): conversations per flow state
                               and per lifecycle state, the conversations running and
                               the last ended ones (:mod:`ucwa_flow.live`)
``GET /live/events``           the same as server-sent events (``text/event-stream``):
                               ``event: snapshot`` at once and after each change (at
                               most ~10/s), a ``: ping`` comment every 15 s
``GET /live/conversations/{id}``  one conversation with its steps (secrets redacted);
                               ``404`` when it is not known
=============================  ====================================================

The ``/live`` routes are there when the app is given a live source (``serve`` always
gives one).

With a ``token``, every other path needs ``Authorization: Bearer <token>`` (``401``
otherwise, compared in constant time). The token is never logged: the app logs what was
asked (reloads, outbound starts), never headers.

Web pages in a browser on the machine are kept out (:class:`~ucwa_flow._local_guard.
LocalGuard`, ``403``): a ``POST`` whose ``Origin`` is another site's, always; and, without
a token, a request whose ``Host`` is not an IP address, a name without a dot
(``localhost``), the machine's name or the ``hosts`` given (the listen name and the
deployment file's ``admin.allow_hosts``; DNS rebinding), but for ``/healthz``; the
refusal says to list the name in ``admin.allow_hosts``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ucwa_flow import bounded_json
from ucwa_flow._local_guard import LocalGuard
from ucwa_flow.admin._ready import readyz_body
from ucwa_flow.admin._target import AdminTarget
from ucwa_flow.errors import OperationalError
from ucwa_flow.live import LiveSource, live_routes
from ucwa_flow.observe.metrics import Metrics

__all__ = ["OPEN_PATHS", "create_app"]

log = logging.getLogger("ucwa_flow.admin")

#: paths that answer without the bearer token
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
_MAX_BODY = 64 * 1024
#: how a refused ``Host`` name is let through without a token
_HOST_HINT = "or list {name} in the deployment file's admin.allow_hosts"


def create_app(
    target: AdminTarget,
    metrics: Metrics,
    token: str | None,
    *,
    live: LiveSource | None = None,
    hosts: Iterable[str] = (),
) -> Starlette:
    """The admin ASGI app over ``target`` and ``metrics`` (see the module docstring).

    ``token``: the bearer token the other paths require; ``None`` or ``""`` for none.
    ``live``: what the ``/live`` routes serve (none without it).
    ``hosts``: host names besides addresses, ``localhost`` and the machine's own that
    requests may name without a token (the address it listens on, when a name).
    """

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        readiness = target.readiness()
        body = readyz_body(readiness)
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    async def metrics_text(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, headers={"Content-Type": content_type})

    async def reload(request: Request) -> Response:
        log.info("admin: reload asked by %s", _client(request))
        try:
            report = await target.reload()
        except Exception as exc:  # the process goes on; say what failed in one line
            log.exception("admin: reload failed")
            return _error(500, f"the reload failed: {exc}")
        log.log(
            logging.INFO if report.ok else logging.WARNING,
            "admin: reload %s",
            "done" if report.ok else "refused a file; the running version stays",
        )
        body = {"ok": report.ok, "lines": list(report.lines)}
        return JSONResponse(body, status_code=200 if report.ok else 422)

    async def outbound(request: Request) -> Response:
        account = request.path_params["account"]
        if not target.has_account(account):  # whatever the body says, as documented
            return _error(404, f"no account {account!r}")
        raw = await _body(request)
        if raw is None:  # not read whole: the connection is closed after the answer
            return _error(413, f"the request body is too large (over {_MAX_BODY // 1024} KiB)")
        try:
            flow, invitee = _outbound_body(raw)
        except ValueError as exc:
            return _error(400, str(exc))
        try:
            campaign = await target.start_outbound(account, flow, invitee)
        except LookupError as exc:
            return _error(404, _message(exc))
        except ValueError as exc:
            return _error(400, str(exc))
        except OperationalError as exc:  # not signed in (yet), or stopping: try again later
            return _error(503, str(exc))
        except Exception as exc:
            log.exception("admin: outbound %s to %s on %s failed", flow, invitee, account)
            return _error(500, f"the outbound start failed: {exc}")
        log.info("admin: outbound %s to %s started on %s", flow, invitee or "its people", account)
        body: dict[str, Any] = {"account": account, "flow": flow}
        if isinstance(invitee, str):
            body["invitee"] = invitee
        elif invitee is not None:
            body["invitees"] = list(invitee)
        if campaign is not None:
            body["campaign"] = campaign
        return JSONResponse(body, status_code=202)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
        Route("/reload", reload, methods=["POST"]),
        Route("/accounts/{account}/outbound", outbound, methods=["POST"]),
    ]
    closing = asyncio.Event()  # set by AdminServer.stop(): open event streams end
    if live is not None:
        routes += live_routes(live, closing=closing)
    # /readyz names the accounts and the store: only the bare liveness probe takes any Host
    guard = Middleware(
        LocalGuard,
        check_host=not token,
        names=hosts,
        open_paths={"/healthz"},
        hint=_HOST_HINT,
    )
    middleware = [guard, *([Middleware(BearerAuth, token=token)] if token else [])]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.closing = closing
    return app


class BearerAuth:
    """ASGI middleware: every HTTP path but :data:`OPEN_PATHS` needs the bearer token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "http" and scope["path"] not in OPEN_PATHS
        if guarded and not self._allowed(scope):
            response = JSONResponse(
                {"error": "this endpoint needs the admin token: Authorization: Bearer ..."},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="ucwa-flow admin"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        scheme, _, credentials = given.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token)


async def _body(request: Request) -> bytes | None:
    """The request's body, or ``None`` past :data:`_MAX_BODY` bytes: read no further
    (``Request.body`` reads any size whole, which made 400 MB of body 800 MB of memory)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _outbound_body(raw: bytes) -> tuple[str, str | list[str] | None]:
    """``flow`` and whom to invite: ``invitee`` (one), ``invitees`` (a list) or neither
    (the flow's ``outbound.to``)."""
    try:
        body: Any = bounded_json.loads(raw)
    except bounded_json.TooDeep as exc:
        raise ValueError(f"the body is {exc}") from None
    except ValueError:
        raise ValueError('the body must be JSON: {"flow": "...", "invitee": "sip:..."}') from None
    if not isinstance(body, dict):
        raise ValueError('the body must be a JSON object: {"flow": "...", "invitee": "sip:..."}')
    unknown = sorted(set(body) - {"flow", "invitee", "invitees"})
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)}: give flow, and invitee or invitees"
        )
    if "invitee" in body and "invitees" in body:
        raise ValueError("give invitee (one person) or invitees (a list), not both")
    flow = body.get("flow")
    if not isinstance(flow, str) or not flow.strip():
        raise ValueError("flow must be a non-empty string")
    if "invitee" in body:
        invitee = body["invitee"]
        if not isinstance(invitee, str) or not invitee.strip():
            raise ValueError("invitee must be a non-empty string")
        return flow, invitee
    if "invitees" in body:
        people = body["invitees"]
        if (
            not isinstance(people, list)
            or not people
            or not all(isinstance(p, str) and p.strip() for p in people)
        ):
            raise ValueError("invitees must be a non-empty list of non-empty strings")
        return flow, [str(p) for p in people]
    return flow, None


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _message(exc: LookupError) -> str:
    # KeyError's str() is the repr of its argument: show the message itself
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "an unknown client"

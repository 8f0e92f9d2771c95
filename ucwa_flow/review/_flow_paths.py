"""A flow's name as one segment of ``/flows/{name}/...``, whatever it holds (private).

The pages link a flow as ``/flows/`` + its name percent-encoded (``team%2Fhelpdesk`` for
``team/helpdesk``), but the server hands the app the path decoded, where that name is two
segments and no route matches it. :class:`FlowNamePaths` reads the name's segment from the
request as it was sent (``raw_path``) and gives the routes the name encoded again, one
segment; :func:`flow_name` decodes it for the handler.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FlowNamePaths", "flow_name"]

_PREFIX = "/flows/"


def flow_name(request: Request) -> str | None:
    """The flow named by a ``/flows/{name}/...`` request, decoded; None for other routes."""
    name = request.path_params.get("name")
    return None if name is None else unquote(str(name))


class FlowNamePaths:
    """Rewrites the path of ``/flows/...`` requests so the name's segment stays encoded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(_PREFIX):
            scope = dict(scope, path=_encoded_name_path(scope))
        await self.app(scope, receive, send)


def _encoded_name_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    # some servers leave the query on (httpx's ASGI transport): a raw path has no "?" itself
    sent = raw.decode("latin-1").partition("?")[0] if isinstance(raw, bytes) else None
    if sent is None or not sent.startswith(_PREFIX):
        # no raw path from this server: the decoded path, its first segment taken as the name
        path: str = scope["path"]
        name, slash, rest = path[len(_PREFIX) :].partition("/")
    else:
        segment, slash, rest = sent[len(_PREFIX) :].partition("/")
        name, rest = unquote(segment), unquote(rest)
    return _PREFIX + quote(name, safe="") + slash + rest

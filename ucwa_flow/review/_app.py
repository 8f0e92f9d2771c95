"""The review web app: :func:`create_app` (Starlette).

Routes (pages are HTML, the rest JSON or an event stream):

=====================================  ===================================================
``GET /``                              the flows (``a.flow-link``), lifecycles, stored ones
``GET /flows/{name}``                  a flow: graph, source, problems, live, replay (the
                                       name percent-encoded: ``team%2Fhelpdesk``)
``GET /flows/{name}/files/{file}``     a file of the flow (JSON lines; 404 for any other)
``GET /flows/{name}/events``           the live feed as server-sent events (404 without)
``GET /flows/{name}/conversations/ID`` one live conversation's detail (404 if unknown)
``GET /live``                          the live snapshot
``GET /live/events``                   the live feed, as ``/flows/{name}/events``
``GET /live/conversations/ID``         as ``/flows/{name}/conversations/ID``
``GET /lifecycle/{kind}``              a lifecycle machine with live counts
``GET /transcripts``                   the stored finished conversations (JSON; 404 without)
``GET /transcripts/{id}``              one stored conversation in the replay view
``GET /static/...``                    the page script and style sheet
=====================================  ===================================================

The app has no authentication; :class:`~ucwa_flow._local_guard.LocalGuard` answers ``403``
to a request naming a ``Host`` that is not an IP address, a dotless name, the machine's name
or one of ``hosts`` (DNS rebinding: a web page reading the transcripts through a name of
its own; the refusal says to start the review with ``--allow-host NAME``, which both
``review`` and ``run --review`` take), and to a non-``GET`` from another site's page.

Every page works without a live source (no counts) and without a store. The app's
``state.closing`` event ends every event stream (:class:`~ucwa_flow.review.ReviewServer`
sets it when it stops).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ucwa_flow._local_guard import LocalGuard
from ucwa_flow.live import EventStream
from ucwa_flow.review._coverage import CoverageResults
from ucwa_flow.review._events import event_stream
from ucwa_flow.review._flow_paths import FlowNamePaths, flow_name
from ucwa_flow.review._lifecycle import LIFECYCLE_KINDS
from ucwa_flow.review._pages import (
    flow_page,
    index_page,
    lifecycle_page,
    missing_page,
    replay_only_page,
)
from ucwa_flow.review._shelf import FlowShelf
from ucwa_flow.review._source import LiveSource, detail_of
from ucwa_flow.review._stored import StoredConversations

__all__ = ["STATIC", "create_app"]

#: the directory of the page script and style sheet
STATIC = Path(__file__).with_name("static")
#: how a refused ``Host`` name is let through (``review`` and ``run --review``)
_HOST_HINT = "or start the review with --allow-host {name}"
_NO_CACHE = {"Cache-Control": "no-store"}


def create_app(
    flows: FlowShelf,
    *,
    coverage: CoverageResults | None = None,
    live: LiveSource | None = None,
    stored: StoredConversations | None = None,
    hosts: Iterable[str] = (),
) -> Starlette:
    """The review app over ``flows``, with coverage, a live source and a store if given;
    ``hosts``: host names it may be asked by besides the ones :class:`LocalGuard` takes
    (the ``--listen`` name)."""
    review = _Review(flows, coverage, live, stored, asyncio.Event())
    routes = [
        Route("/", review.index),
        Route("/flows/{name}", review.flow),
        Route("/flows/{name}/files/{file:path}", review.source),
        Route("/flows/{name}/events", review.events),
        Route("/flows/{name}/conversations/{conversation:path}", review.conversation),
        Route("/live", review.snapshot),
        Route("/live/events", review.events),
        Route("/live/conversations/{conversation:path}", review.conversation),
        Route("/lifecycle/{kind}", review.lifecycle),
        Route("/transcripts", review.transcripts),
        Route("/transcripts/{conversation:path}", review.transcript),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    guard = Middleware(LocalGuard, names=hosts, hint=_HOST_HINT)
    app = Starlette(routes=routes, middleware=[guard, Middleware(FlowNamePaths)])
    app.state.closing = review.closing  # set by ReviewServer.stop(): event streams end
    return app


class _Review:
    def __init__(
        self,
        flows: FlowShelf,
        coverage: CoverageResults | None,
        live: LiveSource | None,
        stored: StoredConversations | None,
        closing: asyncio.Event,
    ) -> None:
        self.closing = closing
        self.flows = flows
        self.coverage = coverage
        self.live = live
        self.stored = stored

    @property
    def has_live(self) -> bool:
        return self.live is not None

    async def index(self, request: Request) -> Response:
        rows = await self.stored.recent() if self.stored is not None else None
        return HTMLResponse(index_page(self.flows.all(), rows, live=self.has_live))

    async def flow(self, request: Request) -> Response:
        name = flow_name(request) or ""
        flow = self.flows.get(name)
        if flow is None:
            return self._missing(f"No flow called {name!r} in this review.")
        counts = None
        if self.coverage is not None and flow.graph is not None:
            counts = self.coverage.counts(flow.path, flow.name, flow.graph)
        return HTMLResponse(flow_page(flow, counts=counts, live=self.has_live))

    async def source(self, request: Request) -> Response:
        """One file of a flow: its own, an included file or a sub-flow, by the path relative
        to the flow file's folder that the graph's ``data-file`` names; nothing else."""
        name, file = flow_name(request) or "", request.path_params["file"]
        flow = self.flows.get(name)
        if flow is None:
            return _error(404, f"no flow called {name!r} in this review")
        lines = flow.source(file)
        if lines is None:
            return _error(404, f"{file!r} is not a file of the flow {name!r}")
        return JSONResponse({"file": file, "lines": list(lines)}, headers=_NO_CACHE)

    async def lifecycle(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in LIFECYCLE_KINDS:
            return self._missing(f"No lifecycle {kind!r}: one of {', '.join(LIFECYCLE_KINDS)}.")
        return HTMLResponse(lifecycle_page(kind, live=self.has_live))

    async def snapshot(self, request: Request) -> Response:
        if self.live is None:
            return _error(404, "this review has no live source (run --review, or --attach)")
        return JSONResponse(self.live.snapshot(), headers=_NO_CACHE)

    async def events(self, request: Request) -> Response:
        if (unknown := self._unknown_flow(request)) is not None:
            return unknown
        if self.live is None:
            return _error(404, "this review has no live source (run --review, or --attach)")
        # live's response ends the stream as soon as the browser goes (whatever ASGI version)
        return EventStream(event_stream(self.live, closing=self.closing))

    async def conversation(self, request: Request) -> Response:
        if (unknown := self._unknown_flow(request)) is not None:
            return unknown
        if self.live is None:
            return _error(404, "this review has no live source")
        found = await detail_of(self.live, request.path_params["conversation"])
        if found is None:
            return _error(404, "no such conversation")
        return JSONResponse(found, headers=_NO_CACHE)

    async def transcripts(self, request: Request) -> Response:
        if self.stored is None:
            return _error(404, "this review has no store (--store URL)")
        return JSONResponse(await self.stored.recent(), headers=_NO_CACHE)

    async def transcript(self, request: Request) -> Response:
        if self.stored is None:
            return self._missing("This review has no store: start it with --store URL.")
        key = request.path_params["conversation"]
        replay = await self.stored.detail(key)
        if replay is None:
            return self._missing(f"No stored conversation {key!r}.")
        flow = self.flows.get(str(replay["flow"]))
        if flow is None:
            return HTMLResponse(replay_only_page(replay))
        return HTMLResponse(flow_page(flow, counts=None, live=False, replay=replay))

    def _unknown_flow(self, request: Request) -> Response | None:
        """A 404 for ``/flows/{name}/...`` of a flow this review does not show, else None
        (the routes serve the live feed, which is every flow's: no file is reloaded)."""
        name = flow_name(request)
        if name is None or self.flows.knows(name):
            return None
        return _error(404, f"no flow called {name!r} in this review")

    def _missing(self, what: str) -> Response:
        return HTMLResponse(missing_page(what, live=self.has_live), status_code=404)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)

"""``ucwa-flow review``: a local web app to review flows in the browser.

A page per flow shows its graph (the built-in SVG, each state and edge carrying its
source line), the YAML beside it (clicking a state or edge selects its line), the
problems ``validate`` reports pinned on their states, and optionally:

* **coverage** (``--coverage RESULTS.json`` from ``ucwa-flow test --json``): edges the
  tests never took drawn apart (class ``untaken``), every edge with its ``data-count``;
* **live** conversations: counts per state, the list of conversations, one's transcript
  replayed step by step on the graph. The source is a
  :class:`LiveSource`: a bot's in-process live board (``ucwa-flow run --review``) or a
  :class:`RemoteLive` following the admin endpoint of ``ucwa-flow serve`` (``--attach``);
* **stored** conversations (``--store URL``) in the same replay view.

Public API::

    from ucwa_flow.review import FlowShelf, ReviewServer, create_app

    app = create_app(FlowShelf.load(["flows/helpdesk.flow.yaml"]), live=board)
    server = ReviewServer(app, "127.0.0.1", 0)
    url = await server.start()          # http://127.0.0.1:PORT/
    ...
    await server.stop()

The pages' DOM (ids, classes, ``data-`` attributes) is a contract for browser tests and
is described in ``docs/review.md``.
"""

from __future__ import annotations

from ucwa_flow._listen import parse_listen
from ucwa_flow.review._app import STATIC, create_app
from ucwa_flow.review._coverage import CoverageResults, load_coverage
from ucwa_flow.review._flows import ReviewedFlow, review_flow, skeleton_graph
from ucwa_flow.review._remote import RemoteLive
from ucwa_flow.review._server import DEFAULT_LISTEN, ReviewServer
from ucwa_flow.review._shelf import FlowShelf
from ucwa_flow.review._source import LiveSource
from ucwa_flow.review._stored import StoredConversations, stored_detail

__all__ = [
    "DEFAULT_LISTEN",
    "STATIC",
    "CoverageResults",
    "FlowShelf",
    "LiveSource",
    "RemoteLive",
    "ReviewServer",
    "ReviewedFlow",
    "StoredConversations",
    "create_app",
    "load_coverage",
    "parse_listen",
    "review_flow",
    "skeleton_graph",
    "stored_detail",
]

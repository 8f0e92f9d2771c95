"""The live picture of a running bot: counts per state, conversations, their steps.

* :class:`LiveSource`: the seam (``snapshot()``, ``conversation(id)``, ``changes()``)
  that the admin endpoint's ``/live`` routes serve and the review app (``ucwa-flow review``,
  ``ucwa-flow run --review``) reads; the JSON shapes are in :mod:`ucwa_flow.live._source`;
* :class:`LiveBoard`: the live source kept from an engine's trace records (it *is* a trace
  sink; :meth:`LiveBoard.sink` gives one per account of a ``serve`` process);
* :func:`live_routes`: the starlette routes ``/live``, ``/live/events`` (server-sent
  events) and ``/live/conversations/{id}`` over any live source; :func:`sse_events` and
  :class:`EventStream` are its event stream, for an app that serves one elsewhere.

Example (one engine)::

    board = LiveBoard()
    bot = Bot(flow, client, clock=clock, sink=board)
    board.attach(bot.engine)     # how the board learns each conversation's flow
    ...
    board.snapshot()["flows"]    # {"helpdesk": {"states": {"menu": 2}}}
"""

from __future__ import annotations

from ucwa_flow.live._board import LiveBoard, Lookup
from ucwa_flow.live._routes import PING_EVERY, EventStream, live_routes, sse_events
from ucwa_flow.live._source import LiveSource

__all__ = [
    "PING_EVERY",
    "EventStream",
    "LiveBoard",
    "LiveSource",
    "Lookup",
    "live_routes",
    "sse_events",
]

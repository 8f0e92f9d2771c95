"""The admin HTTP endpoint of ``ucwa-flow serve``: health, readiness, metrics, reload, live feed.

* :func:`create_app` builds the starlette app over an :class:`AdminTarget` (the service:
  :meth:`~AdminTarget.readiness`, :meth:`~AdminTarget.reload`, :meth:`~AdminTarget.has_account`,
  :meth:`~AdminTarget.start_outbound`) and a :class:`~ucwa_flow.observe.metrics.Metrics`,
  with an optional bearer token and an optional :class:`~ucwa_flow.live.LiveSource` (the
  ``/live`` routes);
* :class:`AdminServer` serves it with uvicorn inside the running event loop
  (``await start()`` returns the bound address, ``await stop()``, which ends open event
  streams first).

The routes are listed in :mod:`ucwa_flow.admin._app`. Bind it to loopback (the default) or
set a token: ``/reload`` and outbound starts change what the process does.
"""

from __future__ import annotations

from ucwa_flow.admin._app import OPEN_PATHS, create_app
from ucwa_flow.admin._server import AdminServer, unguarded
from ucwa_flow.admin._target import (
    AccountElsewhere,
    AccountHealth,
    AdminTarget,
    Readiness,
    ReloadReport,
    Why,
)

__all__ = [
    "OPEN_PATHS",
    "AccountElsewhere",
    "AccountHealth",
    "AdminServer",
    "AdminTarget",
    "Readiness",
    "ReloadReport",
    "Why",
    "create_app",
    "unguarded",
]

"""Explore a flow and write conversation tests that take every transition.

``ucwa-flow test --explore FLOW`` (``docs/testing.md``, "Exploring a flow") plays the
flow on the simulator, breadth first, until every transition of its graph is taken or
known to be out of reach, and writes the shortest paths it found as ``.test.yaml``
scenarios whose expectations record what the flow does today.

Public API::

    from ucwa_flow.testing.explore import explore_flow, invert

    report = asyncio.run(explore_flow("flows/helpdesk.flow.yaml"))
    report.files            # the scripts written
    report.coverage         # FlowCoverage of running them
    report.missed           # Edge -> why it was not taken

* :func:`explore_flow` -> :class:`ExploreReport` (raises :class:`ExploreError`);
* :func:`invert` builds a string a regular expression matches (:class:`Inversion`),
  or raises :class:`Uninvertible` with the reason.

Modules: ``_invert`` (regex inversion), ``_messages`` (texts a handler takes, checked
with the real matchers), ``_entry`` (ways in: callers and times for the invitation
policy), ``_play`` (playing a path on the stage), ``_reach`` and ``_unbuildable`` (what
the flow rules out, read before playing), ``_search`` (the breadth-first search),
``_reasons`` (why a transition was not taken), ``_write`` (scripts), ``_explore``.
"""

from __future__ import annotations

from ucwa_flow.testing.explore._explore import (
    ExploreError,
    ExploreReport,
    default_output,
    explore_flow,
)
from ucwa_flow.testing.explore._invert import Inversion, Uninvertible, invert

__all__ = [
    "ExploreError",
    "ExploreReport",
    "Inversion",
    "Uninvertible",
    "default_output",
    "explore_flow",
    "invert",
]

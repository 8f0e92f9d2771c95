"""Semantic differences between two versions of a flow, for review.

:func:`diff_flows` compares two compiled :class:`~ucwa_flow.flow.Flow` objects and
returns a :class:`FlowDiff` (plain data): flow-wide changes (start, settings, variables,
global commands, invitation policy, outbound) and, per state, whether it was added,
removed, renamed (matched by content similarity, see :data:`RENAME_THRESHOLD`) or changed,
with each handler, timeout step, no-match rung, enter action list and command that differs.

Three views of a diff: :func:`format_text` (the CLI's default report),
:meth:`FlowDiff.to_json`, and :func:`diff_graph` (one merged graph of both versions
whose nodes and edges are marked ``added``, ``removed`` or ``changed``, drawn by the
graph package's SVG and HTML renderers); :func:`render_diff_html` is the review page.

Example::

    from ucwa_flow.diff import diff_flows, format_text
    from ucwa_flow.flow import load_flow

    old = load_flow("old.flow.yaml").raise_for_errors()
    new = load_flow("flows/helpdesk.flow.yaml").raise_for_errors()
    print(format_text(diff_flows(old, new)))
"""

from __future__ import annotations

from ucwa_flow.diff._compare import RENAME_THRESHOLD, diff_flows, similarity
from ucwa_flow.diff._graph import diff_graph, render_diff_html
from ucwa_flow.diff._model import Change, ChangeStatus, FlowDiff, StateDiff, StateStatus
from ucwa_flow.diff._text import format_change, format_text

__all__ = [
    "RENAME_THRESHOLD",
    "Change",
    "ChangeStatus",
    "FlowDiff",
    "StateDiff",
    "StateStatus",
    "diff_flows",
    "diff_graph",
    "format_change",
    "format_text",
    "render_diff_html",
    "similarity",
]

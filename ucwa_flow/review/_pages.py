"""The review pages: the index, a flow, a lifecycle machine, a stored conversation.

Each returns a whole HTML page (:func:`~ucwa_flow.review._shell.page`). The flow page is
the centre of the review (its DOM is a contract the browser tests rely on, see
``docs/review.md``): the graph (``<svg id="graph">``), the YAML source (``#source``, one
``<li id="L{n}">`` per line; a flow of several files has a tab per file in
``#source-files``, the others fetched from ``/flows/{name}/files/{file}``), the problems
``validate`` reports (``#problems``), the live
conversations (``#conversations``) and the replay of one (``#transcript`` and its
buttons). ``<main>``'s ``data-`` attributes tell the script where the live feed is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ucwa_flow.graph import Decorations, Edge, Graph, Node, NodeKind, render_svg
from ucwa_flow.review._flows import ReviewedFlow
from ucwa_flow.review._lifecycle import LIFECYCLE_KINDS, lifecycle_graph
from ucwa_flow.review._shell import attrs, esc, page, path_part

__all__ = ["flow_page", "index_page", "lifecycle_page", "missing_page", "replay_only_page"]


def index_page(
    flows: Sequence[ReviewedFlow], stored: Sequence[Mapping[str, Any]] | None, *, live: bool
) -> str:
    """``/``: a link per flow (``a.flow-link``), the lifecycles, stored conversations."""
    items = []
    for flow in flows:
        errors = sum(1 for d in flow.problems if d.is_error)
        note = f" — {len(flow.problems)} problem(s), {errors} error(s)" if flow.problems else ""
        items.append(
            f'<li><a class="flow-link" href="/flows/{path_part(flow.name)}">{esc(flow.name)}</a>'
            f' <span class="file">{esc(flow.path)}</span>{esc(note)}</li>'
        )
    lifecycles = "".join(
        f'<li><a class="lifecycle-link" href="/lifecycle/{kind}">{kind} lifecycle</a></li>'
        for kind in LIFECYCLE_KINDS
    )
    parts = [
        '<main class="index">',
        "<h2>Flows</h2>",
        f'<ul class="flows">{"".join(items)}</ul>',
        "<h2>UCWA lifecycles</h2>",
        f'<ul class="lifecycles">{lifecycles}</ul>',
    ]
    if stored is not None:
        parts += ["<h2>Finished conversations</h2>", _stored_list(stored)]
    parts.append("</main>")
    return page("flows", "\n".join(parts), heading="Flows", live=live)


def _stored_list(stored: Sequence[Mapping[str, Any]]) -> str:
    if not stored:
        return '<p class="empty">The store holds no finished conversation.</p>'
    rows = [
        f'<li class="stored"><a href="/transcripts/{path_part(str(row["id"]))}">'
        f"{esc(row['started_at'])} {esc(row['caller'] or '(unknown)')}</a> "
        f'<span class="flow">{esc(row["flow"])}</span> {_outcome(row)}</li>'
        for row in stored
    ]
    return f'<ul class="stored-list">{"".join(rows)}</ul>'


def _outcome(row: Mapping[str, Any]) -> str:
    """``ended in menu: caller``, or ``turned away: busy`` (an invitation declined)."""
    reason = esc(": " + str(row["reason"]) if row.get("reason") else "")
    if row.get("declined"):
        return f"turned away{reason}"
    return f"ended in {esc(row['state'])}{reason}"


def flow_page(
    flow: ReviewedFlow,
    *,
    counts: Mapping[Edge, int] | None,
    live: bool,
    replay: Mapping[str, Any] | None = None,
) -> str:
    """``/flows/{name}`` (and ``/transcripts/{id}`` with ``replay``, a stored conversation)."""
    graph_html = _graph_html(flow, counts, live and replay is None)
    main = {
        "class": "review",
        "data-flow": flow.name,
        "data-file": flow.file_name,
        "data-files": f"/flows/{path_part(flow.name)}/files/",
        "data-live": "1" if live and replay is None else "0",
        "data-events": f"/flows/{path_part(flow.name)}/events",
        "data-detail": f"/flows/{path_part(flow.name)}/conversations/",
        "data-coverage": "1" if counts is not None else "0",
    }
    body = [
        f"<main{attrs(main)}>",
        '<section class="graph-pane">',
        _problems(flow),
        _coverage_note(counts),
        f'<div class="picture">{graph_html}</div>',
        "</section>",
        '<aside class="side-pane">',
        '<section class="source-pane">',
        f'<h2>Source <span id="location" class="location">{esc(flow.file_name)}</span></h2>',
        _file_tabs(flow),
        _source(flow.lines),
        "</section>",
        _live_panes(replay),
        "</aside>",
        "</main>",
    ]
    title = flow.name if replay is None else f"{flow.name}: conversation {replay['id']}"
    heading = esc(flow.name) + (" — replay" if replay is not None else "")
    return page(title, "\n".join(body), heading=heading, live=live and replay is None)


def lifecycle_page(kind: str, *, live: bool) -> str:
    """``/lifecycle/{kind}``: the lifecycle machine's graph with live counts per state."""
    graph = lifecycle_graph(kind)
    svg = render_svg(graph, decorations=Decorations(svg_id="graph", live_counts=True))
    main = {
        "class": "review lifecycle-review",
        "data-lifecycle-kind": kind,
        "data-live": "1" if live else "0",
        "data-events": "/live/events",
    }
    body = (
        f"<main{attrs(main)}>"
        f'<section class="graph-pane"><div class="picture">{svg}</div></section>'
        '<aside class="side-pane">' + _conversation_list() + "</aside></main>"
    )
    return page(f"{kind} lifecycle", body, heading=f"{esc(kind)} lifecycle", live=live)


def missing_page(what: str, *, live: bool) -> str:
    """A 404 page saying what was not found."""
    body = f'<main class="index"><p class="missing">{esc(what)}</p></main>'
    return page("not found", body, heading="Not found", live=live)


def replay_only_page(replay: Mapping[str, Any]) -> str:
    """A stored conversation of a flow this review does not show: its steps alone."""
    main = {"class": "review replay-only", "data-live": "0"}
    body = f"<main{attrs(main)}><aside class='side-pane'>{_live_panes(replay)}</aside></main>"
    note = f"{replay['flow']} (not loaded)"
    return page(f"conversation {replay['id']}", body, heading=esc(note), live=False)


# -- pieces -------------------------------------------------------------------------------


def _graph_html(flow: ReviewedFlow, counts: Mapping[Edge, int] | None, live: bool) -> str:
    if flow.graph is None:
        return '<p class="no-graph">No graph: the file is not valid YAML.</p>'
    graph: Graph = flow.graph
    problems: dict[Node, str] = {Node(NodeKind.STATE, name): "has-problem" for name in flow.pinned}
    decorations = Decorations(
        svg_id="graph", node_classes=problems, edge_counts=counts, live_counts=live
    )
    return render_svg(graph, decorations=decorations)


def _problems(flow: ReviewedFlow) -> str:
    state_of = {d: name for name, found in flow.pinned.items() for d in found}
    items = []
    for d in flow.problems:
        where = {"data-line": d.line, "data-file": flow.file_of(d), "data-state": state_of.get(d)}
        kind = "error" if d.is_error else "warning"
        items.append(f'<li class="{kind}"{attrs(where)}>{esc(d)}</li>')
    hidden = "" if items else " hidden"
    return f'<ul id="problems" class="problems"{hidden}>{"".join(items)}</ul>'


def _coverage_note(counts: Mapping[Edge, int] | None) -> str:
    if counts is None:
        return ""
    taken = sum(1 for count in counts.values() if count)
    return (
        f'<p class="coverage-note">Coverage: {taken} of {len(counts)} transitions taken by '
        "the tests; dashed grey ones never were. Each edge's count is in its tooltip.</p>"
    )


def _file_tabs(flow: ReviewedFlow) -> str:
    """A tab per file of a flow made of several (its own first, shown at first)."""
    if not flow.parts:
        return ""
    tabs = [
        f'<button type="button" class="source-file{" current" if not index else ""}"'
        f"{attrs({'data-file': name})}>{esc(name)}</button>"
        for index, name in enumerate((flow.file_name, *flow.parts))
    ]
    return f'<nav id="source-files" class="source-files">{"".join(tabs)}</nav>'


def _source(lines: Sequence[str]) -> str:
    items = "".join(
        f'<li id="L{number}"><code>{esc(line) or " "}</code></li>'
        for number, line in enumerate(lines, start=1)
    )
    return f'<ol id="source" class="source">{items}</ol>'


def _conversation_list() -> str:
    return (
        '<section class="conversations-pane"><h2>Conversations</h2>'
        '<ul id="conversations" class="conversations"></ul></section>'
    )


def _live_panes(replay: Mapping[str, Any] | None) -> str:
    data = ""
    if replay is not None:
        # "<" as a JSON escape: nothing a caller wrote can close or open a tag in here
        text = json.dumps(replay, ensure_ascii=False).replace("<", "\\u003c")
        data = f'<script type="application/json" id="replay-data">{text}</script>'
    conversations = _conversation_list() if replay is None else ""
    return (
        conversations + '<section class="replay-pane"><h2>Transcript '
        '<span id="replay-title" class="replay-title"></span></h2>'
        '<div class="controls">'
        '<button id="step-prev" type="button" title="previous step">◀ prev</button>'
        '<button id="step-play" type="button" title="play the steps">▶ play</button>'
        '<button id="step-next" type="button" title="next step">next ▶</button>'
        "</div>"
        '<ol id="transcript" class="transcript"></ol>' + data + "</section>"
    )

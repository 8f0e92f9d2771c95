"""Render a :class:`Graph` as one self-contained HTML page: the SVG inline, a legend.

The page has no script and fetches nothing (no CDN, no web font, no image file), so it
opens offline in any browser and can be mailed or attached to a pull request as is. The
picture is the built-in SVG (:func:`~ucwa_flow.graph._svg.render_svg`), whose elements
carry ``data-state`` attributes; hovering a node or edge shows its ``<title>``.

A graph with marks (the comparison of two flow versions) gets a second legend for the
marks; a caller may add its own HTML after the picture (``appendix``, already escaped),
which is how ``ucwa-flow diff`` puts the list of changes on the same page.
"""

from __future__ import annotations

from ucwa_flow.graph._dot import EDGE_STYLES
from ucwa_flow.graph._model import EdgeKind, Graph
from ucwa_flow.graph._svg import DASHES, MARK_STYLES, edge_color, escape, render_svg

__all__ = ["render_html"]

#: what each edge kind means, for the legend
_MEANINGS = {
    EdgeKind.MESSAGE: "the caller's message matched (pattern, words, choice)",
    EdgeKind.COMMAND: "a command, from any state",
    EdgeKind.TIMEOUT: "silence for a while",
    EdgeKind.NO_MATCH: "the message matched nothing",
    EdgeKind.INVITE: "an invitation's outcome",
    EdgeKind.WEBHOOK: "a webhook's outcome",
    EdgeKind.ENTER: "on entering the state",
    EdgeKind.ENDED: "the caller left",
    EdgeKind.DELIVERY_FAILED: "a message could not be delivered",
    EdgeKind.BACK: "goto back: to the state the conversation came from",
    EdgeKind.EVENT: "an invitation arrives / a lifecycle event",
}

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #111827; }
h1 { font-size: 1.3em; margin: 0 0 .4em; }
.legend { display: flex; flex-wrap: wrap; gap: .3em 1.4em; margin: 0 0 1em; padding: 0;
  list-style: none; font-size: .85em; }
.legend svg { vertical-align: middle; margin-right: .3em; }
.picture { overflow: auto; border: 1px solid #e5e7eb; border-radius: 6px; }
.picture g.node:hover rect, .picture g.edge:hover path { stroke-width: 2.5; }
""".strip()


def render_html(graph: Graph, *, appendix: str = "", extra_style: str = "") -> str:
    """A complete HTML document showing ``graph``, with a legend of the edge kinds used
    (and of the marks, when the graph has some).

    ``appendix`` is HTML put after the picture and ``extra_style`` CSS added to the page's
    style sheet; both are inserted as given (the caller escapes its own text).
    """
    used = [kind for kind in EdgeKind if any(edge.kind is kind for edge in graph.edges)]
    marks = [mark for mark in MARK_STYLES if mark in graph.marks.values()]
    title = escape(graph.title)
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title} — ucwa-flow graph</title>",
        f"<style>\n{_STYLE}\n{extra_style}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
        '<ul class="legend">',
        *(_legend_item(kind) for kind in used),
        "</ul>",
        *(
            ['<ul class="legend marks">', *(_mark_item(mark) for mark in marks), "</ul>"]
            if marks
            else []
        ),
        '<div class="picture">',
        render_svg(graph).rstrip("\n"),
        "</div>",
        *([appendix] if appendix else []),
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"


def _legend_item(kind: EdgeKind) -> str:
    color = edge_color(kind)
    dash = DASHES.get(EDGE_STYLES[kind].get("style", ""), "")
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    sample = (
        f'<svg width="34" height="10" aria-hidden="true"><line x1="0" y1="5" x2="34" y2="5" '
        f'stroke="{color}" stroke-width="2"{dash_attr}/></svg>'
    )
    name = kind.value.replace("_", "-")
    return f'<li class="{kind.value}">{sample}<b>{name}</b>: {escape(_MEANINGS[kind])}</li>'


def _mark_item(mark: str) -> str:
    fill, stroke, dash = MARK_STYLES[mark]
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    sample = (
        f'<svg width="30" height="14" aria-hidden="true"><rect x="1" y="1" width="28" '
        f'height="12" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="2"{dash_attr}/></svg>'
    )
    return f'<li class="mark-{mark}">{sample}<b>{mark}</b></li>'

"""The frame every review page shares: head, header bar, lifecycle bar, script.

Pages are plain HTML strings built on the server; the behaviour is two scripts and one
style sheet shipped in this package (``static/source.js``, the source pane,
``static/review.js``, the rest, and ``static/review.css``), served
by the app under ``/static/``. Nothing is fetched from elsewhere, so a review works
offline.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from urllib.parse import quote

from ucwa_flow.review._lifecycle import LIFECYCLE_KINDS, lifecycle_states

__all__ = ["attrs", "esc", "lifecycle_bar", "page", "path_part"]


def esc(text: object) -> str:
    """``text`` escaped for HTML content and quoted attribute values."""
    return html.escape(str(text), quote=True)


def attrs(values: Mapping[str, object | None]) -> str:
    """`` name="value"`` pairs (escaped) for the values that are not ``None``."""
    return "".join(f' {name}="{esc(value)}"' for name, value in values.items() if value is not None)


def path_part(text: str) -> str:
    """``text`` as one segment of a URL path."""
    return quote(text, safe="")


def lifecycle_bar(live: bool) -> str:
    """``#lifecycle``: each lifecycle state with the number of conversations in it."""
    groups = []
    for kind in LIFECYCLE_KINDS:
        counts = "".join(
            f'<span class="lc-state" title="{esc(state)}">{esc(state)} '
            f'<span data-lifecycle="{esc(kind)}" data-lifecycle-state="{esc(state)}">'
            f"{'0' if live else ''}</span></span>"
            for state in lifecycle_states(kind)
        )
        groups.append(
            f'<span class="lc-group"><a href="/lifecycle/{kind}">{kind}</a> {counts}</span>'
        )
    hidden = "" if live else " hidden"
    return f'<div id="lifecycle" class="lifecycle"{hidden}>{"".join(groups)}</div>'


def page(title: str, body: str, *, heading: str, live: bool, extra_head: str = "") -> str:
    """A whole page: ``body`` under the header bar (title, live status, lifecycle bar)."""
    status = "connecting" if live else "off"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)} — ucwa-flow review</title>",
            '<link rel="stylesheet" href="/static/review.css">',
            '<link rel="icon" href="data:,">',
            extra_head,
            "</head>",
            "<body>",
            '<header class="top">',
            '<a class="home" href="/">ucwa-flow review</a>',
            f"<h1>{heading}</h1>",
            f'<span id="live-status" class="live-status {status}">{status}</span>',
            "</header>",
            lifecycle_bar(live),
            body,
            '<script src="/static/source.js"></script>',
            '<script src="/static/review.js"></script>',
            "</body>",
            "</html>",
        ]
    )

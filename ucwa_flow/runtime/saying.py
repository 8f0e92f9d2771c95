"""What a ``say`` sends: its plain text, and its HTML when the conversation takes HTML.

With ``settings.format: html``, a conversation that negotiated HTML messages gets the
``html`` part; every message also has a plain text (the ``text`` part, or the HTML with
its tags removed), which is what a plain-text conversation gets and what traces show.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ucwa_flow.flow import Say
from ucwa_flow.ucwa.dataurl import html_to_text

__all__ = ["render_say"]


def render_say(
    action: Say, ctx: Mapping[str, Any], flow_format: str, formats: Collection[str]
) -> tuple[str, str | None]:
    """``(text, html)`` of ``action`` rendered in ``ctx``; ``html`` is ``None`` unless the
    flow's format is html and the conversation's ``formats`` include ``Html``."""
    html = action.html.render(ctx) if action.html is not None else None
    text = action.text.render(ctx) if action.text is not None else html_to_text(html or "")
    use_html = html is not None and flow_format == "html" and "Html" in formats
    return text, html if use_html else None

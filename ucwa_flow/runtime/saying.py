"""What a ``say`` sends: its plain text, and its HTML when the conversation takes HTML.

With ``settings.format: html``, a conversation that negotiated HTML messages gets the
``html`` part; every message also has a plain text (the ``text`` part, or the HTML with
its tags removed), which is what a plain-text conversation gets and what traces show.
A ``say`` with ``texts`` says the version of the conversation's language
(``conversation.language`` in the context), else the default language's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ucwa_flow.flow import Say, version_of
from ucwa_flow.ucwa.dataurl import html_to_text

__all__ = ["render_say"]


def render_say(
    action: Say, ctx: Mapping[str, Any], flow_format: str, formats: Collection[str]
) -> tuple[str, str | None]:
    """``(text, html)`` of ``action`` rendered in ``ctx``; ``html`` is ``None`` unless the
    flow's format is html and the conversation's ``formats`` include ``Html``."""
    text_part, html_part = action.text, action.html
    if action.texts:
        text_part, html_part = version_of(action, ctx["conversation"]["language"])
    html = html_part.render(ctx) if html_part is not None else None
    text = text_part.render(ctx) if text_part is not None else html_to_text(html or "")
    # an html part that comes out empty (or blank: a block scalar's line break) is not
    # sent: the plain text is, if there is one
    use_html = bool(html and html.strip()) and flow_format == "html" and "Html" in formats
    return text, html if use_html else None

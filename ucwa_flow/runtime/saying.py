"""What a ``say`` sends: its text, and its HTML when the conversation takes HTML.

:func:`render_say` renders a :class:`~ucwa_flow.flow.Say` in a template context: the
``html`` part is sent when the flow's format is ``html`` and the conversation negotiated
HTML messages (``formats``), the ``text`` part otherwise (or, when the flow gives only
``html``, its text with the tags removed). A ``say`` with ``texts`` says the version of
the conversation's language (``conversation.language`` in the context), else the
default language's. The instance sends the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ucwa_flow.flow import Say, version_of
from ucwa_flow.ucwa.dataurl import html_to_text

__all__ = ["render_say"]


def render_say(
    action: Say, ctx: Mapping[str, Any], *, flow_format: str, formats: tuple[str, ...]
) -> tuple[str, str | None]:
    """``(text, html)`` of ``action``: ``html`` is ``None`` when the text is to be sent.

    Raises what a template raises when it fails (the ``say`` then sends nothing).
    """
    text_part, html_part = action.text, action.html
    if action.texts:
        text_part, html_part = version_of(action, ctx["conversation"]["language"])
    html = html_part.render(ctx) if html_part is not None else None
    text = text_part.render(ctx) if text_part is not None else html_to_text(html or "")
    use_html = html is not None and flow_format == "html" and "Html" in formats
    return text, html if use_html else None

"""URL path segments: the ``urlsegment`` filter, and the dot-segments a webhook refuses.

Jinja's ``urlencode`` quotes a text for a query: it leaves ``/`` (and ``.``) alone, so
``https://crm.example/people/{{ name | urlencode }}/card`` with the name
``../../admin`` is ``https://crm.example/people/../../admin/card``, which HTTP clients
(httpx included) normalise to ``https://crm.example/admin/card``: the caller picks the
resource the request, with the flow's headers, goes to.

``urlsegment`` percent-encodes everything but letters, digits and ``-._~``, ``/``, ``\\``,
``?``, ``#``, ``%`` and ``@`` included, so its value stays one segment; a value that is
``.`` or ``..`` becomes ``%2E`` or ``%2E%2E``, which URL parsers still read as a
dot-segment (WHATWG), so :func:`dot_segment` (run on every webhook request before it is
sent) refuses it, with any other dot-segment in the rendered path, however it came there.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

__all__ = ["dot_segment", "urlsegment"]

#: a path segment URL parsers resolve (RFC 3986 section 5.2.4; WHATWG's encoded forms too)
_DOTS = frozenset({".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"})
_SEPARATOR = re.compile(r"[/\\]")


def urlsegment(value: Any) -> str:
    """``value`` as one URL path segment: every character but ``A-Z a-z 0-9 - . _ ~``
    percent-encoded (UTF-8), ``.`` and ``..`` as ``%2E`` and ``%2E%2E``."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def dot_segment(url: str) -> str | None:
    """The first dot-segment (``..``, ``.``, ``%2e%2e``...) of ``url``'s path, as written;
    ``None`` when the path has none. A ``\\`` separates segments too, as it does for
    WHATWG's parser in an ``http(s)`` URL. The path is cut out by hand, not by
    ``urlsplit``, which refuses some authorities (a ``]`` in the user info, a full-width
    solidus) that HTTP clients still send, path normalised."""
    rest = url.split("#", 1)[0].split("?", 1)[0]
    _scheme, authority, tail = rest.partition("://")
    if authority:  # the path starts at the first separator after the authority
        found = _SEPARATOR.search(tail)
        rest = tail[found.start() :] if found is not None else ""
    for segment in _SEPARATOR.split(rest):
        if segment.lower() in _DOTS:
            return segment
    return None

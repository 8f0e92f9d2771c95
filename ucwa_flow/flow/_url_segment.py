"""URL path segments: the ``urlsegment`` filter, and the dot-segments a webhook refuses.

Jinja's ``urlencode`` quotes a text for a query: it leaves ``/`` (and ``.``) alone, so
``https://crm.example/people/{{ name | urlencode }}/card`` with the name
``../../admin`` is ``https://crm.example/people/../../admin/card``, which HTTP clients
(httpx included) normalise to ``https://crm.example/admin/card``: the caller picks the
resource the request, with the flow's headers, goes to.

``urlsegment`` percent-encodes everything but letters, digits and ``-._~``, ``/``, ``\\``,
``?``, ``#``, ``%`` and ``@`` included, so its value stays one segment for the client; a
value that is ``.`` or ``..`` becomes ``%2E`` or ``%2E%2E``, which URL parsers still read
as a dot-segment (WHATWG). Servers read further than clients: some decode ``%2F`` (and
``%5C``) before routing, so ``..%2Fadmin`` is ``../admin`` to them; some decode twice
(``%252e%252e``); Tomcat and other Java servers cut ``;params`` off a segment, so ``..;x``
is ``..``. :func:`dot_segment` (run on every webhook request before it is sent) refuses a
segment any of these readings makes a dot-segment, however it came there, and so a
``urlsegment`` value whose text has a ``.`` or ``..`` between slashes (``../admin``,
``a/./b``). Dots inside a name are fine: ``v1.2``, ``..foo``, ``a..b``, ``...`` (a
name to RFC 3986, WHATWG and Windows alike).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

__all__ = ["dot_segment", "urlsegment"]

_SEPARATOR = re.compile(r"[/\\]")
#: how many times a segment is percent-decoded (``%25`` for ``%`` each time) at most; one
#: still encoded after that is refused: no real name is encoded so many times over
_DECODINGS = 4


def urlsegment(value: Any) -> str:
    """``value`` as one URL path segment: every character but ``A-Z a-z 0-9 - . _ ~``
    percent-encoded (UTF-8), ``.`` and ``..`` as ``%2E`` and ``%2E%2E``."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def dot_segment(url: str) -> str | None:
    """The first segment of ``url``'s path a client or a server may read as ``..`` or
    ``.``, as written; ``None`` when the path has none. A segment is refused when one of
    its readings has a ``.`` or ``..`` piece between ``/`` and ``\\`` separators, a
    piece's ``;params`` cut: the segment as written, and each percent-decoding of it in
    turn (``%2e%2e``, ``..%2F``, ``%252e%252e``, ``..;x``); one still encoded after
    :data:`_DECODINGS` decodings is refused too. A ``\\`` separates segments in the
    URL itself, as it does for WHATWG's parser in an ``http(s)`` URL. The path is cut out
    by hand, not by ``urlsplit``, which refuses some authorities (a ``]`` in the user
    info, a full-width solidus) that HTTP clients still send, path normalised."""
    rest = url.split("#", 1)[0].split("?", 1)[0]
    _scheme, authority, tail = rest.partition("://")
    if authority:  # the path starts at the first separator after the authority
        found = _SEPARATOR.search(tail)
        rest = tail[found.start() :] if found is not None else ""
    for segment in _SEPARATOR.split(rest):
        if _reads_as_dots(segment):
            return segment
    return None


def _reads_as_dots(segment: str) -> bool:
    """Whether a reading of ``segment`` (see :func:`dot_segment`) is a dot-segment."""
    text = segment
    for _ in range(_DECODINGS + 1):
        if any(_is_dots(piece) for piece in _SEPARATOR.split(text)):
            return True
        if "%" not in text:
            return False
        decoded = unquote(text, errors="surrogateescape")
        if decoded == text:
            return False
        text = decoded
    return True


def _is_dots(piece: str) -> bool:
    return piece.split(";", 1)[0] in (".", "..")

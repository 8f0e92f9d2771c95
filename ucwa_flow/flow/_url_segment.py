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
is ``..``; IIS reads ``%u002e`` and, as old decoders did, the overlong UTF-8 ``%c0%ae``
as ``.``; a server normalising Unicode reads ``．．`` (U+FF0E) or ``‥`` (U+2025) as
``..`` and ``／`` (U+FF0F) as ``/``; C code stops at a NUL (``..%00``); Windows and IIS
strip a name's trailing blanks (``..%20``). :func:`dot_segment` (run on every webhook
request before it is sent) refuses a
segment any of these readings makes a dot-segment, however it came there, and so a
``urlsegment`` value whose text has a ``.`` or ``..`` between slashes (``../admin``,
``a/./b``). Dots inside a name are fine: ``v1.2``, ``..foo``, ``a..b``, ``...`` (a
name to RFC 3986, WHATWG and Windows alike).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote, unquote

__all__ = ["dot_segment", "urlsegment"]

_SEPARATOR = re.compile(r"[/\\]")
#: how many times a segment is percent-decoded (``%25`` for ``%`` each time) at most; one
#: still encoded after that is refused: no real name is encoded so many times over
_DECODINGS = 4
#: IIS's ``%uXXXX`` escape of a UTF-16 code unit
_IIS_ESCAPE = re.compile(r"%[uU]([0-9A-Fa-f]{4})")
#: an overlong UTF-8 sequence (two, three or four bytes, undecodable: surrogate escapes)
#: that may spell an ASCII character, ``%c0%ae`` for ``.``: old decoders read them so
_OVERLONG = re.compile(
    "[\udcc0\udcc1][\udc80-\udcbf]|\udce0[\udc80-\udc9f][\udc80-\udcbf]"
    "|\udcf0[\udc80-\udc8f][\udc80-\udcbf][\udc80-\udcbf]"
)
#: the ideographic full stops, which NFKC leaves alone
_FULL_STOPS = {0x3002: ".", 0xFF61: "."}
#: stripped from the end of a piece (see :func:`_is_dots`)
_BLANKS = " \t\r\n\x0b\x0c"


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
    turn (``%2e%2e``, ``..%2F``, ``%252e%252e``, ``..;x``, ``%u002e``, ``%c0%ae``), each
    reading with its look-alikes of ``.`` and ``/`` read as them (NFKC, ``。``), cut at a
    NUL, trailing blanks stripped (see :func:`_is_dots`); one still encoded after
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
        text = _look_alikes(text)  # decoded further as read: ``％２ｅ`` is ``%2e``
        if any(_is_dots(piece) for piece in _SEPARATOR.split(text)):
            return True
        if "%" not in text:
            return False
        decoded = _decode(text)
        if decoded == text:
            return False
        text = decoded
    return True


def _decode(text: str) -> str:
    """One percent-decoding of ``text``: ``%XX``, IIS's ``%uXXXX``, and the overlong
    UTF-8 of an ASCII character (``%c0%ae``) read as that character."""
    text = _IIS_ESCAPE.sub(lambda found: chr(int(found.group(1), 16)), text)
    decoded = unquote(text, errors="surrogateescape")
    return _OVERLONG.sub(_overlong, decoded)


def _overlong(found: re.Match[str]) -> str:
    """The ASCII character an overlong UTF-8 sequence (undecodable bytes, as surrogate
    escapes) spells; the sequence itself when it spells something else."""
    data = [ord(c) - 0xDC00 for c in found.group()]
    if len(data) == 2:
        code = (data[0] & 0x1F) << 6 | data[1] & 0x3F
    elif len(data) == 3:
        code = (data[0] & 0x0F) << 12 | (data[1] & 0x3F) << 6 | data[2] & 0x3F
    else:
        code = (data[0] & 0x07) << 18 | (data[1] & 0x3F) << 12 | (data[2] & 0x3F) << 6
        code |= data[3] & 0x3F
    return chr(code) if code < 0x80 else found.group()


def _look_alikes(text: str) -> str:
    """``text`` with the characters that look like ``.`` and ``/`` (and that a server
    normalising Unicode, NFKC, reads as them) as those: ``．`` (U+FF0E), ``․`` (U+2024),
    ``‥`` (U+2025, two dots), ``／`` (U+FF0F), ``＼``; and ``。`` (U+3002) and ``｡``,
    which IDNA reads as a dot."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_FULL_STOPS)


def _is_dots(piece: str) -> bool:
    """Whether a piece of a reading is ``.`` or ``..`` once cut at a NUL (C code reads no
    further) and at ``;params``, trailing spaces and tabs stripped (Windows strips them
    from a name, IIS among others: ``.. `` is ``..``). Trailing dots are not stripped,
    though Windows strips them from names too: its own path rules read three dots or more
    as a name, not as ``..`` (Microsoft's "File path formats on Windows systems"), and
    ``...`` or ``a..`` is a name to RFC 3986 and WHATWG; stripping them would refuse
    those."""
    return piece.split("\x00", 1)[0].split(";", 1)[0].rstrip(_BLANKS) in (".", "..")

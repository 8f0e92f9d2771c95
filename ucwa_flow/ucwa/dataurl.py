"""Data URLs: how UCWA carries message text inside links.

UCWA puts IM text into link hrefs as RFC 2397 data URLs, for example
``"plainMessage": {"href": "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a"}``. Servers write
them the way .NET's ``HttpUtility.UrlEncode`` does: form encoding (``+`` for a space) with
lower-case hex escapes. Clients may also send the ``;base64`` form. This module turns both
forms into text and back, with no I/O:

* :func:`decode_data_url` -> :class:`DataContent` (``mime``, ``charset``, ``text``);
* :func:`encode_data_url` builds the form UCWA servers use (or base64);
* :func:`html_to_text` turns an ``htmlMessage`` into plain text with :mod:`html.parser`;
* :func:`strip_line_ending` tidies what a Lync client typed (``"Hi\\r\\n"`` -> ``"Hi"``).

The decoded ``text`` is exactly what was sent, ``\\r\\n`` included: trimming is a separate,
explicit step, so nothing is lost by decoding.
"""

from __future__ import annotations

import base64 as _b64
import binascii
import html as _entities
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote_to_bytes

__all__ = [
    "DataContent",
    "InvalidDataUrl",
    "decode_data_url",
    "encode_data_url",
    "html_to_text",
    "salvage_data_url",
    "strip_line_ending",
]

_HEX = frozenset("0123456789abcdefABCDEF")
# HttpUtility.UrlEncode keeps these bytes as they are, turns space into "+" and the rest into %xx.
_UNRESERVED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!*()")
_FORM_BYTE = tuple(
    chr(b) if b in _UNRESERVED else "+" if b == 0x20 else f"%{b:02x}" for b in range(256)
)


class InvalidDataUrl(ValueError):
    """A string that is not a decodable data URL (bad scheme, escape, base64 or charset)."""


@dataclass(frozen=True, slots=True)
class DataContent:
    """The decoded content of a data URL.

    ``mime`` is the lower-cased media type (``"text/plain"`` when the URL names none),
    ``charset`` the lower-cased charset the URL declares (``None`` when it declares none;
    the text is then read as UTF-8), and ``text`` the decoded text, unmodified: a message
    typed in Lync usually ends with ``"\\r\\n"``. Use :func:`strip_line_ending` (or
    ``MessageEvent.text``) for the tidy form.
    """

    mime: str
    charset: str | None
    text: str
    #: True when the URL was damaged and :func:`salvage_data_url` recovered what it could
    lossy: bool = False


def decode_data_url(href: str) -> DataContent:
    """Decode a ``data:`` URL into :class:`DataContent`.

    Accepts the form encoding UCWA servers write (``+`` is a space, ``%0d`` and ``%0D``
    alike) and the ``;base64`` form. The declared charset is honoured; without one the
    text is read as UTF-8. Raises :class:`InvalidDataUrl` (a :class:`ValueError`) for
    anything else: another scheme, no comma, a broken ``%`` escape, bad base64, an unknown
    charset or bytes that are not text in that charset.
    """
    if not isinstance(href, str) or href[:5].lower() != "data:":
        raise InvalidDataUrl(f"not a data URL: {_preview(href)}")
    header, comma, payload = href[5:].partition(",")
    if not comma:
        raise InvalidDataUrl(f"data URL has no ',' before its content: {_preview(href)}")
    params = header.split(";")
    mime = params[0].strip().lower() or "text/plain"
    if "/" not in mime:
        raise InvalidDataUrl(f"data URL has an invalid media type {mime!r}")
    is_base64 = False
    charset: str | None = None
    for param in params[1:]:
        name, _, value = param.partition("=")
        name = name.strip().lower()
        if name == "base64" and not value:
            is_base64 = True
        elif name == "charset":
            charset = value.strip().strip('"').lower() or None
    raw = _base64_bytes(payload) if is_base64 else _form_bytes(payload)
    try:
        text = raw.decode(charset or "utf-8")
    except LookupError:
        raise InvalidDataUrl(f"data URL names an unknown charset {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise InvalidDataUrl(
            f"data URL content is not valid {charset or 'utf-8'} text: {exc.reason}"
        ) from None
    return DataContent(mime=mime, charset=charset, text=text)


def salvage_data_url(href: str) -> DataContent:
    """Decode a data URL as well as it can be: never raises for a damaged one.

    For message text from the network: a sender's client may write a bad escape, a charset
    no one knows or bytes that are not text. Where :func:`decode_data_url` refuses, this
    keeps what is readable (undecodable bytes become U+FFFD, an unknown charset is read as
    UTF-8, missing base64 padding is added) and marks the result ``lossy``.
    """
    try:
        return decode_data_url(href)
    except InvalidDataUrl:
        pass
    header, _, payload = href[5:].partition(",")
    params = [p.strip().lower() for p in header.split(";")]
    mime = params[0] if "/" in params[0] else "text/plain"
    charset = next((p[8:].strip('"') for p in params[1:] if p.startswith("charset=")), None)
    if "base64" in params[1:]:
        compact = unquote_to_bytes(payload).translate(None, b" \t\r\n")
        try:
            raw = _b64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
        except (binascii.Error, ValueError):
            raw = compact
    else:
        raw = unquote_to_bytes(payload.replace("+", " "))  # a broken % escape stays as is
    try:
        text = raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        text = raw.decode("utf-8", errors="replace")
    return DataContent(mime=mime, charset=charset, text=text, lossy=True)


def encode_data_url(text: str, mime: str = "text/plain", *, base64: bool = False) -> str:
    """Encode ``text`` (UTF-8) as a data URL.

    By default this writes the form UCWA servers use, so a simulated server is
    indistinguishable from a real one: ``encode_data_url("Hi Tosh\\r\\n")`` is
    ``"data:text/plain;charset=utf-8,Hi+Tosh%0d%0a"``. With ``base64=True`` it writes
    ``data:<mime>;charset=utf-8;base64,<base64>``, as some clients do in POST bodies.
    """
    data = text.encode("utf-8")
    if base64:
        return f"data:{mime};charset=utf-8;base64,{_b64.b64encode(data).decode('ascii')}"
    return f"data:{mime};charset=utf-8," + "".join([_FORM_BYTE[b] for b in data])


def strip_line_ending(text: str) -> str:
    """Return ``text`` with ``\\r\\n`` (and lone ``\\r``) as ``\\n`` and no trailing line breaks.

    Inner line breaks are kept: ``"one\\r\\ntwo\\r\\n"`` becomes ``"one\\ntwo"``.
    """
    if "\r" in text:
        # the trailing breaks first (most messages end with "\r\n" and have no other)
        text = text.rstrip("\r\n")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text
    return text.rstrip("\n")


def html_to_text(html: str) -> str:
    """Render an HTML fragment (an ``htmlMessage``) as plain text.

    Uses :class:`html.parser.HTMLParser`, so entities are decoded (``&amp;`` -> ``&``,
    ``&nbsp;`` -> a space) and malformed markup degrades gracefully. Block elements and
    ``<br>`` become line breaks, runs of white space collapse as a browser would (except in
    ``<pre>``), and ``<script>``/``<style>`` content is dropped. The result has no leading or
    trailing blank lines.

    :class:`~html.parser.HTMLParser` takes time quadratic in the number of ``<`` that
    open no tag or an unclosed comment or marked section (CPython's gh-135462: a caller's
    100 KB of ``"<a"`` held the event loop, every conversation with it, for 15 s; 120 KB of
    ``"<!--x>"`` for 16 s), each such ``<`` searching the rest of the text. So a message whose
    number of ``<`` times its length is above :data:`PARSER_BUDGET` (a thousand tags in 5 KB;
    an IM has tens of tags in a few hundred bytes) is read by a plain tag stripper in
    linear time instead: tags dropped, line-breaking ones as line breaks, entities decoded,
    white space collapsed. A marked section the parser refuses (``<![x>``, on which Python
    3.11's raises :class:`AssertionError`: it stopped the bot) is text.
    """
    if html.count("<") * len(html) > PARSER_BUDGET:
        return _stripped(html)
    try:
        return _extract(html)
    except AssertionError:  # _markupbase.parse_marked_section: its only "<![" is text now
        return _extract(html.replace("<![", "&lt;!["))


#: above this product of the number of ``<`` and the length, :func:`html_to_text` strips
#: tags instead of parsing (see there)
PARSER_BUDGET = 5_000_000
_TAG = re.compile(r"(<[^<>]*>)")  # stops at the next "<": one pass over the text
_TAG_NAME = re.compile(r"<\s*(?:(/)\s*)?([A-Za-z][\w:-]*)")  # no two \s* side by side: linear


def _extract(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.result()


def _stripped(html: str) -> str:
    """The text of ``html`` without the parser, in linear time (:func:`html_to_text`):
    each ``<...>`` with no ``<`` inside is a tag, told to the same extractor by name (a
    comment or a declaration is dropped), the text between has its entities decoded."""
    extractor = _TextExtractor()
    for index, part in enumerate(_TAG.split(html)):
        if not index % 2:  # text
            if part:
                extractor.handle_data(_entities.unescape(part))
            continue
        named = _TAG_NAME.match(part)
        if named is None:
            continue
        name = named[2].lower()
        if named[1]:
            extractor.handle_endtag(name)
        elif part.endswith("/>"):
            extractor.handle_startendtag(name, [])
        else:
            extractor.handle_starttag(name, [])
    return extractor.result()


def _form_bytes(payload: str) -> bytes:
    if "%" in payload:
        for chunk in payload.split("%")[1:]:
            if len(chunk) < 2 or chunk[0] not in _HEX or chunk[1] not in _HEX:
                raise InvalidDataUrl(f"data URL has a broken %-escape near %{chunk[:2]!s}")
    return unquote_to_bytes(payload.replace("+", " "))


def _base64_bytes(payload: str) -> bytes:
    # Percent escapes are legal in the base64 form too (e.g. %2B for "+").
    compact = unquote_to_bytes(payload).translate(None, b" \t\r\n")
    try:
        return _b64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        raise InvalidDataUrl(f"data URL has invalid base64 content: {exc}") from None


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_BLOCK_TAGS = frozenset(
    (  # noqa: SIM905 (a word list reads better than 36 quoted strings)
        "address article aside blockquote dd div dl dt fieldset figcaption figure footer form "
        "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td tfoot th thead "
        "tr ul"
    ).split()
)
_DROPPED_TAGS = frozenset({"script", "style", "head", "title", "template"})


class _TextExtractor(HTMLParser):
    """Collects text, turning block boundaries into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._dropped = 0  # depth inside script/style
        self._pre = 0  # depth inside pre
        self._at_line_start = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_TAGS:
            self._dropped += 1
        elif tag == "br":
            self._newline(force=True)
        elif tag in _BLOCK_TAGS:
            self._newline(force=False)
            if tag == "pre":
                self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline(force=True)
        elif tag in _BLOCK_TAGS:
            self._newline(force=False)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_TAGS:
            self._dropped = max(0, self._dropped - 1)
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self._newline(force=False)

    def handle_data(self, data: str) -> None:
        if self._dropped:
            return
        data = data.replace("\xa0", " ")
        if not self._pre:
            data = self._collapse(data)
            if not data:
                return
        self._parts.append(data)
        self._at_line_start = data.endswith("\n")

    def result(self) -> str:
        lines = "".join(self._parts).split("\n")
        return "\n".join(line.rstrip(" ") for line in lines).strip("\n")

    def _collapse(self, data: str) -> str:
        collapsed = " ".join(data.split())
        if not collapsed:
            collapsed = " "
        else:
            if data[0].isspace():
                collapsed = " " + collapsed
            if data[-1].isspace():
                collapsed += " "
        if collapsed[0] == " " and (self._at_line_start or self._ends_with_space()):
            collapsed = collapsed[1:]
        return collapsed

    def _ends_with_space(self) -> bool:
        return bool(self._parts) and self._parts[-1].endswith(" ")

    def _newline(self, *, force: bool) -> None:
        if force or not self._at_line_start:
            self._parts.append("\n")
            self._at_line_start = True

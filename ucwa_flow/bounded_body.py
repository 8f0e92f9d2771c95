"""Response bodies from outside the bot, their size bounded: :class:`Inflater`, :func:`cap`.

httpx reads a body whole (``Response.aread``) and inflates a compressed one a received
chunk at a time, each chunk in one ``zlib`` call with no bound on what comes out: a server
that sends an endless body makes the bot hold all of it, and a few hundred kilobytes of
``gzip`` inflate to gigabytes (a 64 KiB chunk to 64 MiB at once). A UCWA front end, an
Autodiscover server a redirect named, or a webhook is such a server when it is broken or
hostile.

:class:`Inflater` inflates ``gzip`` and ``deflate`` as httpx does, never past a given size
(``zlib``'s ``max_length``). :func:`cap` bounds the body of an ``httpx.Response`` whose
body is not read yet (a client's response hook): its ``Content-Length``, the bytes that
arrive, and the bytes they inflate to; past the bound the read fails with
:class:`BodyTooLarge`, an ``httpx.TransportError`` (so whoever sent the request takes it
for what it takes a broken connection for), and the connection is not used again.
:data:`MAX_UCWA_BODY` is the bound for UCWA answers (docs/production.md, "A server answers
with too large a body").
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator

import httpx

__all__ = [
    "CUT_SHORT",
    "ENCODINGS",
    "MAX_UCWA_BODY",
    "BodyTooLarge",
    "BodyUnreadable",
    "Inflater",
    "cap",
    "too_large",
]

#: the largest UCWA answer body the bot reads (bytes, after inflating). Most answers are
#: kilobytes, but an event-channel answer grows with what happened since the last one: a
#: burst of 2,000 invitations came as one answer of 9.0 MB from the simulator (about 4.5 KB
#: an invitation, its resource embedded). An answer over the bound is asked for again, and
#: the server gives the same batch again: the bound must be far above any real answer.
MAX_UCWA_BODY = 64 * 1024 * 1024
#: the ``Content-Encoding`` values read (what the bot's ``Accept-Encoding`` asks for)
ENCODINGS = frozenset({b"gzip", b"x-gzip", b"deflate"})
_IDENTITY = frozenset({b"", b"identity"})
_PIECE = 256 * 1024  # the most inflated at once
#: what :meth:`Inflater.end` says of a body that ends inside its compressed stream
CUT_SHORT = (
    "the answer's body ends inside its compressed stream (cut short by the server or a proxy)"
)


class BodyTooLarge(httpx.RemoteProtocolError):
    """A response's body is larger than the reader's bound (or encoded in a way it does
    not read); the connection it came on is closed."""


class BodyUnreadable(httpx.RemoteProtocolError):
    """A response's compressed body is not valid gzip or deflate (the connection it came on
    is closed), or ends inside its compressed stream: cut short, though its HTTP framing
    (``Content-Length``, the last chunk) says the body is whole."""


def too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"the answer's body is larger than {_size(limit)} (the most read of one)")


def _size(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 and mib == int(mib) else f"{limit:,} bytes"


class Inflater:
    """Inflates one body coded as ``encoding`` (gzip, x-gzip, deflate: as httpx's
    decoders, a zlib-wrapped or raw deflate stream both read) into pieces of at most
    256 KiB, at most ``limit`` + 1 bytes in all, so that a caller counting them sees when
    the body is over ``limit`` before more is made. What follows the end of the stream is
    dropped unread (httpx ignores it too). What is not valid is a :class:`BodyUnreadable`,
    an ``httpx.TransportError``: the request failed as over a broken connection; so is a
    body that ends inside its stream (:meth:`end`), which httpx takes for whole."""

    def __init__(self, encoding: bytes, limit: int) -> None:
        gzip = encoding != b"deflate"
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
        self._first = not gzip  # deflate: a raw stream is told by its first bytes
        self._left = limit + 1
        self._begun = False  # some bytes of the body were given

    def pieces(self, data: bytes) -> Iterator[bytes]:
        """What ``data``, the next bytes of the body, inflates to."""
        if self._z.eof:  # (zlib would copy all it has been given since, again and again)
            return
        more = bool(data)
        self._begun = self._begun or more
        while more and self._left > 0:
            ask = min(self._left, _PIECE)
            out = self._inflate(data, ask)
            data = self._z.unconsumed_tail
            more = bool(data) or len(out) == ask  # stopped at ``ask``: more may be pending
            self._left -= len(out)
            if out:
                yield out

    def end(self) -> None:
        """The body ended (its HTTP framing says so): a :class:`BodyUnreadable` when that
        is inside the compressed stream. A body of no bytes at all is fine: some servers
        label an empty answer (a 204) ``gzip``."""
        if self._begun and not self._z.eof:
            raise BodyUnreadable(CUT_SHORT)

    def _inflate(self, data: bytes, ask: int) -> bytes:
        try:
            try:
                out = self._z.decompress(data, ask)
            except zlib.error:
                if not self._first:
                    raise
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate without its wrapper
                out = self._z.decompress(data, ask)
        except zlib.error as exc:
            raise BodyUnreadable(f"the answer's body does not inflate: {exc}") from None
        self._first = False
        return out


def cap(response: httpx.Response, limit: int = MAX_UCWA_BODY) -> None:
    """Bound the body of ``response``, not read yet, to ``limit`` bytes (after inflating;
    the bytes that arrive count too): a response hook. A ``Content-Length`` over ``limit``
    fails at once; a body coded as something else than gzip or deflate (which the bot
    does not ask for) is refused. A compressed body is inflated here, so the
    ``Content-Encoding`` and ``Content-Length`` headers are dropped."""
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    encoding = response.headers.get("content-encoding", "").strip().lower().encode()
    if encoding not in _IDENTITY:
        if encoding not in ENCODINGS:
            raise refused_encoding(encoding)
        del response.headers["content-encoding"]
        response.headers.pop("content-length", None)
    response.stream = Capped(response.stream, limit, encoding)  # type: ignore[arg-type]


def refused_encoding(encoding: bytes) -> BodyTooLarge:
    return BodyTooLarge(
        f"the answer's body is coded as {encoding.decode('latin-1')!r}, which was not asked for"
    )


class Capped(httpx.AsyncByteStream):
    """``stream`` inflated as ``encoding`` says (none: as it is), failing with
    :class:`BodyTooLarge` past ``limit`` bytes, arrived or inflated."""

    def __init__(self, stream: httpx.AsyncByteStream, limit: int, encoding: bytes) -> None:
        self._stream = stream
        self._limit = limit
        self._encoding = encoding

    async def __aiter__(self) -> AsyncIterator[bytes]:
        limit = self._limit
        inflater = None if self._encoding in _IDENTITY else Inflater(self._encoding, limit)
        arrived = size = 0
        async for chunk in self._stream:
            arrived += len(chunk)
            if arrived > limit:
                raise too_large(limit)
            for piece in (chunk,) if inflater is None else inflater.pieces(chunk):
                size += len(piece)
                if size > limit:
                    raise too_large(limit)
                yield piece
        if inflater is not None:
            inflater.end()

    async def aclose(self) -> None:
        await self._stream.aclose()

"""Small HTTP helpers shared by the simulator's request handlers.

Responses carry the headers of a real front end (``X-MS-Server-Fqdn``,
``X-MS-UcwaVersion``, ``Cache-Control: no-cache``); JSON bodies are
``application/json; charset=utf-8`` and, like IIS, gzip-compressed whatever their size
when the request's ``Accept-Encoding`` allows it (:func:`compress`); request bodies are
read with the checks UCWA does (415 for a wrong content type, 400 DeserializationFailure
for bad JSON) and their property names are matched in any case.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from ucwa_flow import bounded_json
from ucwa_flow.simulator.errors import UcwaErrorResponse, bad_request

if TYPE_CHECKING:
    from ucwa_flow.simulator.config import SimulatorUser
    from ucwa_flow.simulator.core import Simulator
    from ucwa_flow.simulator.state import Application

__all__ = [
    "JSON_TYPE",
    "Ctx",
    "accepts_gzip",
    "compress",
    "decode_data_url",
    "empty",
    "json_response",
    "read_json",
    "read_text",
]

JSON_TYPE = "application/json; charset=utf-8"
_JSON_TYPES = ("application/json", "application/vnd.microsoft.com.ucwa+json")


@dataclass
class Ctx:
    """What a handler gets: the request, the simulator, path parameters, who, which app."""

    request: Request
    sim: Simulator
    params: dict[str, str]
    user: SimulatorUser | None = None
    application: Application | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> Application:
        assert self.application is not None
        return self.application

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` as the client addressed us."""
        host = self.request.headers.get("host") or self.request.url.netloc
        return f"{self.request.url.scheme}://{host}"

    @property
    def host(self) -> str:
        return (self.request.url.hostname or "").lower()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, media_type=JSON_TYPE, headers=headers)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip`` or ``*`` with q > 0)."""
    allowed: dict[str, bool] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name.strip():
            allowed[name.strip().lower()] = quality > 0
    return allowed.get("gzip", allowed.get("x-gzip", allowed.get("*", False)))


def compress(response: Response, accept_encoding: str) -> None:
    """Gzip ``response``'s body in place when the client allows it, as IIS does.

    Every body is compressed, however small: clients written against real servers may
    gunzip every answer without looking at ``Content-Encoding``. Empty bodies (204, a 201
    with only a ``Location``) stay empty, as a 204 must, and responses that already have a
    ``Content-Encoding`` are left alone. ``Vary: Accept-Encoding`` is added to every
    non-empty body, compressed or not.
    """
    body = bytes(response.body)
    if not body or "content-encoding" in response.headers:
        return
    response.headers.append("Vary", "Accept-Encoding")
    if not accepts_gzip(accept_encoding):
        return
    # a 4 KiB window: most of the cost of a full-size deflate state is allocating it
    deflate = zlib.compressobj(6, zlib.DEFLATED, 16 + 12, 5)
    packed = deflate.compress(body) + deflate.flush()
    response.body = packed
    response.headers["Content-Length"] = str(len(packed))
    response.headers["Content-Encoding"] = "gzip"


def empty(status: int = 204, location: str | None = None) -> Response:
    headers = {"Location": location} if location else None
    if status == 204:
        return Response(status_code=204, headers=headers)
    return Response(b"", status_code=status, headers=headers)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object body with lower-cased keys at every depth ({} when empty).

    IIS/UCWA matches property names in any case (``SupportedModalities`` and
    ``supportedModalities``; ``_links.Message.Href``); handlers look them up lower-cased.
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    media = _media_type(request)
    if media not in _JSON_TYPES:
        raise UcwaErrorResponse(
            415,
            "UnsupportedMediaType",
            "UnsupportedMediaType",
            f"The content type {media or '(none)'!r} is not supported here; use application/json.",
        )
    try:
        data = bounded_json.loads(raw.decode("utf-8"))
    except bounded_json.TooDeep:  # json.loads' RecursionError was a 500
        raise UcwaErrorResponse(
            400, "BadRequest", "DeserializationFailure", "The request body is nested too deeply."
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise UcwaErrorResponse(
            400, "BadRequest", "DeserializationFailure", "The request body is not valid JSON."
        ) from None
    if not isinstance(data, dict):
        raise UcwaErrorResponse(
            400, "BadRequest", "DeserializationFailure", "The request body must be a JSON object."
        )
    return _lower_keys(data)


def _lower_keys(data: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): _lower_keys(v) if isinstance(v, dict) else v for k, v in data.items()}


async def read_text(request: Request) -> tuple[str, str]:
    """A text message body: ``(text, "text/plain" | "text/html")``; 415 otherwise."""
    media = _media_type(request)
    if media not in ("text/plain", "text/html"):
        raise UcwaErrorResponse(
            415,
            "UnsupportedMediaType",
            "UnsupportedMediaType",
            "Send the message as text/plain or text/html.",
        )
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(["message"], "The message is not valid UTF-8.") from None
    if not text:
        raise bad_request(["message"], "The message is empty.")
    return text, media


def decode_data_url(href: str) -> tuple[str, str]:
    """``data:`` URL -> ``(text, media type)``; URL-encoded (form style) or base64."""
    if not href.startswith("data:") or "," not in href:
        raise bad_request(["message"], "The message must be a data URL.")
    header, payload = href[5:].split(",", 1)
    parts = [p.strip() for p in header.split(";")]
    media = (parts[0] or "text/plain").lower()
    if media not in ("text/plain", "text/html"):
        raise bad_request(["message"], "The message must be text/plain or text/html.")
    try:
        if "base64" in (p.lower() for p in parts[1:]):
            return base64.b64decode(payload, validate=True).decode("utf-8"), media
        return unquote_plus(payload, errors="strict"), media
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request(["message"], "The message data URL cannot be decoded.") from None

"""Wire helpers shared by discovery, the client and the event channel (private).

Hypermedia in UCWA means: read ``_links.<rel>.href``, resolve it against the URL of the
resource that carried it, keep whatever query string the server put there. Nothing here
builds a URL from pieces; :func:`with_query` only adds parameters through a URL parser.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from ucwa_flow import bounded_json
from ucwa_flow.ucwa.errors import ApplicationGone, UcwaHttpError, UnexpectedResponse

__all__ = [
    "ACCEPT_JSON",
    "NETWORK_ERRORS",
    "InFlight",
    "embedded",
    "error_for",
    "host_name",
    "host_of",
    "json_of",
    "link",
    "location_of",
    "resolve",
    "same_origin",
    "with_query",
]

ACCEPT_JSON = {"Accept": "application/json"}

# Failures where no (complete) response arrived: the request may be repeated as is.
NETWORK_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError,)

_APPLICATION_GONE = {(404, "ApplicationNotFound"), (410, "InactiveApplicationExpired")}


class InFlight:
    """How many requests are out and not yet answered in full; ``with`` counts one."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> None:
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        self.count -= 1


# a server-relative href that urljoin would append to the base's origin as it is: one
# slash, printable ASCII without a query, fragment, parameters or a "." / ".." segment
_PLAIN_PATH = re.compile(r"/[\x21\x22\x24-\x3a\x3c-\x3e\x40-\x7e]*")


@functools.lru_cache(maxsize=4096)
def resolve(base: str, href: str) -> str:
    """Return ``href`` as an absolute URL, resolved against the resource that carried it.

    Remembered: a bot resolves the same hrefs of a conversation against the same base for
    every message, and ``urljoin`` parses both each time. A plain server-relative href
    (``/ucwa/...``, what UCWA's events carry) is put after the base's origin without
    parsing it: the result is ``urljoin``'s."""
    if _PLAIN_PATH.fullmatch(href) and href[1:2] != "/" and "/." not in href:
        origin = _origin(base)
        if origin is not None:
            return origin + href
    return urljoin(base, href)


@functools.lru_cache(maxsize=64)
def _origin(base: str) -> str | None:
    """``scheme://netloc`` of an http(s) URL as ``urljoin`` writes it, else ``None``."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def same_origin(url: str, base: str) -> bool:
    """Whether the absolute ``url`` has the origin of ``base`` (:func:`host_of`: default
    ports, case); a URL that cannot be parsed has none."""
    origin = _origin(base)
    if origin is not None and url.startswith(origin + "/"):
        return True  # what resolve() makes of a server-relative href: no parsing
    try:
        return host_of(url) == host_of(base)
    except (httpx.InvalidURL, ValueError):
        return False


_READ = httpx.ByteStream(b"")  # the stream of a response whose body has been read


def unbound(response: httpx.Response) -> httpx.Response:
    """``response``, its body read, no longer tied to the stream it was read from.

    httpx wraps a response's stream in one that points back at the response (to set
    ``elapsed`` when it closes), so every response, with its request, headers and URL, is
    a reference cycle that only the cyclic garbage collector frees: about 25 objects per
    request, and under a burst of requests full collections (40-90 ms each) often enough
    to be the p99 of the replies (docs/performance.md, "Overload"). A read stream has
    nothing left to give; once it is replaced, reference counting frees the rest."""
    for each in (response, *response.history):
        if each.is_closed:
            each.stream = _READ
    return response


def host_name(url: httpx.URL) -> str:
    """The host of ``url`` as it goes on the wire: ASCII, a non-ASCII name in IDNA.

    Not ``url.host``: that decodes an ``xn--`` label back to Unicode and raises (an
    ``idna`` error) for one that is no valid IDNA (``xn--ab.contoso.com``), a name any
    server may put in a redirect or a sign-in challenge. Such a name is still a name to
    refuse in one line (:func:`~ucwa_flow._host_names.canonical_host` has no canonical
    form for it, so no trust rests on it), never a traceback."""
    return url.raw_host.decode("ascii", "replace")


def host_of(url: str | httpx.URL) -> str:
    """``scheme://host[:port]`` of a URL: the unit a WebTicket token is valid for."""
    parts = url if isinstance(url, httpx.URL) else httpx.URL(url)  # parsing is not cheap
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port not in (None, default) else ""
    return f"{parts.scheme}://{host_name(parts)}{port}"


def with_query(url: str, **params: str) -> str:
    """Add (or replace) query parameters, keeping the server's own ones and their order."""
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    pairs.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def link(resource: Mapping[str, Any], rel: str) -> str | None:
    """The href of ``_links.<rel>`` (the first one when the rel repeats), or ``None``."""
    links = resource.get("_links")
    if not isinstance(links, Mapping):
        return None
    entry = links.get(rel)
    if isinstance(entry, list):
        entry = entry[0] if entry else None
    if isinstance(entry, Mapping):
        href = entry.get("href")
        if isinstance(href, str) and href:
            return href
    return None


def embedded(resource: Mapping[str, Any], rel: str) -> Mapping[str, Any]:
    """``_embedded.<rel>`` as a mapping; an empty one when absent."""
    block = resource.get("_embedded")
    if isinstance(block, Mapping):
        inner = block.get(rel)
        if isinstance(inner, Mapping):
            return inner
    return {}


def json_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON object in a success response, or :class:`UnexpectedResponse`."""
    try:
        body = bounded_json.loads(response.content)
    except bounded_json.TooDeep:
        raise UnexpectedResponse(
            f"{response.request.method} {response.request.url} answered {response.status_code} "
            f"with JSON nested too deeply (more than {bounded_json.MAX_DEPTH} levels)"
        ) from None
    except ValueError as exc:  # not JSON (a JSONDecodeError, a UnicodeDecodeError)
        raise UnexpectedResponse(
            f"{response.request.method} {response.request.url} answered {response.status_code} "
            f"with a body that is not JSON ({exc})"
        ) from None
    if not isinstance(body, dict):
        raise UnexpectedResponse(
            f"{response.request.method} {response.request.url} answered {response.status_code} "
            f"with JSON that is not an object"
        )
    return body


def location_of(response: httpx.Response) -> str:
    """The absolute URL in the ``Location`` header of a 201, or :class:`UnexpectedResponse`."""
    location = response.headers.get("Location")
    if not location:
        raise UnexpectedResponse(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code} without a Location header"
        )
    return resolve(str(response.request.url), location)


def error_for(response: httpx.Response) -> UcwaHttpError:
    """Turn a non-2xx response into a :class:`UcwaHttpError` with the UCWA error fields.

    UCWA errors are JSON ``{code, subcode, message}``; IIS and proxy pages are HTML, for
    which the fields stay ``None``. ``404 ApplicationNotFound`` and ``410
    InactiveApplicationExpired`` become :class:`ApplicationGone`. The body must be read.
    """
    code = subcode = message = None
    if "json" in response.headers.get("Content-Type", ""):
        try:
            body = bounded_json.loads(response.content)
        except ValueError:  # not JSON, or nested too deeply
            body = None
        if isinstance(body, dict):
            code = _text(body.get("code"))
            subcode = _text(body.get("subcode"))
            message = _text(body.get("message"))
    gone = (response.status_code, subcode) in _APPLICATION_GONE
    kind = ApplicationGone if gone else UcwaHttpError
    return kind(
        response.request.method,
        str(response.request.url),
        response.status_code,
        code=code,
        subcode=subcode,
        error_message=message,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None

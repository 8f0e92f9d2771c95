"""Webhook calls: the flow's one way to reach other systems (ticketing, CRM, surveys).

:class:`WebhookCaller` sends the request a ``webhook`` action describes through one shared
:class:`httpx.AsyncClient` (tests hand in their own, with a mock transport for scripted
answers) and reduces whatever happens to a :class:`WebhookResult`: a 2xx answer is success,
anything else (another status, a timeout, a refused connection) is failure with a one-line
reason. The JSON body, when there is one, is the result either way. The whole call,
answer included, has the action's ``timeout``; an answer of more than :data:`MAX_ANSWER`
bytes is a failure (it is not read further: it would become a conversation's variable); a
gzip or deflate answer counts as it inflates, and is not inflated further either.

A URL whose path has a dot-segment (``/people/../admin``, ``%2e%2e`` too) is not sent: a
client normalises it to another path (``/admin``), one a caller's text may have chosen
(``urlencode`` leaves ``/`` and ``.`` alone); nor is one a server may read as one once it
decodes it or cuts its ``;params`` (``..%2Fadmin``, ``%252e%252e``, ``..;``); the call is a
failure that says so (:func:`~ucwa_flow.flow.dot_segment`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from ucwa_flow import bounded_json
from ucwa_flow._url_forms import userinfo
from ucwa_flow.bounded_body import ENCODINGS, Inflater
from ucwa_flow.flow import Flow, UnknownActionList, Webhook, dot_segment
from ucwa_flow.runtime.services import Continuation
from ucwa_flow.store import REDACTED

__all__ = [
    "IDEMPOTENCY_KEY",
    "MAX_ANSWER",
    "WebhookCall",
    "WebhookCaller",
    "WebhookResult",
    "recorded_result",
]

#: the header a webhook request carries, the same on every retry and after a restart
IDEMPOTENCY_KEY = "Idempotency-Key"
#: the largest answer body a webhook may give (bytes); a larger one is a failure
MAX_ANSWER = 1024 * 1024
#: the codings the answer may come in (those :class:`~ucwa_flow.bounded_body.Inflater`
#: reads; httpx would add ``br``/``zstd`` when their packages are installed)
_ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate"}
#: how deep a JSON answer may nest (as a flow's YAML may); a deeper one is taken for no
#: JSON (``json`` is null), as one nested past what ``json.loads`` can read: the answer
#: becomes a conversation's variable, which is copied, stored and logged by code that
#: recurses (``copy.deepcopy`` ran out of stack at 900 levels)
MAX_JSON_DEPTH = bounded_json.MAX_DEPTH


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """A webhook a conversation waits on, as data: the request as rendered, the
    ``Idempotency-Key`` it carries (``key``), and what to run on its outcome (``rest``).

    A store keeps it (:meth:`to_data`); a restarted bot sends the same request again, with
    the same key, so the service on the other side can tell it is the same call.
    """

    conversation: str
    method: str
    url: str
    headers: Mapping[str, str]
    body: Any
    timeout: float
    rest: Continuation
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if not any(name.lower() == IDEMPOTENCY_KEY.lower() for name in self.headers):
            object.__setattr__(self, "headers", {**self.headers, IDEMPOTENCY_KEY: self.key})

    def to_data(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "body": self.body,
            "timeout": self.timeout,
        }

    @classmethod
    def from_data(
        cls, conversation: str, key: str, data: Mapping[str, Any], rest: Continuation
    ) -> WebhookCall:
        return cls(
            conversation,
            str(data["method"]),
            str(data["url"]),
            {str(k): str(v) for k, v in dict(data["headers"]).items()},
            data.get("body"),
            float(data["timeout"]),
            rest,
            key,
        )


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What a webhook call came to. ``error`` is ``None`` exactly when it succeeded."""

    status: int | None
    json: Any
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_context(self) -> dict[str, Any]:
        """The ``webhook`` name templates see in the success/failure branches."""
        return {"status": self.status, "json": self.json, "error": self.error}


class WebhookCaller:
    """Calls webhooks through ``http`` (a client of its own when omitted)."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        self._http = http
        self._own = http is None

    async def call(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: Any,
        timeout: float,  # noqa: ASYNC109
    ) -> WebhookResult:
        """Send one request; never raises for network or HTTP trouble, nor for a request
        its rendered URL or headers make impossible to send, nor for one whose path a
        client would rewrite (a dot-segment: not sent, a failure). The failure's line has
        the URL's userinfo (``bot:password@``) blanked out: it is shown to the flow, logged
        and stored, and a deployment's URL may carry a password no secret names."""
        info = userinfo(url)
        shown = url if info is None else _blanked(url, info)
        result = await self._call(method, url, shown, headers, body, timeout)
        password = (info or "").partition(":")[2]
        if result.error is None or len(password) < 3:  # (shorter: ordinary letters too)
            return result
        return replace(result, error=result.error.replace(password, REDACTED))  # a detail's

    async def _call(
        self,
        method: str,
        url: str,
        shown: str,
        headers: dict[str, str],
        body: Any,
        timeout: float,  # noqa: ASYNC109
    ) -> WebhookResult:
        if (dots := dot_segment(url)) is not None:
            reason = f"its path has the segment {dots!r}, which would send it to another path"
            return WebhookResult(None, None, f"{method} {shown!r} is not sent: {reason}")
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        try:
            async with asyncio.timeout(timeout):  # the whole call, however slow the body
                status, content = await self._send(method, url, headers, body, timeout)
        except (TimeoutError, httpx.TimeoutException):
            return WebhookResult(None, None, f"{method} {shown} timed out after {timeout:g}s")
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            return WebhookResult(None, None, f"{method} {shown} failed: {detail}")
        except Exception as exc:  # a caller's text made it unsendable: a line break in the
            # URL, a letter beyond ASCII in a header, a port too large (an ExceptionGroup)
            while isinstance(exc, ExceptionGroup) and exc.exceptions:
                exc = exc.exceptions[0]
            detail = str(exc) or type(exc).__name__
            return WebhookResult(None, None, f"{method} {shown!r} cannot be sent: {detail}")
        if content is None:
            too_large = f"{method} {shown} answered more than {MAX_ANSWER:,} bytes"
            return WebhookResult(status, None, too_large)
        data = _json(content)
        if 200 <= status < 300:
            return WebhookResult(status, data, None)
        return WebhookResult(status, data, f"{method} {shown} answered {status}")

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,
        timeout: float,  # noqa: ASYNC109
    ) -> tuple[int, bytes | None]:
        """The status and body of the answer (``None`` for a body over :data:`MAX_ANSWER`
        bytes, of which no more is read)."""
        assert self._http is not None
        if not any(name.lower() == "accept-encoding" for name in headers):
            headers = {**_ACCEPT_ENCODING, **headers}  # whatever client was handed in
        request = self._http.build_request(
            method, url, headers=headers, json=body, timeout=httpx.Timeout(timeout)
        )
        response = await self._http.send(request, stream=True)
        try:
            return response.status_code, await _bounded(response)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self._own and self._http is not None:
            await self._http.aclose()


def _blanked(url: str, info: str) -> str:
    """``url`` with its userinfo ``info`` (:func:`userinfo`) shown as ``[redacted]``."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{REDACTED}{rest.removeprefix(info)}"


async def _bounded(response: httpx.Response) -> bytes | None:
    """The body of ``response``, or ``None`` once it is over :data:`MAX_ANSWER` bytes
    (arrived, or inflated: here, not by httpx, whose decoders inflate a whole chunk at once,
    64 KiB of gzip to 64 MiB, before any count could stop them). A gzip or deflate body
    that ends inside its stream is a :class:`~ucwa_flow.bounded_body.BodyUnreadable`."""
    if response.is_stream_consumed:  # read whole by its transport (a test's MockTransport)
        return response.content if len(response.content) <= MAX_ANSWER else None
    coding = response.headers.get("Content-Encoding", "").strip().lower().encode()
    inflater = Inflater(coding, MAX_ANSWER) if coding in ENCODINGS else None
    chunks, arrived, size = [], 0, 0
    async for chunk in response.aiter_raw():
        arrived += len(chunk)
        if arrived > MAX_ANSWER:  # (a chunk may inflate to nothing)
            return None
        for piece in (chunk,) if inflater is None else inflater.pieces(chunk):
            size += len(piece)
            if size > MAX_ANSWER:
                return None
            chunks.append(piece)
    if inflater is not None:
        inflater.end()  # cut short inside its stream: a failure, as an invalid one is
    return b"".join(chunks)


def _json(content: bytes) -> Any:
    """The JSON ``content`` holds; ``None`` for none, for what is not JSON, and for JSON
    nested deeper than :data:`MAX_JSON_DEPTH` levels."""
    if not content:
        return None
    try:
        return bounded_json.loads(content, depth=MAX_JSON_DEPTH)
    except ValueError:  # TooDeep too
        return None


def recorded_result(flow: Flow, rest: Continuation, answer: Any) -> Mapping[str, Any] | None:
    """A webhook's answer (``answer``: :meth:`WebhookResult.as_context`) as a transcript
    keeps it, for ``ucwa-flow replay``: its ``json`` is redacted when the webhook's
    ``result`` variable is secret. ``None`` when ``answer`` is not a webhook's."""
    if not isinstance(answer, Mapping):
        return None
    action = None
    if rest.at is not None:
        try:
            action = flow.action_list(rest.at.list_id)[rest.at.position]
        except (UnknownActionList, IndexError):
            action = None
    if isinstance(action, Webhook) and action.result in flow.secrets:
        return {**answer, "json": REDACTED}
    return dict(answer)

"""Webhook calls: the flow's one way to reach other systems (ticketing, CRM, surveys).

:class:`WebhookCaller` sends the request a ``webhook`` action describes through one shared
:class:`httpx.AsyncClient` (tests hand in their own, with a mock transport for scripted
answers) and reduces whatever happens to a :class:`WebhookResult`: a 2xx answer is success,
anything else (another status, a timeout, a refused connection) is failure with a one-line
reason. The JSON body, when there is one, is the result either way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ucwa_flow.flow import Flow, UnknownActionList, Webhook
from ucwa_flow.runtime.services import Continuation
from ucwa_flow.store import REDACTED

__all__ = [
    "IDEMPOTENCY_KEY",
    "WebhookCall",
    "WebhookCaller",
    "WebhookResult",
    "recorded_result",
]

#: the header a webhook request carries, the same on every retry and after a restart
IDEMPOTENCY_KEY = "Idempotency-Key"


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
        """Send one request; never raises for network or HTTP trouble."""
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        try:
            response = await self._http.request(
                method, url, headers=headers, json=body, timeout=httpx.Timeout(timeout)
            )
        except httpx.TimeoutException:
            return WebhookResult(None, None, f"{method} {url} timed out after {timeout:g}s")
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            return WebhookResult(None, None, f"{method} {url} failed: {detail}")
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        if response.is_success:
            return WebhookResult(response.status_code, data, None)
        return WebhookResult(
            response.status_code, data, f"{method} {url} answered {response.status_code}"
        )

    async def aclose(self) -> None:
        if self._own and self._http is not None:
            await self._http.aclose()


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

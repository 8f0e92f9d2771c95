"""Webhook calls: the flow's one way to reach other systems (ticketing, CRM, surveys).

:class:`WebhookCaller` sends the request a ``webhook`` action describes through one shared
:class:`httpx.AsyncClient` (tests hand in their own, with a mock transport for scripted
answers) and reduces whatever happens to a :class:`WebhookResult`: a 2xx answer is success,
anything else (another status, a timeout, a refused connection) is failure with a one-line
reason. The JSON body, when there is one, is the result either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["WebhookCaller", "WebhookResult"]


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

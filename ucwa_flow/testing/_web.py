"""The mocked web a scenario's webhooks talk to.

The bot's webhooks go through a real ``httpx.AsyncClient`` whose transport is an
``httpx.MockTransport`` answering from the scenario's ``webhooks:`` list. A request the
scenario did not mock is answered with a connection failure (so the flow takes its failure
branch) and remembered in :attr:`MockedWeb.unmocked`; the runner fails the step during
which it happened, since a test must say what the web answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx

from ucwa_flow.clock import Clock
from ucwa_flow.testing._script import MockedWebhook

__all__ = ["MockedWeb", "WebRequest"]


class WebRequest:
    """A request the flow made: method, URL and JSON body (``None`` when there was none)."""

    __slots__ = ("body", "method", "url")

    def __init__(self, method: str, url: str, body: Any) -> None:
        self.method = method
        self.url = url
        self.body = body


class MockedWeb:
    """Answers webhook requests from ``answers`` (see the module docstring)."""

    def __init__(self, answers: Sequence[MockedWebhook], clock: Clock) -> None:
        self._answers = list(answers)
        self._clock = clock
        self._closed = asyncio.Event()
        self._served: dict[int, int] = {}  # answer index -> times served
        self.requests: list[WebRequest] = []
        self.unmocked: list[str] = []

    def client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` that reaches only this mocked web."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        body = json.loads(request.content) if request.content else None
        self.requests.append(WebRequest(request.method, url, body))
        answer = self._pick(request.method, url)
        if answer is None:
            mocked = sorted({a.url for a in self._answers})
            known = f" (mocked: {', '.join(mocked)})" if mocked else ""
            self.unmocked.append(
                f"the flow called {request.method} {url}, which the scenario does not mock; "
                f"add it under webhooks:{known}"
            )
            raise httpx.ConnectError("not mocked by the test script", request=request)
        if answer.delay:
            limit = request.extensions.get("timeout", {}).get("read")
            if limit is not None and limit <= answer.delay:
                await self._sleep(limit, request)
                raise httpx.ReadTimeout("timed out (mocked delay)", request=request)
            await self._sleep(answer.delay, request)
        if answer.fail:
            raise httpx.ConnectError("connection failure (mocked)", request=request)
        if answer.has_json:
            return httpx.Response(answer.status, json=answer.json)
        return httpx.Response(answer.status)

    def close(self) -> None:
        """End the scenario: answers still delayed fail at once instead of never."""
        self._closed.set()

    async def _sleep(self, seconds: float, request: httpx.Request) -> None:
        sleep = asyncio.ensure_future(self._clock.sleep(seconds))
        closed = asyncio.ensure_future(self._closed.wait())
        await asyncio.wait((sleep, closed), return_when=asyncio.FIRST_COMPLETED)
        for task in (sleep, closed):
            task.cancel()
        if self._closed.is_set():
            raise httpx.ConnectError("the scenario ended", request=request)

    def _pick(self, method: str, url: str) -> MockedWebhook | None:
        matching = [
            i
            for i, a in enumerate(self._answers)
            if a.url == url and (a.method is None or a.method.upper() == method.upper())
        ]
        if not matching:
            return None
        # the first answer not served yet, else the last one again
        index = next((i for i in matching if i not in self._served), matching[-1])
        self._served[index] = self._served.get(index, 0) + 1
        return self._answers[index]

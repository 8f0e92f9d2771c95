"""A :class:`RemoteLive`: the live feed of a running ``ucwa-flow serve``, over HTTP.

``ucwa-flow review --attach URL`` reads the admin endpoint's live feed (``GET
/live/events``, ``GET /live/conversations/{id}``, with ``Authorization: Bearer <token>``
when a token is given) and serves it to its pages as if it were in-process. The stream
is read by a background task (:meth:`RemoteLive.start`) that reconnects with a growing
delay (:data:`BACKOFF`, at most :data:`MAX_BACKOFF` seconds) whenever the connection
fails or ends; meanwhile :meth:`RemoteLive.status` says ``reconnecting`` and why, which
the pages show in ``#live-status``, and the last snapshot stays what :meth:`snapshot`
returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from ucwa_flow import bounded_json
from ucwa_flow.review._sse import read_events

__all__ = ["BACKOFF", "MAX_BACKOFF", "RemoteLive", "empty_snapshot"]

log = logging.getLogger(__name__)

BACKOFF = 0.5
MAX_BACKOFF = 10.0


def empty_snapshot() -> dict[str, Any]:
    """A snapshot with nothing in it (before the first one arrives)."""
    return {"seq": 0, "at": None, "active": 0, "flows": {}, "lifecycle": {}, "conversations": []}


class RemoteLive:
    """The live feed of the admin endpoint at ``url`` (a LiveSource; see the module)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        timeout = httpx.Timeout(10.0, read=None)  # the stream is quiet between changes
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport)
        self._snapshot = empty_snapshot()
        self._status: dict[str, Any] = {"state": "reconnecting", "detail": "connecting"}
        self._version = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._streamed = False

    # -- LiveSource -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return self._snapshot

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """Not available without a round trip: use :meth:`fetch_conversation`."""
        return None

    async def fetch_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """``GET /live/conversations/{id}`` (``None`` when unknown or unreachable)."""
        url = f"{self.url}/live/conversations/{quote(conversation_id, safe='')}"
        try:
            response = await self._client.get(url)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            found = bounded_json.loads(response.content)
        except ValueError:  # not JSON (or nested too deeply): not an admin endpoint's answer
            return None
        return found if isinstance(found, dict) else None

    async def changes(self) -> AsyncIterator[dict[str, Any]]:
        """The current snapshot at once, then again after each change of it or of the
        status (a status change repeats the last snapshot)."""
        seen = -1
        while True:
            changed = self._changed
            if self._version != seen:
                seen = self._version
                yield self._snapshot
                continue
            await changed.wait()

    # -- status and lifetime ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return dict(self._status)

    async def start(self) -> None:
        """Start following the stream (returns at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name="ucwa-flow remote live")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._client.aclose()

    def _changed_now(self) -> None:
        self._version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def _set_status(self, state: str, detail: str | None = None) -> None:
        status: dict[str, Any] = {"state": state}
        if detail:
            status["detail"] = detail
        if status != self._status:
            self._status = status
            self._changed_now()

    async def _follow(self) -> None:
        delay = BACKOFF
        while True:
            self._streamed = False
            try:
                await self._read_stream()
                reason = "the stream ended"
            except httpx.HTTPError as exc:
                reason = _reason(exc)
            except _Refused as exc:
                reason = str(exc)
            except Exception as exc:  # the page says why; the app goes on
                reason = f"the live feed failed ({type(exc).__name__}: {exc})"
            if self._streamed:  # it was up: start over from the shortest delay
                delay = BACKOFF
            self._set_status("reconnecting", f"{reason}; retrying in {delay:g}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    async def _read_stream(self) -> None:
        async with self._client.stream("GET", f"{self.url}/live/events") as response:
            if response.status_code != 200:
                raise _Refused(_refusal(response.status_code))
            async for event in read_events(response.aiter_lines()):
                if event.name != "snapshot":
                    continue
                try:
                    snapshot = bounded_json.loads(event.data)
                except ValueError:
                    continue
                if isinstance(snapshot, dict):
                    self._streamed = True
                    self._snapshot = snapshot
                    self._status = {"state": "live"}
                    self._changed_now()


class _Refused(Exception):
    """The admin endpoint answered, but not with the stream."""


def _refusal(status: int) -> str:
    if status == 401:
        return "the admin endpoint refused the token (401): give --token or UCWA_FLOW_ADMIN_TOKEN"
    if status == 404:
        return "the admin endpoint has no live feed (404): is it a ucwa-flow serve --admin?"
    return f"the admin endpoint answered {status}"


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    return f"cannot reach the admin endpoint ({text})"

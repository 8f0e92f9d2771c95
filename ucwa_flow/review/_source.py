"""What the review app reads live data from: a :class:`LiveSource`, and its status.

The live feed (:mod:`ucwa_flow.live`, ``docs/review.md``) is a
:class:`~ucwa_flow.live.LiveSource`: a
``snapshot()`` of the counts and conversations, ``conversation(id)`` for one
conversation's steps, and ``changes()``, an async iterator of snapshots (one at once,
then one after each change). The app relays it to the browser as its own event stream.

A source may also say whether it is connected (:class:`StatusSource`): a remote source
(:class:`~ucwa_flow.review.RemoteLive`) is not while the admin endpoint is down, and the
page shows that in ``#live-status``. An in-process source is always ``live``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ucwa_flow.live import LiveSource

__all__ = ["FetchingSource", "LiveSource", "StatusSource", "detail_of", "status_of"]


@runtime_checkable
class StatusSource(Protocol):
    """A source that can be disconnected: ``status()`` is ``{"state": "live"}`` or
    ``{"state": "reconnecting", "detail": "<why>"}``."""

    def status(self) -> dict[str, Any]: ...


def status_of(source: object) -> dict[str, Any]:
    """The status of ``source``; a source that cannot be disconnected is ``live``."""
    if isinstance(source, StatusSource):
        return source.status()
    return {"state": "live"}


@runtime_checkable
class FetchingSource(Protocol):
    """A source whose conversation detail needs a round trip (a remote one): the app
    awaits ``fetch_conversation(id)`` instead of calling ``conversation(id)``."""

    async def fetch_conversation(self, conversation_id: str) -> dict[str, Any] | None: ...


async def detail_of(source: object, conversation_id: str) -> dict[str, Any] | None:
    """The detail of one conversation from ``source``, fetched when it must be."""
    if isinstance(source, FetchingSource):
        return await source.fetch_conversation(conversation_id)
    live: LiveSource = source  # type: ignore[assignment]
    return live.conversation(conversation_id)

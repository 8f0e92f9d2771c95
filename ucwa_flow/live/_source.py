"""The seam between a running bot and whoever watches it: :class:`LiveSource`.

A live source is the running picture of one engine (``ucwa-flow run``) or of every engine
of a ``ucwa-flow serve`` process: how many conversations are in each flow state and in each
lifecycle state now, which conversations run (and which ended a moment ago), and the steps
each one took. :class:`~ucwa_flow.live.LiveBoard` is the one built from trace records; the
review app's remote attach is another (over the admin endpoint's ``/live`` routes).

Everything it returns is JSON-ready (plain dicts, lists, strings, numbers). The shapes:

snapshot::

    {"seq": 12, "at": "2026-12-01T12:00:00.123Z", "active": 4,
     "flows": {"helpdesk": {"states": {"menu": 3, "password": 1}}},
     "lifecycle": {"conversation": {"Incoming": 0, "Connecting": 0, "Connected": 4, ...},
                   "messaging": {"Connected": 4, ...}},
     "conversations": [{"id", "href", "account", "flow", "version", "state", "lifecycle",
                        "messaging", "caller", "started_at", "updated_at", "active"}]}

``seq`` grows with every change; ``active`` is the number of active conversations.
``flows`` is keyed by flow name; a state with no active conversation is left out of
``states``. ``lifecycle`` lists every state of both machines (zeros included). Counts are
of active conversations only. ``conversations`` holds the active ones, newest first, then
the last ended ones (``active: false``), the most recently ended first; a board may bound
the active ones it lists (:class:`~ucwa_flow.live.LiveBoard` lists the newest 1,000: a bot
with more still counts them all, and the JSON a reader gets ten times a second stays
small).

conversation detail: the list entry's keys plus ``steps`` (oldest first, the last ones
only) and ``ended`` (the reason, or ``None``)::

    {"at": "...", "kind": "enter", "state": "menu", "from": "welcome", "text": None,
     "line": 12}

Step kinds: ``enter`` (``from``: the previous state), ``in`` (caller message), ``out`` (bot
message), ``match`` / ``nomatch`` / ``timeout`` (``text``: the handler's label), ``action``,
``error``, ``ended`` (``text``: the reason), ``lifecycle`` (``text``: ``"Connecting ->
Connected"``, ``machine``: ``"conversation"`` or ``"messaging"``). ``line`` is the 1-based
line of the flow file the step comes from, when there is one (else ``None``). Secret
variables never appear in steps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

__all__ = ["LiveSource"]


@runtime_checkable
class LiveSource(Protocol):
    """The running picture of a bot (see the module docstring for the JSON shapes)."""

    def snapshot(self) -> dict[str, Any]:
        """The picture now: counts per flow state and lifecycle state, the conversations."""
        ...

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """One conversation (an ``id`` of the snapshot's list) with its steps; ``None``
        when it is not (or no longer) known."""
        ...

    def changes(self) -> AsyncIterator[dict[str, Any]]:
        """A snapshot at once, then a new one after each change, coalesced (at most about
        ten a second), for as long as the consumer iterates. Stopping the iteration (or
        cancelling the task that iterates) leaves nothing behind."""
        ...

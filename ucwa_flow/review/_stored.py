"""Finished conversations from the store, in the shape of the live feed's detail.

``review --store URL`` lists the conversations a bot kept (``ucwa-flow transcripts``)
and replays one in the same view as a live one. :func:`stored_detail` turns a
:class:`~ucwa_flow.store.ConversationRecord` and its transcript into the conversation
detail JSON of the live feed (``docs/review.md``)::

    {"id", "flow", "version", "caller", "account", "state", "active",
     "steps": [{"at", "kind", "state", "from", "text"}, ...]}

Transcript lines map to steps: ``state`` -> ``enter``, ``message_in`` -> ``in``,
``message_out`` -> ``out``, ``timeout`` -> ``timeout``, ``outcome`` and ``error`` ->
``action``, ``variable`` -> ``action`` (``set NAME``, as the live feed shows a ``set``),
``ended`` -> ``ended``, ``declined`` (an invitation the bot turned away: a conversation in
which no flow ran) -> ``out`` for the farewell it said, if any, then ``ended``, or, in a
conversation that went on (one the bot follows was invited into again, or one accepted
later at the same href), ``action`` (``invitation turned away: ...``); version lines are
no steps. Every value passes through :func:`~ucwa_flow.store.redact` with the
record's secret names again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ucwa_flow._display import iso, short_id
from ucwa_flow.store import (
    ConversationQuery,
    ConversationRecord,
    Store,
    TranscriptEntry,
    redact,
)

__all__ = ["StoredConversations", "stored_detail"]

#: how many of the newest invitations turned away the list shows, beside the conversations
TURNED_AWAY_SHOWN = 20


class StoredConversations:
    """Reads a store for the review pages (never writes)."""

    def __init__(self, store: Store, *, limit: int = 100) -> None:
        self.store = store
        self.limit = limit

    async def recent(self) -> list[dict[str, Any]]:
        """The newest finished conversations and, beside them, the newest
        :data:`TURNED_AWAY_SHOWN` invitations turned away, newest first, as list rows."""
        query = ConversationQuery(
            status="ended", turned_away=False, limit=self.limit, newest_first=True
        )
        # the invitations turned away apart: a burst of them (an account at its limits)
        # would push every conversation out of the list
        away = replace(query, turned_away=True, limit=TURNED_AWAY_SHOWN)
        records = await self.store.conversations(query) + await self.store.conversations(away)
        records.sort(key=lambda r: r.created_at, reverse=True)
        endings = await self.store.endings((r.account, r.conversation) for r in records)
        return [_row(r, endings.get((r.account, r.conversation))) for r in records]

    async def detail(self, key: str) -> dict[str, Any] | None:
        """The detail of the conversation whose href or href's last part is ``key``."""
        found = await self.store.conversations(
            ConversationQuery(conversation=key, limit=1000, newest_first=True)
        )
        matches = [r for r in found if key in (r.conversation, short_id(r.conversation))]
        if not matches:
            return None
        record = matches[0]
        entries = await self.store.transcript(record.account, record.conversation)
        return stored_detail(record, entries)


def _row(record: ConversationRecord, ended: TranscriptEntry | None) -> dict[str, Any]:
    why = _why(ended.data) if ended is not None else None
    reason = record.ended_reason
    return {
        "id": short_id(record.conversation),
        "flow": record.flow,
        "caller": record.caller_uri or record.caller_name,
        "state": record.state,
        "started_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        # who ended it and, when the bot did, why: "bot (stop)", "bot (shutdown)", "caller"
        "reason": f"{reason} ({why})" if reason and why else reason,
        # an invitation the bot turned away (``ucwa_flow.runtime.records.declined_record``)
        "declined": isinstance(record.extra.get("declined"), Mapping),
    }


def stored_detail(record: ConversationRecord, entries: Sequence[TranscriptEntry]) -> dict[str, Any]:
    """The live feed's detail shape of a stored conversation (see the module)."""
    steps: list[dict[str, Any]] = []
    state: str | None = None
    # an invitation turned away ends its record's history; in a conversation that went on
    # (one the bot follows, invited into again; one accepted at the same href later) it
    # is a step of it
    turned_away = record.status == "ended" and isinstance(record.extra.get("declined"), Mapping)
    # the last `declined` line (an error saying the farewell could not be sent may follow)
    last = max((i for i, e in enumerate(entries) if e.kind == "declined"), default=-1)
    for i, entry in enumerate(entries):
        data = redact(entry.data, record.secrets)
        fields: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        for step in _steps(entry.kind, fields, state, ends=turned_away and i == last):
            if step["kind"] == "enter":
                state = step["state"]
            steps.append({"at": iso(entry.at), **step})
    return {
        "id": short_id(record.conversation),
        "conversation": record.conversation,
        "flow": record.flow,
        "version": record.flow_version,
        "caller": record.caller_uri or record.caller_name,
        "account": record.account,
        "state": record.state,
        "active": record.status == "active",
        "steps": steps,
    }


def _steps(
    kind: str, fields: Mapping[str, Any], state: str | None, *, ends: bool
) -> list[dict[str, Any]]:
    """The steps of one transcript line (none, one, or a decline's farewell and what
    became of the invitation: the end, when it ``ends`` the conversation, else an action)."""
    if kind == "declined":
        said = fields.get("farewell")
        found = [] if said is None else [_step("message_out", {"text": said}, state)]
        text = _declined_text(fields)
        if ends:
            found.append(_step("ended", {"reason": text}, state))
        else:
            found.append(_step("turned_away", {"text": text}, state))
    else:
        found = [_step(kind, fields, state)]
    return [step for step in found if step is not None]


def _declined_text(fields: Mapping[str, Any]) -> str:
    if fields.get("decision") == "busy":
        how = "left ringing" if fields.get("answer") == "ringing" else "declined"
        return f"{how}: busy"
    return "declined by the invitation rule" if fields.get("by") == "rule" else "declined"


def _step(kind: str, fields: Mapping[str, Any], state: str | None) -> dict[str, Any] | None:
    def step(kind: str, text: Any = None, **more: Any) -> dict[str, Any]:
        shown = None if text is None else str(text)
        return {"kind": kind, "state": state, "from": None, "text": shown, **more}

    if kind == "state":
        after = fields.get("state", fields.get("to"))
        before = fields.get("previous", fields.get("from"))
        entered = step("enter")
        entered.update(state=str(after), **{"from": None if before is None else str(before)})
        return entered
    if kind == "message_in":
        return step("in", fields.get("text"))
    if kind == "message_out":
        text = fields.get("text")
        return step("out", text if text is not None else fields.get("html"))
    if kind == "timeout":
        return step("timeout", f"after {fields.get('after')}s")
    if kind == "outcome":
        return step("action", f"{fields.get('action')} {fields.get('branch')}")
    if kind == "error":
        return step("action", f"error: {fields.get('message')}")
    if kind == "variable" and "name" in fields:
        return step("action", f"set {fields['name']}")
    if kind == "turned_away":  # an invitation into a conversation that went on
        return step("action", f"invitation turned away: {fields.get('text')}")
    if kind == "ended":
        reason, why = fields.get("reason"), _why(fields)
        return step("ended", f"{reason} ({why})" if reason and why else reason)
    return None


def _why(fields: Any) -> str | None:
    """Why the bot ended a conversation (``stop``, ``shutdown``), from its ``ended`` line."""
    why = fields.get("why") if isinstance(fields, Mapping) else None
    return str(why) if why else None

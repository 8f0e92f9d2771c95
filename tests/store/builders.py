"""Small builders of store records for the tests."""

from __future__ import annotations

from typing import Any

from ucwa_flow.store import (
    ActionRef,
    ChannelPosition,
    ConversationRecord,
    OutboxEntry,
    PendingWork,
    Timer,
    TranscriptEntry,
)

ACCOUNT = "sip:bot@contoso.com"
APP = "/ucwa/oauth/v1/applications/101"


def position(n: int, at: float = 1000.0) -> ChannelPosition:
    return ChannelPosition(APP, f"{APP}/events?ack={n}", at)


def conversation(
    key: str = "conv1", *, account: str = ACCOUNT, **fields: Any
) -> ConversationRecord:
    values: dict[str, Any] = {
        "flow": "helpdesk",
        "flow_version": "sha256:abc",
        "state": "greeting",
        "created_at": 1000.0,
        "updated_at": 1000.0,
        "variables": {"name": "Ann", "tries": 2, "tags": ["a", "b"], "pin": "1234"},
        "misses": 1,
        "timers": (Timer("silence", 1060.5, {"step": 0}), Timer("reminder", 1300.0)),
        "pending": (
            PendingWork(
                kind="webhook",
                key="idem-1",
                action=ActionRef("states.greeting.enter", 2),
                rest=(ActionRef("states.greeting.enter", 3), ActionRef("commands.help", 1)),
                payload={"method": "POST", "url": "https://crm.example/t", "body": {"a": 1}},
                due=1030.0,
            ),
            PendingWork(
                kind="invite",
                key="op-7",
                action=ActionRef("states.escalate.enter", 0),
                payload={"to": "sip:agent@contoso.com"},
                after_end=True,
            ),
        ),
        "caller_uri": "sip:ann@contoso.com",
        "caller_name": "Ann Smith",
        "secrets": frozenset({"pin"}),
        "extra": {"silence_cursor": 1, "silence_since": 1000.0},
    }
    values.update(fields)
    return ConversationRecord(account=account, conversation=f"/conv/{key}", **values)


def outbox(op: str, key: str = "conv1", *, account: str = ACCOUNT, **fields: Any) -> OutboxEntry:
    values: dict[str, Any] = {"kind": "message", "payload": {"text": f"reply {op}"}}
    values.update(fields)
    return OutboxEntry(
        account=account,
        conversation=f"/conv/{key}",
        operation_context=op,
        created_at=1000.0,
        **values,
    )


def line(
    kind: str,
    data: Any,
    key: str = "conv1",
    *,
    at: float = 1000.0,
    entry: str | None = None,
    account: str = ACCOUNT,
) -> TranscriptEntry:
    return TranscriptEntry(account, f"/conv/{key}", at, kind, data, key=entry)

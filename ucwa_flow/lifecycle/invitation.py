"""The messaging-invitation lifecycle, incoming and outgoing.

A ``messagingInvitation`` operation is ``started`` (state Connecting), may be ``updated``, and
is ``completed`` with status Success (Connected) or Failure (Failed, with a ``reason``). The
server may aggregate events so that only ``completed`` arrives; that jump is allowed. Once
Connected or Failed the invitation is over: later records for it are logged and skipped.

Why a Failure happened matters to flows (an outbound invite has declined and no-answer
branches), so :func:`outcome_of` sorts the reason into an :class:`Outcome`.
"""

from __future__ import annotations

import enum
from typing import Any

from ucwa_flow.lifecycle.machine import SharedMachine
from ucwa_flow.ucwa.events import MessagingInvitationEvent, Reason

__all__ = [
    "STATES",
    "InvitationLifecycle",
    "Outcome",
    "invitation_machine",
    "outcome_of",
    "trigger_for",
]

STATES = ["New", "Connecting", "Connected", "Failed"]


class Outcome(enum.Enum):
    """How an invitation ended."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    NO_ANSWER = "no_answer"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"


# UCWA ErrorSubcode -> outcome. No-answer subcodes are undocumented for IM (ucwa-protocol.md
# 7.2), so every "nobody took it" subcode counts as no answer.
_OUTCOME_BY_SUBCODE = {
    "declined": Outcome.DECLINED,
    "timeout": Outcome.NO_ANSWER,
    "missed": Outcome.NO_ANSWER,
    "noanswer": Outcome.NO_ANSWER,
    "temporarilyunavailable": Outcome.NO_ANSWER,
    "unavailable": Outcome.NO_ANSWER,
    "busy": Outcome.NO_ANSWER,
    "donotdisturb": Outcome.NO_ANSWER,
    "canceled": Outcome.CANCELLED,
    "cancelled": Outcome.CANCELLED,
    "expired": Outcome.EXPIRED,
}


class InvitationLifecycle:
    """One invitation's model: href, direction, state, and how it ended."""

    __slots__ = ("direction", "href", "outcome", "reason", "state")

    def __init__(self, href: str, direction: str | None = None) -> None:
        self.href = href
        self.direction = direction
        self.state = "New"
        self.outcome: Outcome | None = None
        self.reason: Reason | None = None


def _record_success(event: Any) -> None:
    event.model.outcome = Outcome.ACCEPTED


def _record_failure(event: Any) -> None:
    reason: Reason | None = event.kwargs.get("reason")
    event.model.reason = reason
    event.model.outcome = outcome_of(reason)


def _transitions() -> list[dict[str, Any]]:
    return [
        {"trigger": "start", "source": "New", "dest": "Connecting"},
        {"trigger": "start", "source": "Connecting", "dest": None},
        {
            "trigger": "succeed",
            "source": ["New", "Connecting"],
            "dest": "Connected",
            "after": _record_success,
        },
        {
            "trigger": "fail",
            "source": ["New", "Connecting"],
            "dest": "Failed",
            "after": _record_failure,
        },
    ]


def invitation_machine() -> SharedMachine:
    """A new machine for the messaging-invitation lifecycle."""
    return SharedMachine("invitation", STATES, _transitions(), initial="New")


def trigger_for(record: MessagingInvitationEvent) -> str | None:
    """The trigger an invitation event fires: start, succeed or fail (``None`` if unknown)."""
    if record.type in ("started", "updated"):
        return "start"
    if record.type == "completed":
        return "succeed" if record.status == "Success" else "fail"
    return None


def outcome_of(reason: Reason | None) -> Outcome:
    """Sort a Failure ``reason`` into an outcome; an unknown or missing one is FAILED."""
    if reason is None or not reason.subcode:
        return Outcome.FAILED
    return _OUTCOME_BY_SUBCODE.get(reason.subcode.lower(), Outcome.FAILED)

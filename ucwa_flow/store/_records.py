"""What the store keeps, as plain frozen values.

Every field is a string, a number, ``None`` or JSON data (``dict``/``list``/``str``/``int``/
``float``/``bool``/``None``; tuples come back as lists). Times are absolute epoch seconds (wall
clock), so a deadline written before a restart still means the same moment after it.

* :class:`ApplicationRecord`: one per bot account: the UCWA application and the event
  channel's ``next`` link as last acknowledged (committed).
* :class:`ConversationRecord`: one per conversation (keyed by account and the UCWA
  conversation href): the flow and its version, the state, variables, no-match ladder,
  timers (:class:`Timer`) and suspended invites/webhooks (:class:`PendingWork`).
* :class:`OutboxEntry`: a message (or typing notice, or stop) decided but perhaps not yet sent,
  keyed by the ``OperationContext`` the runtime puts on the UCWA request.
* :class:`TranscriptEntry`: one line of a conversation's history and audit log.
* :class:`CampaignRecord`: one campaign run (keyed by account and run id): its cursor (who
  is waiting, invited, done and how), its campaign variables and its report's state.
* :class:`RotationRecord`: where a flow's round-robin handoffs stand (keyed by account and
  flow name): the agent who accepted last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ActionRef",
    "ApplicationRecord",
    "CampaignRecord",
    "CampaignStatus",
    "ConversationRecord",
    "ConversationStatus",
    "OutboxEntry",
    "OutboxStatus",
    "PendingWork",
    "RotationRecord",
    "Timer",
    "TranscriptEntry",
]

ConversationStatus = Literal["active", "ended"]
OutboxStatus = Literal["pending", "sent", "failed"]
CampaignStatus = Literal["active", "finished"]

#: the value a secret variable has in transcripts and in ended conversations
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class ApplicationRecord:
    """A bot account's UCWA application and its event channel's committed position."""

    account: str
    application_url: str
    #: the ``next`` link to GET for the first batch not yet committed (``None``: start fresh)
    events_next: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class Timer:
    """A timer as an absolute deadline: it fires at ``due`` (epoch seconds), once."""

    name: str
    due: float
    data: Any = None


@dataclass(frozen=True, slots=True)
class ActionRef:
    """A place in a flow's actions: the action list (an id the runtime chooses, stable for
    a flow version, e.g. ``"states.greeting.enter"``) and the index of an action in it."""

    list_id: str
    position: int


@dataclass(frozen=True, slots=True)
class PendingWork:
    """An invite or webhook a conversation is waiting on: a continuation as data.

    ``key`` is unique within the conversation: the invitation's ``operationId``, or the
    webhook's ``Idempotency-Key`` (the same across retries and restarts). ``action`` is the
    ``invite``/``webhook`` action itself (its branches run on the outcome); ``rest`` are the
    frames to resume after the branch, innermost first. ``payload`` holds the request as sent
    (to/subject/message, or method/url/headers/body) and the extras the branch sees.
    """

    kind: Literal["invite", "webhook"]
    key: str
    action: ActionRef
    rest: tuple[ActionRef, ...] = ()
    payload: Any = None
    #: when the runtime gives up waiting (epoch seconds), if it does
    due: float | None = None
    #: suspended in an ``ended`` handler: the rest runs although the conversation is over
    after_end: bool = False


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """One conversation as the runtime left it after its last committed step."""

    account: str
    #: the UCWA conversation href
    conversation: str
    flow: str
    #: content hash of the flow file the conversation runs
    flow_version: str
    state: str
    created_at: float
    updated_at: float
    variables: Mapping[str, Any] = field(default_factory=dict)
    #: the no-match ladder: misses counted in the current state
    misses: int = 0
    timers: tuple[Timer, ...] = ()
    pending: tuple[PendingWork, ...] = ()
    caller_uri: str | None = None
    caller_name: str | None = None
    status: ConversationStatus = "active"
    ended_reason: str | None = None
    #: names of the flow's ``secret: true`` variables (redacted in transcripts, and in the
    #: record itself once the conversation has ended)
    secrets: frozenset[str] = frozenset()
    #: anything else the runtime needs to resume (JSON), e.g. the silence schedule cursor
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """Something to send in a conversation, committed before it is sent.

    ``operation_context`` is unique: the runtime puts it on the UCWA request, so after a
    restart it can look for it among the conversation's message events before sending again.
    ``kind`` is the runtime's (``"message"``, ``"typing"``, ``"stop"``...), ``payload`` its data.
    ``id`` is assigned by the store (insertion order) and is ``None`` on new entries.
    """

    account: str
    conversation: str
    kind: str
    payload: Any
    operation_context: str
    created_at: float
    status: OutboxStatus = "pending"
    attempts: int = 0
    error: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One line of a conversation's history: ``kind`` is ``message_in``, ``message_out``,
    ``state``, ``variable``, ``error``, ``ended``... and ``data`` its JSON details.

    ``key``, when given, makes the append idempotent: an entry whose key the conversation
    already has is not written again (a re-delivered batch yields the same keys). ``outcome``
    is the delivery outcome of an outbound message (``"sent"``, ``"failed: ..."``), when
    known. ``seq`` is assigned by the store and orders a conversation's entries.
    """

    account: str
    conversation: str
    at: float
    kind: str
    data: Any = None
    outcome: str | None = None
    key: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A campaign run as the runtime left it after its last committed step.

    ``data`` is the run as JSON (the runtime's ``CampaignRun.to_data``: who is waiting, the
    people invited with their outcomes, the campaign variables, the report's state). A run
    is ``"finished"`` once its report was answered (or it has none): a finished run is not
    loaded again, and stays finished (a later upsert of it changes nothing)."""

    account: str
    id: str
    flow: str
    data: Mapping[str, Any]
    created_at: float
    updated_at: float
    status: CampaignStatus = "active"


@dataclass(frozen=True, slots=True)
class RotationRecord:
    """When ``agent`` (a SIP URI) last accepted a handoff of flow ``flow`` (its name in the
    bot's catalog): ``turn`` counts the flow's acceptances, so among the agents a
    round-robin search rings, the one with the highest turn accepted last and the search
    starts after them. One per account, flow and agent; a later commit replaces it."""

    account: str
    flow: str
    agent: str
    turn: int
    updated_at: float

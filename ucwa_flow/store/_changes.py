"""Writes as data: one :class:`Changes` value is one transaction.

The runtime decides; the store records. A step (or a whole event batch of steps: group
commit) yields a :class:`Changes`: the channel position it reached, the conversations as they
now are, the ones that ended, the outbox entries to send, the outcomes of sends already tried,
the transcript lines, the campaign runs the step changed, the round-robin positions it
moved (the agent a flow's handoff was accepted by), the work ended conversations still
wait on (an ``ended`` handler's webhooks) and the invitations given up before the server
named them.
:meth:`~ucwa_flow.store.Store.commit` writes all of it or nothing.

Every part is idempotent, so committing the same value twice changes nothing the second
time: conversations are upserted by key (an ended one stays ended), outbox entries are keyed
by ``operation_context``, transcript entries by their ``key``, campaign runs by their id
(written whole; a finished one stays finished), round-robin positions by their flow (the
latest commit wins), an outbox update only moves a pending entry, and an ended
conversation's work is written only while its record still keeps some. With ``after`` set,
a batch whose position is no longer the stored one (it was committed already) is not
applied at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ucwa_flow.store._records import (
    ApplicationRecord,
    CampaignRecord,
    ConversationRecord,
    OutboxEntry,
    PendingWork,
    RotationRecord,
    TranscriptEntry,
)

__all__ = [
    "Abandoned",
    "AfterEnd",
    "Changes",
    "ChannelPosition",
    "CommitResult",
    "ConversationQuery",
    "Ending",
    "OutboxUpdate",
    "Pruned",
    "Snapshot",
]


@dataclass(frozen=True, slots=True)
class ChannelPosition:
    """Where the event channel stands once this batch is committed."""

    application_url: str
    #: the ``next`` link of the batch just handled (the first one not yet committed)
    events_next: str | None
    at: float


@dataclass(frozen=True, slots=True)
class Ending:
    """A conversation ended by key (no new record needed): keeps the first reason given."""

    conversation: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class AfterEnd:
    """The work an ended conversation still waits on, as it now stands: the webhooks its
    ``ended`` handler (or a step before the end) started and that have not answered
    (``pending``, the requests as rendered), and what running the rest of the handler
    needs (``resume``: JSON, the record's ``extra["after_end"]``). None left (``pending``
    empty, ``resume`` ``None``) once they answered and the handler is done.

    It is written only over an ended record that still keeps such work (its ``extra``
    holds ``after_end``, put there when the conversation's ended record was written): a
    record whose work is done stays so, and an active record is the upsert's."""

    conversation: str
    pending: tuple[PendingWork, ...]
    resume: Mapping[str, Any] | None
    at: float


@dataclass(frozen=True, slots=True)
class Abandoned:
    """An invitation given up before the server named it, by its ``operationId``: kept
    since ``at`` (epoch seconds), to be withdrawn should the server name it after a
    restart; or (``at`` ``None``) no longer, the server having named it, or never to."""

    operation_id: str
    at: float | None


@dataclass(frozen=True, slots=True)
class OutboxUpdate:
    """What trying to send an outbox entry came to.

    ``"sent"`` and ``"failed"`` are final; ``"pending"`` records an attempt that will be
    retried. Each update counts one attempt; an entry that is no longer pending is left as
    it is. The conversation's transcript entry whose ``key`` is the same operation context
    (the ``message_out`` line) gets the outcome.
    """

    operation_context: str
    status: Literal["pending", "sent", "failed"]
    at: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Changes:
    """Everything one commit writes, in one transaction."""

    position: ChannelPosition | None = None
    #: the position this batch was read at: when given and the stored position is another
    #: one (the batch was committed already, or the channel moved on), nothing is written
    after: str | None = None
    conversations: tuple[ConversationRecord, ...] = ()
    ends: tuple[Ending, ...] = ()
    outbox: tuple[OutboxEntry, ...] = ()
    sent: tuple[OutboxUpdate, ...] = ()
    transcript: tuple[TranscriptEntry, ...] = ()
    #: campaign runs as they now are (upserted by account and id; a finished one stays so)
    campaigns: tuple[CampaignRecord, ...] = ()
    #: round-robin positions the step moved (upserted by account and flow: the latest wins)
    rotations: tuple[RotationRecord, ...] = ()
    #: the work ended conversations still wait on, as it now stands (after the records)
    after_end: tuple[AfterEnd, ...] = ()
    #: invitations given up before the server named them, and those named since (in order)
    abandoned: tuple[Abandoned, ...] = ()

    @property
    def rows(self) -> int:
        """About how many rows this writes (the position's row included)."""
        return (
            (self.position is not None)
            + len(self.conversations)
            + len(self.ends)
            + len(self.outbox)
            + len(self.sent)
            + len(self.transcript)
            + len(self.campaigns)
            + len(self.rotations)
            + len(self.after_end)
            + len(self.abandoned)
        )


@dataclass(frozen=True, slots=True)
class CommitResult:
    """``applied`` is ``False`` when ``after`` showed the batch was committed before."""

    applied: bool
    #: the position stored after the commit
    events_next: str | None = None


@dataclass(frozen=True, slots=True)
class Pruned:
    """What :meth:`Store.prune` deleted."""

    #: ended conversations (with their transcripts and outbox entries)
    conversations: int
    #: round-robin positions (:class:`RotationRecord`) older than the cutoff
    rotations: int = 0

    def describe(self, cutoff: str) -> str:
        """In words (``cutoff``: the cutoff as printed): ``1 conversation(s) that ended
        before CUTOFF``, and the positions when some went."""
        text = f"{self.conversations} conversation(s) that ended before {cutoff}"
        if self.rotations:
            text += f", and {self.rotations} round-robin position(s) as old,"
        return text


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a (re)starting bot needs: its application, live conversations, unsent output,
    campaign runs under way and where its flows' round-robin handoffs stand."""

    account: str
    application: ApplicationRecord | None
    conversations: tuple[ConversationRecord, ...]
    #: pending outbox entries, in the order they were committed
    outbox: tuple[OutboxEntry, ...]
    #: campaign runs under way (not finished), oldest first
    campaigns: tuple[CampaignRecord, ...] = ()
    #: the agent each flow's round-robin handoff was accepted by last, by flow name
    rotations: tuple[RotationRecord, ...] = ()
    #: ended conversations whose work after the end still waits (:class:`AfterEnd`: the
    #: webhooks of an ``ended`` handler), oldest first
    after_end: tuple[ConversationRecord, ...] = ()
    #: the operationIds of invitations given up before the server named them, oldest first
    abandoned: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConversationQuery:
    """A filter over stored conversations (all fields optional, combined with AND).

    ``caller`` matches the caller's URI or name, ``conversation`` the conversation href (both
    case-insensitive substrings); ``since`` and ``until`` bound the creation time
    (``since <= created_at < until``). ``turned_away`` selects the records of invitations the
    bot turned away (``True``: an ended record in which no flow ran, its state ``""``) or
    leaves them out (``False``). Results are ordered by creation time, then account and key:
    oldest first, or newest first with ``newest_first``.
    """

    account: str | None = None
    caller: str | None = None
    conversation: str | None = None
    flow: str | None = None
    state: str | None = None
    status: Literal["active", "ended"] | None = None
    since: float | None = None
    until: float | None = None
    turned_away: bool | None = None
    limit: int = 100
    offset: int = 0
    newest_first: bool = False

"""The conversation store: what a bot must not forget when its process dies.

The runtime decides; the store records. Each step of the runtime (a caller message, a timer,
an outcome; in practice a whole event batch: group commit) produces its effects as data, a
:class:`Changes` value: the event channel's new position, the conversations as they now are
(:class:`ConversationRecord`: state, variables, ladder, timers as absolute deadlines, pending
invites and webhooks as :class:`PendingWork` - continuations as data, never closures), the
conversations that ended, the messages to send (:class:`OutboxEntry`, keyed by the
``OperationContext`` the send will carry), the outcomes of sends tried, and the transcript
lines (:class:`TranscriptEntry`). ``await store.commit(account, changes)`` writes it all in one
transaction; only then does the runtime perform it (send the outbox, arm the timers). Every
part of a commit is idempotent, so a re-delivered batch or a retried commit changes nothing
twice.

A (re)start is ``await store.load(account)``: the :class:`Snapshot` of the application and
its channel position, the active conversations, the pending outbox, the campaign runs under
way and where each flow's round-robin handoffs stand (:class:`RotationRecord`).

History: :meth:`Store.conversations` (filtered by :class:`ConversationQuery`),
:meth:`Store.transcript`, :meth:`Store.transcript_counts`, :meth:`Store.endings` (how each
ended), :meth:`Store.export`, and
:meth:`Store.prune` for retention, which :func:`run_retention` runs in the background. The
flow's secret variables (:attr:`ConversationRecord.secrets`) are redacted by the store in
every transcript entry it writes, and in the conversation record once it has ended (there
by value too: another variable holding a secret's value has it blanked out); an active
record keeps the real values, since the conversation needs them to carry on.
:func:`secret_texts`, :func:`scrub` and :func:`scrub_variables` blank out secrets by value,
as the runtime does in transcript lines.

Backends: SQLite (``sqlite3`` on a thread of its own, WAL; one file per bot account, by
default at :func:`default_state_path`) and PostgreSQL (psycopg 3, async), chosen by
:func:`open_store` from its target. The schema is versioned and migrated on open. A bot's
SQLite store (``exclusive=True``) is held against a second process (:class:`StoreInUse`).
Failures are :class:`StoreError` subclasses with one-line messages; ``retryable`` says
whether trying again later may help.

Several workers on one PostgreSQL store share the accounts through leases
(:mod:`ucwa_flow.store.leases`); each account write then carries its owner's fencing token
(``commit(..., fence=token)``, or a :class:`FencedStore`), refused with
:class:`StoreFenced` once another worker took the account.
"""

from ucwa_flow.store._abandoned import KEPT as ABANDONED_KEPT
from ucwa_flow.store._after_end import MARK as AFTER_END_MARK
from ucwa_flow.store._changes import (
    Abandoned,
    AfterEnd,
    Changes,
    ChannelPosition,
    CommitResult,
    ConversationQuery,
    Ending,
    OutboxUpdate,
    Pruned,
    Snapshot,
)
from ucwa_flow.store._errors import (
    StoreConflict,
    StoreCorrupt,
    StoreError,
    StoreFenced,
    StoreFull,
    StoreInUse,
    StoreLocked,
    StoreTooNew,
    StoreTooOld,
    StoreUnavailable,
)
from ucwa_flow.store._factory import (
    default_state_path,
    describe_target,
    is_postgres_url,
    open_store,
    postgres_url_problem,
)
from ucwa_flow.store._fenced_store import FencedStore
from ucwa_flow.store._migrations import LATEST as SCHEMA_VERSION
from ucwa_flow.store._records import (
    REDACTED,
    ActionRef,
    ApplicationRecord,
    CampaignRecord,
    ConversationRecord,
    ConversationStatus,
    OutboxEntry,
    OutboxStatus,
    PendingWork,
    RotationRecord,
    Timer,
    TranscriptEntry,
)
from ucwa_flow.store._retention import (
    DEFAULT_RETENTION,
    DEFAULT_RETENTION_INTERVAL,
    RetentionPass,
    run_retention,
)
from ucwa_flow.store._scrub import longest_first, scrub, scrub_variables, secret_texts
from ucwa_flow.store._sql import redact
from ucwa_flow.store._store import Store

__all__ = [
    "ABANDONED_KEPT",
    "AFTER_END_MARK",
    "DEFAULT_RETENTION",
    "DEFAULT_RETENTION_INTERVAL",
    "REDACTED",
    "SCHEMA_VERSION",
    "Abandoned",
    "ActionRef",
    "AfterEnd",
    "ApplicationRecord",
    "CampaignRecord",
    "Changes",
    "ChannelPosition",
    "CommitResult",
    "ConversationQuery",
    "ConversationRecord",
    "ConversationStatus",
    "Ending",
    "FencedStore",
    "OutboxEntry",
    "OutboxStatus",
    "OutboxUpdate",
    "PendingWork",
    "Pruned",
    "RetentionPass",
    "RotationRecord",
    "Snapshot",
    "Store",
    "StoreConflict",
    "StoreCorrupt",
    "StoreError",
    "StoreFenced",
    "StoreFull",
    "StoreInUse",
    "StoreLocked",
    "StoreTooNew",
    "StoreTooOld",
    "StoreUnavailable",
    "Timer",
    "TranscriptEntry",
    "default_state_path",
    "describe_target",
    "is_postgres_url",
    "longest_first",
    "open_store",
    "postgres_url_problem",
    "redact",
    "run_retention",
    "scrub",
    "scrub_variables",
    "secret_texts",
]

"""The work an ended conversation still waits on: kept in its record until it is done.

A conversation's ``ended`` handler may call webhooks (file a ticket, post the chat's outcome
to a CRM); they answer after the conversation ended. The runtime writes the ended record
with them as its pending work and, in its ``extra`` under :data:`MARK`, what running the
rest of the handler needs. That mark is what sets such a record apart from one whose
pending work is only what was left there when it ended (a bot older than this kept every
ended record's last pending work, answered or not): only a marked record is

* rewritten as its work goes on (:func:`write_after_end`: a webhook answered, another one
  started; none left: the mark goes too, and the record is an ordinary ended one);
* loaded at a restart (:func:`waiting_after_end`), so that its webhooks are sent again;
* kept by retention (:data:`KEPT`) however old: pruning it would lose the webhook.

The mark is looked for in the ``extra`` column's text (``LIKE``, both dialects), then in
its JSON.
"""

from __future__ import annotations

from collections.abc import Mapping

from ucwa_flow.store._changes import AfterEnd
from ucwa_flow.store._codec import (
    CONVERSATION_COLUMNS,
    conversation_of,
    pending_json,
)
from ucwa_flow.store._records import ConversationRecord
from ucwa_flow.store._sql import Program, Sql, dump, finite, load_json

__all__ = ["KEPT", "MARK", "after_end_params", "waiting_after_end", "write_after_end"]

#: the key of an ended record's ``extra`` that holds what carrying its work on needs
MARK = "after_end"
#: the ``LIKE`` pattern of an ``extra`` text that may hold :data:`MARK` (``_`` escaped)
_PATTERN = '%"after\\_end":%'
_MARKED = "status = 'ended' AND pending <> '[]' AND extra LIKE %s ESCAPE '\\'"
#: what retention keeps: a condition on ``conversations`` and its one parameter
KEPT = (f"NOT ({_MARKED})", _PATTERN)

_SELECT = f"SELECT extra FROM conversations WHERE account = %s AND conversation = %s AND {_MARKED}"
_UPDATE = (
    "UPDATE conversations SET pending = %s, extra = %s, updated_at = %s "
    "WHERE account = %s AND conversation = %s AND status = 'ended'"
)


def after_end_params(work: AfterEnd) -> tuple[AfterEnd, str, float]:
    """``work`` checked before a commit's first statement (a value that cannot be stored
    fails the commit with nothing written): with its pending work's JSON and its time."""
    href = work.conversation
    if work.resume is not None:
        dump(dict(work.resume), "the work after the end of conversation %s", href)
    pending = pending_json(work.pending, href) if work.resume is not None else "[]"
    return work, pending, finite(work.at, "the time of the work after the end of %s", href)


def write_after_end(account: str, works: list[tuple[AfterEnd, str, float]]) -> Program[None]:
    """Write each ended conversation's work as it now stands, over a record still marked;
    with none left (no ``resume``), the record keeps no pending work and no mark."""
    for work, pending, at in works:
        href = work.conversation
        rows = yield Sql(_SELECT, (account, href, _PATTERN))
        extra = load_json(rows[0][0]) if rows else None
        if not isinstance(extra, dict) or MARK not in extra:
            continue  # its work is done (or it never had any): it stays so
        if work.resume is None:
            del extra[MARK]
        else:
            extra[MARK] = dict(work.resume)
        text = dump(extra, "the runtime data of conversation %s", href)
        yield Sql(_UPDATE, (pending, text, at, account, href))


def waiting_after_end(account: str) -> Program[tuple[ConversationRecord, ...]]:
    """The ended conversations of ``account`` whose work after the end still waits, oldest
    first."""
    rows = yield Sql(
        f"SELECT {', '.join(CONVERSATION_COLUMNS)} FROM conversations "
        f"WHERE account = %s AND {_MARKED} ORDER BY created_at, conversation",
        (account, _PATTERN),
    )
    found = (conversation_of(row) for row in rows)
    return tuple(r for r in found if isinstance(r.extra.get(MARK), Mapping))

"""Invitations given up before the server named them, as rows: what a commit writes, what
a load reads and what a lost application drops.

A bot that gives up an invitation whose ``startMessaging`` the server has not answered yet
(its timeout passed, its conversation ended, the request's answer was lost) cannot
withdraw it: it keeps its ``operationId`` instead, and withdraws the invitation if the
server names it later (an accepted one is ended at once). The runtime commits the
operationIds (:class:`~ucwa_flow.store.Abandoned`) with the step that gave them up, so a
bot that restarts on the same application still withdraws one the server names after the
restart. A row goes once the server named it (or it never will), and the newest
:data:`KEPT` of an account are kept (some are never named: a request that never reached
the server). A lost application drops them all: its invitations are gone with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ucwa_flow.store._changes import Abandoned
from ucwa_flow.store._sql import Program, Sql, finite, placeholders

__all__ = ["KEPT", "abandoned", "forget_abandoned", "write_abandoned"]

#: the newest invitations given up kept per account
KEPT = 1024

_INSERT = (
    "INSERT INTO abandoned_invitations (account, operation_id, at) VALUES (%s, %s, %s) "
    "ON CONFLICT (account, operation_id) DO NOTHING"
)
_TRIM = (
    "DELETE FROM abandoned_invitations WHERE account = %s AND operation_id NOT IN ("
    "SELECT operation_id FROM abandoned_invitations WHERE account = %s "
    "ORDER BY at DESC, operation_id DESC LIMIT %s)"
)


def write_abandoned(account: str, changes: Sequence[Abandoned]) -> Program[None]:
    """Keep the invitations given up, drop those named since (in order: the last change of
    an operationId wins), then trim the account's to the newest :data:`KEPT`."""
    final: dict[str, float | None] = {}
    for change in changes:
        final.pop(change.operation_id, None)
        final[change.operation_id] = (
            None if change.at is None else finite(change.at, "an abandoned invitation's time")
        )
    kept = [(account, op, at) for op, at in final.items() if at is not None]
    gone = [op for op, at in final.items() if at is None]
    if gone:
        yield Sql(
            "DELETE FROM abandoned_invitations WHERE account = %s "
            f"AND operation_id IN ({placeholders(len(gone))})",
            (account, *gone),
        )
    if kept:
        yield Sql(_INSERT, many=tuple(kept))
        yield Sql(_TRIM, (account, account, KEPT))


def abandoned(account: str) -> Program[tuple[str, ...]]:
    """The operationIds of ``account``'s invitations given up and not named since, oldest
    first."""
    rows: list[tuple[Any, ...]] = yield Sql(
        "SELECT operation_id FROM abandoned_invitations WHERE account = %s "
        "ORDER BY at, operation_id",
        (account,),
    )
    return tuple(str(row[0]) for row in rows)


def forget_abandoned(account: str) -> Program[None]:
    """The application is gone, and its invitations with it."""
    yield Sql("DELETE FROM abandoned_invitations WHERE account = %s", (account,))

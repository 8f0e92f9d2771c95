"""Round-robin positions as rows: the upsert a commit makes, the positions a load reads
and the ones retention deletes.

A handoff with ``mode: round_robin`` starts after the one of its agents who accepted last
(:class:`~ucwa_flow.store.RotationRecord`). The runtime commits an agent's turn in the
transaction of the step in which they accepted; the row is keyed by account, flow name and
agent, so there is one per agent of a flow and the latest commit wins (written again, it
changes nothing). A lost application does not remove it: it is about the flow's agents, not
about an application.

Retention (:func:`prune_rotations`) deletes the rows of agents who have not accepted since
its cutoff: the agents of removed flows, agents who left. Such an agent loses their place
and counts as one who never accepted. A later acceptance of a flow has a higher turn, so
this only changes where a search starts when none of its agents accepted since the cutoff:
it then starts at its first agent, as in a flow that never handed off (a bot running
meanwhile keeps the turns it holds in memory until it restarts).
"""

from __future__ import annotations

from typing import Any

from ucwa_flow.store._errors import StoreError
from ucwa_flow.store._records import RotationRecord
from ucwa_flow.store._sql import Program, Sql, finite, placeholders

__all__ = ["prune_rotations", "rotation_params", "rotations", "upsert_rotations"]

_COLUMNS = ("account", "flow", "agent", "turn", "updated_at")
_UPSERT = (
    f"INSERT INTO handoff_rotations ({', '.join(_COLUMNS)}) "
    f"VALUES ({placeholders(len(_COLUMNS))}) "
    "ON CONFLICT (account, flow, agent) DO UPDATE SET "
    # a turn only rises: a commit of an older one (written again) changes nothing
    "turn = CASE WHEN excluded.turn > handoff_rotations.turn "
    "THEN excluded.turn ELSE handoff_rotations.turn END, "
    "updated_at = CASE WHEN excluded.turn > handoff_rotations.turn "
    "THEN excluded.updated_at ELSE handoff_rotations.updated_at END"
)


def rotation_params(account: str, record: RotationRecord) -> tuple[Any, ...]:
    """``record`` as the upsert's parameters (checked: the account, a finite time)."""
    if record.account != account:
        raise StoreError(
            f"the round-robin position of flow {record.flow} of account {record.account} "
            f"was committed for account {account}"
        )
    return (
        account,
        record.flow,
        record.agent,
        int(record.turn),
        finite(record.updated_at, "a round-robin position's time"),
    )


def upsert_rotations(params: list[tuple[Any, ...]]) -> Program[None]:
    if params:
        yield Sql(_UPSERT, many=tuple(params))


def rotations(account: str) -> Program[tuple[RotationRecord, ...]]:
    """The round-robin turns of ``account``'s flows' agents, by flow name and turn."""
    rows = yield Sql(
        f"SELECT {', '.join(_COLUMNS)} FROM handoff_rotations WHERE account = %s "
        "ORDER BY flow, turn",
        (account,),
    )
    return tuple(
        RotationRecord(
            account=row[0], flow=row[1], agent=row[2], turn=int(row[3]), updated_at=float(row[4])
        )
        for row in rows
    )


def prune_rotations(before: float) -> Program[int]:
    """Delete every account's positions last updated (accepted) before ``before``; returns
    how many went."""
    rows = yield Sql(
        "DELETE FROM handoff_rotations WHERE updated_at < %s RETURNING agent", (before,)
    )
    return len(rows)

"""Campaign runs as rows: the upsert a commit makes and the runs a load reads back.

A run (:class:`~ucwa_flow.store.CampaignRecord`) is written whole each time a committed step
changed it (a person invited or done, a ``campaign.NAME`` set, the report answered), in the
same transaction as that step. The upsert never brings a finished run back to life.
"""

from __future__ import annotations

from typing import Any

from ucwa_flow.store._errors import StoreError
from ucwa_flow.store._records import CampaignRecord
from ucwa_flow.store._sql import Program, Sql, dump, finite, load_json, placeholders

__all__ = ["active_campaigns", "campaign_params", "upsert_campaigns"]

_COLUMNS = ("account", "id", "flow", "status", "data", "created_at", "updated_at")
_UPSERT = (
    f"INSERT INTO campaigns ({', '.join(_COLUMNS)}) VALUES ({placeholders(len(_COLUMNS))}) "
    "ON CONFLICT (account, id) DO UPDATE SET status = excluded.status, "
    "data = excluded.data, updated_at = excluded.updated_at "
    "WHERE campaigns.status = 'active'"
)


def campaign_params(account: str, record: CampaignRecord) -> tuple[Any, ...]:
    """``record`` as the upsert's parameters (checked: JSON data, finite times)."""
    if record.account != account:
        raise StoreError(
            f"campaign run {record.id} of account {record.account} was committed for "
            f"account {account}"
        )
    return (
        account,
        record.id,
        record.flow,
        record.status,
        dump(dict(record.data), f"campaign run {record.id}"),
        finite(record.created_at, "a campaign run's creation time"),
        finite(record.updated_at, "a campaign run's update time"),
    )


def upsert_campaigns(params: list[tuple[Any, ...]]) -> Program[None]:
    if params:
        yield Sql(_UPSERT, many=tuple(params))


def active_campaigns(account: str) -> Program[tuple[CampaignRecord, ...]]:
    """The runs of ``account`` still under way, oldest first."""
    rows = yield Sql(
        f"SELECT {', '.join(_COLUMNS)} FROM campaigns "
        "WHERE account = %s AND status = 'active' ORDER BY created_at, id",
        (account,),
    )
    return tuple(
        CampaignRecord(
            account=row[0],
            id=row[1],
            flow=row[2],
            status=row[3],
            data=load_json(row[4]),
            created_at=float(row[5]),
            updated_at=float(row[6]),
        )
        for row in rows
    )

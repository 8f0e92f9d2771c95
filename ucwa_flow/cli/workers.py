"""``ucwa-flow workers --store URL``: the workers sharing a PostgreSQL store, and their leases.

Lists every worker (``ucwa-flow serve`` process) the store knows, with its host, pid and
when it was last seen, the accounts it owns (lease token, how long it has held the lease,
when it expires) and the accounts no worker owns (released, or expired: a worker died and
no other took the account over yet), and a worker that keeps away from the accounts for a
while because an account's store could not be opened there (it takes no new one meanwhile; see
docs/ha.md). Times are the database's. ``--json`` prints one JSON
document for scripts. A store that fails is one line and exit status 1.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import click

from ucwa_flow.cli._store_target import STORE_ENV
from ucwa_flow.store import is_postgres_url, open_store
from ucwa_flow.store.leases import Lease, LeaseBook, WorkerInfo

__all__ = ["command", "render"]


@click.command("workers")
@click.option(
    "--store",
    default=None,
    help=f"The PostgreSQL store, postgresql://... (default: env {STORE_ENV}).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
def command(store: str | None, as_json: bool) -> None:
    """List the workers sharing a PostgreSQL store and the accounts each owns."""
    target = store or os.environ.get(STORE_ENV)
    if not target or not is_postgres_url(target):
        raise click.UsageError(
            "give --store postgresql://... (workers share a PostgreSQL store; "
            "a SQLite store serves one process)"
        )
    workers, leases = asyncio.run(_read(target))
    if as_json:
        click.echo(json.dumps(snapshot(workers, leases), indent=2))
    else:
        for line in render(workers, leases):
            click.echo(line)


async def _read(target: str) -> tuple[list[WorkerInfo], list[Lease]]:
    async with await open_store(target, read_only=True) as opened:
        book = LeaseBook(opened)
        return await book.workers(), await book.owners()


def snapshot(workers: list[WorkerInfo], leases: list[Lease]) -> dict[str, Any]:
    """What ``--json`` prints: ``workers`` (each with its ``accounts``) and ``unowned``."""

    def lease(item: Lease) -> dict[str, Any]:
        return {
            "account": item.account,
            "token": item.token,
            "held_for": round(item.held_for, 3),
            "renewed_ago": round(item.renewed_ago, 3),
            "expires_in": round(item.expires_in, 3),
        }

    owned = [item for item in leases if item.valid]
    return {
        "workers": [
            {
                "id": w.id,
                "host": w.host,
                "pid": w.pid,
                "started_at": w.started_at.isoformat() if w.started_at else None,
                "seen_ago": None if w.seen_ago is None else round(w.seen_ago, 3),
                "away_for": None if w.away_for is None else round(w.away_for, 3),
                "accounts": [lease(item) for item in owned if item.worker == w.id],
            }
            for w in workers
        ],
        "unowned": [
            {**lease(item), "last_worker": item.worker} for item in leases if not item.valid
        ],
    }


def render(workers: list[WorkerInfo], leases: list[Lease]) -> list[str]:
    """The text listing."""
    if not workers and not leases:
        return ["No workers: no `ucwa-flow serve` has used this store as a worker yet."]
    lines: list[str] = []
    owned = [item for item in leases if item.valid]
    for w in workers:
        mine = [item for item in owned if item.worker == w.id]
        seen = "?" if w.seen_ago is None else _ago(w.seen_ago)
        lines.append(f"{w.id}  host {w.host}  pid {w.pid}  seen {seen}  {len(mine)} account(s)")
        if w.away_for is not None:
            lines.append(
                f"  takes no new account for {_span(w.away_for)}: a store could not be opened "
                "there (see its log)"
            )
        for item in mine:
            lines.append(
                f"  {item.account}  token {item.token}  held {_span(item.held_for)}  "
                f"renewed {_ago(item.renewed_ago)}  expires in {_span(item.expires_in)}"
            )
    ghosts = [item for item in owned if item.worker not in {w.id for w in workers}]
    for item in ghosts:
        lines.append(f"  {item.account}  token {item.token}  held by {item.worker} (left)")
    free = [item for item in leases if not item.valid]
    if free:
        lines.append(f"unowned: {len(free)} account(s)")
        for item in free:
            why = "released" if item.worker is None else f"expired (was {item.worker})"
            lines.append(f"  {item.account}  token {item.token}  {why} {_ago(-item.expires_in)}")
    return lines


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _ago(seconds: float) -> str:
    return f"{_span(seconds)} ago"

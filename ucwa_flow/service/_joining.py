"""A worker joining the others on a PostgreSQL store: :func:`join`, :func:`account_digest`.

**Configuration.** At the join, each account's spec (user, flows, routes, variables,
limits, schedules) is registered as a digest (:meth:`LeaseBook.claim_config
<ucwa_flow.store.leases.LeaseBook.claim_config>`); a deployment file that disagrees with
a live worker's about an account is refused with one line, and the worker leaves again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict

from ucwa_flow.deploy import AccountSpec
from ucwa_flow.errors import OperationalError
from ucwa_flow.service._account import AccountRunner
from ucwa_flow.store import StoreError
from ucwa_flow.store.leases import ConfigConflict, LeaseBook, WorkerInfo

__all__ = ["account_digest", "join"]


def account_digest(spec: AccountSpec) -> str:
    """A digest of what the deployment file says of an account (not its password, not
    where its files are: two machines may keep them in different folders)."""
    described = {
        "id": spec.id,
        "user": spec.user,
        "flows": sorted((f.name, f.path.name) for f in spec.flows),
        "default_flow": spec.default_flow,
        "routes": [(r.flow, r.caller, r.subject, r.first_message) for r in spec.routes],
        "variables": spec.variables,
        "limits": asdict(spec.limits),
        "schedules": [(s.flow, s.invitee, s.every) for s in spec.schedules],
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


async def join(
    book: LeaseBook, worker: WorkerInfo, runners: Iterable[AccountRunner], ttl: float
) -> None:
    """Join ``worker`` to ``book``'s workers and register the configuration of every
    account of ``runners`` (see the module docstring): :class:`OperationalError`, one
    line, when another live worker's file disagrees or the store refuses for good; a
    retryable :class:`StoreError` when the store cannot be reached meanwhile."""
    try:
        await book.join(worker)
        for runner in runners:
            digest = account_digest(runner.spec)
            await book.claim_config(runner.user, worker.id, digest, ttl)
    except ConfigConflict as exc:
        with contextlib.suppress(StoreError):
            await book.leave(worker.id)
        raise OperationalError(str(exc)) from None
    except StoreError as exc:
        if exc.retryable:  # the server went away meanwhile: the caller may try again
            raise
        raise OperationalError(f"cannot join the other workers: {exc}") from None

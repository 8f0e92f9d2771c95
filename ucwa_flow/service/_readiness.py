"""What ``/readyz`` says of a service, and why: :func:`readiness`.

Ready when every account it answers for is signed in with its event channel live, every
store answers and (a worker of several) it has completed a heartbeat and reaches the
store; never while stopping. Besides, as data, why not: the process's own reasons
(:class:`~ucwa_flow.admin.Why`), each account's state as a short code and a sentence,
and, for a worker, the accounts it does not answer for and why
(:class:`~ucwa_flow.admin.AccountElsewhere`), from what the coordinator knows: the
leases as the store last showed them, the ones it lost, the time away after a store it
could not open.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from ucwa_flow.admin import AccountElsewhere, AccountHealth, Readiness, Why
from ucwa_flow.service._account import AccountRunner

if TYPE_CHECKING:
    from ucwa_flow.service._coordinator import Coordinator
    from ucwa_flow.service._service import Service

__all__ = ["account_health", "readiness"]


def readiness(service: Service) -> Readiness:
    """``service`` as ``/readyz`` shows it (see the module docstring)."""
    runners = list(service.runners.values())
    now = time.time()
    waiting = service.waiting_for_store
    if waiting is not None:  # the store cannot be reached yet: every account waits
        accounts = [
            AccountHealth(r.spec.id, r.user, False, False, waiting, "waiting_for_store", waiting)
            for r in runners
        ]
        since = service.waiting_since
        why = Why("waiting_for_store", waiting, since=_when(since) if since else None)
        return Readiness(False, False, accounts, [*_stopping(service), why])
    coordinator = service.coordinator
    kept: dict[str, tuple[str, float]] = {}
    if coordinator is not None:  # a worker answers for the accounts it holds
        runners = [service.runners[account] for account in coordinator.serving]
        kept = coordinator.away.kept_for()  # and those whose store it cannot open
    accounts = [account_health(r) for r in runners if r.spec.id not in kept]
    for account, (error, left) in kept.items():
        until = _when(now + left)
        reason = (
            f"its store cannot be opened here ({error}); this worker takes no account "
            f"until {until}, another whose store opens may take it"
        )
        user = service.runners[account].user
        accounts.append(
            AccountHealth(account, user, False, False, error, "store_refused", reason, until)
        )
    store = service.stores.healthy
    reasons = [*_stopping(service), *_store(service, now), *_worker(service, kept, now)]
    if not accounts and coordinator is None and not reasons:
        reasons.append(Why("no_accounts", "no account is running yet"))
    ready = not reasons and store and all(a.ready for a in accounts)
    elsewhere = _elsewhere(coordinator, service, now) if coordinator is not None else []
    return Readiness(ready, store, accounts, reasons if not ready else [], elsewhere)


def account_health(runner: AccountRunner) -> AccountHealth:
    """``runner``'s health with its state as a code and a sentence."""
    health = runner.health()
    user, error = runner.user, health.error
    if health.ready:
        code, reason = "ready", f"signed in as {user}, its event channel live"
    elif runner.gave_up:
        code, reason = "stopped", f"its bot stopped: {error}; it is not tried again"
    elif health.signed_in:
        code, reason = "channel_failing", error or "its event channel is not live"
    elif not runner.busy:
        code, reason = "not_started", "its bot is not running"
    elif error is not None:
        code = "retrying"
        reason = f"{error}; trying again ({runner.failures} failure(s) in a row)"
    else:
        code, reason = "signing_in", f"signing in as {user}"
    return AccountHealth(
        health.id, user, health.signed_in, health.channel_live, error, code, reason
    )


def _stopping(service: Service) -> list[Why]:
    if not service.stopping:
        return []
    return [Why("stopping", "a graceful stop has begun: it takes nothing new")]


def _store(service: Service, now: float) -> list[Why]:
    coordinator = service.coordinator
    reasons = []
    if coordinator is not None and coordinator.unreachable:
        since, error = coordinator.sight.unreachable or (now, "its heartbeat failed")
        reasons.append(
            Why(
                "store_unreachable",
                f"worker {coordinator.worker.id} cannot reach the store since {_when(since)} "
                f"({now - since:.0f} s): {error}; it serves an account only while its lease "
                "is surely valid, and takes accounts again once the store answers",
                since=_when(since),
            )
        )
    unhealthy = service.stores.unhealthy
    if unhealthy:
        whose = ", ".join(unhealthy)
        reasons.append(
            Why(
                "store_unhealthy",
                f"the conversation store of {whose} could not be opened or did not answer "
                "its last probe",
            )
        )
    return reasons


def _worker(service: Service, kept: dict[str, tuple[str, float]], now: float) -> list[Why]:
    coordinator = service.coordinator
    if coordinator is None:
        if service.runners and service.shared:
            return [Why("joining", "joining the other workers of the store")]
        return []
    reasons = []
    if coordinator.rounds == 0 and not coordinator.unreachable:
        worker = coordinator.worker.id
        reasons.append(Why("joining", f"worker {worker} has not completed a heartbeat yet"))
    if kept:
        left = max(seconds for _error, seconds in kept.values())
        until = _when(now + left)
        reasons.append(
            Why(
                "away",
                f"worker {coordinator.worker.id} takes no new account until {until} "
                f"({left:.0f} s): the store of {', '.join(sorted(kept))} cannot be opened here",
                until=until,
            )
        )
    return reasons


def _elsewhere(coordinator: Coordinator, service: Service, now: float) -> list[AccountElsewhere]:
    """The accounts ``coordinator``'s worker does not answer for, and why."""
    me = coordinator.worker.id
    leases, seen_at = coordinator.sight.leases or ({}, -1.0)
    answered = set(coordinator.serving) | set(coordinator.away.kept())
    found = []
    for account, runner in sorted(service.runners.items()):
        if account in answered:
            continue
        held, lost = coordinator.held.get(account), coordinator.sight.lost.get(account)
        lease = leases.get(runner.user)
        if held is not None:  # being handed over (or given up)
            reason = "being handed over: its bot stops, then its lease is released"
            other = AccountElsewhere(account, runner.user, "handing_over", reason)
        elif lost is not None and lost[1] >= seen_at:  # lost since the store last showed it
            why, when = lost
            reason = f"worker {me} lost its lease at {_when(when)}: {why}"
            other = AccountElsewhere(account, runner.user, "lease_lost", reason, since=_when(when))
        elif lease is not None and lease.valid and lease.worker != me:
            reason = f"served by worker {lease.worker} (lease token {lease.token})"
            other = AccountElsewhere(account, runner.user, "held_elsewhere", reason, lease.worker)
        elif lease is not None and lease.valid:  # the store still has it as this worker's
            reason = f"worker {me} no longer serves it and is releasing its lease"
            other = AccountElsewhere(account, runner.user, "releasing", reason, me)
        elif lease is not None or coordinator.sight.leases is not None:
            reason = (
                "no worker holds its lease: one under its fair share takes it at its next heartbeat"
            )
            other = AccountElsewhere(account, runner.user, "unassigned", reason)
        else:
            reason = f"not held by worker {me}; who holds it is not known yet"
            other = AccountElsewhere(account, runner.user, "unknown", reason)
        found.append(other)
    return found


def _when(seconds: float) -> str:
    """``seconds`` (``time.time()``) as ISO 8601, UTC, to the second."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")

"""Retention in the background: prune what ended long ago, every so often.

A bot that runs for weeks keeps every conversation's history until it is pruned.
:func:`run_retention` is the task that does it::

    task = asyncio.create_task(run_retention(store, clock))   # 30 days, hourly
    ...
    task.cancel()

Every ``interval`` seconds of the injected :class:`~ucwa_flow.clock.Clock` (the first time
at once) it calls ``store.prune(before=now - retention)``, where ``now`` is the clock's wall
time (see :meth:`~ucwa_flow.store.Store.prune`: ended conversations, and the round-robin
positions of agents who have not accepted since), and logs one line on the
``ucwa_flow.store`` logger: what it pruned (INFO, or DEBUG when there was nothing to
prune), or why it could not. A retryable
:class:`~ucwa_flow.store.StoreError` (a lock held by the bot's own commit, a server
restarting) is logged as a warning and the next pass tries again; any other store error is
logged and ends the task with that error, since no later pass would fare better.

``on_pass`` receives a :class:`RetentionPass` after each pass, for metrics (and for tests,
which drive the task on a :class:`~ucwa_flow.clock.ManualClock`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from ucwa_flow.clock import Clock
from ucwa_flow.store._errors import StoreError
from ucwa_flow.store._store import Store

__all__ = ["DEFAULT_RETENTION", "DEFAULT_RETENTION_INTERVAL", "RetentionPass", "run_retention"]

log = logging.getLogger("ucwa_flow.store")

#: how long an ended conversation's history is kept by default: 30 days
DEFAULT_RETENTION = 30 * 86400.0
#: how often the retention task prunes by default: hourly
DEFAULT_RETENTION_INTERVAL = 3600.0
#: the earliest cutoff a date can show (a longer retention keeps everything)
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class RetentionPass:
    """What one pass of :func:`run_retention` did."""

    #: when it ran (epoch seconds, the clock's wall time)
    at: float
    #: the cutoff: conversations that ended before it were pruned
    before: float
    #: how many conversations were deleted (0 when the pass failed)
    pruned: int
    #: the retryable error that made the pass fail, if it did
    error: StoreError | None = None
    #: how many round-robin positions were deleted
    rotations: int = 0


async def run_retention(
    store: Store,
    clock: Clock,
    *,
    retention: float = DEFAULT_RETENTION,
    interval: float = DEFAULT_RETENTION_INTERVAL,
    on_pass: Callable[[RetentionPass], None] | None = None,
) -> NoReturn:
    """Prune ``store`` of what ended more than ``retention`` seconds ago, every ``interval``
    seconds, until cancelled (or a store error that is not retryable, which it raises)."""
    if not retention > 0 or not interval > 0:
        raise ValueError("retention and its interval must be positive durations")
    while True:
        now = clock.now().timestamp()
        before = max(now - retention, _EARLIEST)  # `retention: 99999999999d`: keep all
        cutoff = datetime.fromtimestamp(before, UTC).isoformat(timespec="seconds")
        try:
            pruned = await store.prune(before=before)
        except StoreError as exc:
            if not exc.retryable:
                log.error("retention stopped: could not prune %s: %s", store.target, exc)
                raise
            log.warning(
                "retention: could not prune %s (%s); trying again in %s",
                store.target,
                exc,
                _duration(interval),
            )
            outcome = RetentionPass(now, before, 0, exc)
        else:
            log.log(
                logging.INFO if pruned.conversations or pruned.rotations else logging.DEBUG,
                "retention: pruned %s from %s",
                pruned.describe(cutoff),
                store.target,
            )
            outcome = RetentionPass(now, before, pruned.conversations, rotations=pruned.rotations)
        if on_pass is not None:
            on_pass(outcome)
        await clock.sleep(interval)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:g}{unit}"
    return f"{seconds:g}s"

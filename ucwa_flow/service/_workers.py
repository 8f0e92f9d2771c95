"""Opening a service's :class:`~ucwa_flow.service._coordinator.Coordinator`: its own
store connection (so heartbeats never wait behind an account's commits), joined.

A PostgreSQL server that cannot be reached at the start (not up yet, refusing, a name that
does not resolve yet, a timeout) is waited for: one log line per attempt, tried again with
the accounts' back-off (1, 2, 4 ... 60 s), as long as it takes, while the admin endpoint
answers ``/readyz`` with 503 and the reason (:attr:`Service.waiting_for_store`). A store
that trying again cannot mend (a wrong database, user or password, a URL libpq cannot
use, a store of a newer ucwa-flow) is one line at once.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ucwa_flow.errors import OperationalError
from ucwa_flow.service._backoff import Backoff
from ucwa_flow.service._coordinator import Coordinator
from ucwa_flow.service._stores import named
from ucwa_flow.store import Store, StoreError, describe_target, open_store
from ucwa_flow.store.leases import LeaseBook, WorkerInfo, application_name, new_worker

if TYPE_CHECKING:
    from ucwa_flow.service._service import Service

__all__ = ["open_coordinator"]

log = logging.getLogger("ucwa_flow.service")


async def open_coordinator(service: Service, backoff: Backoff) -> Coordinator:
    """Join the workers of ``service``'s PostgreSQL store, waiting for the server while it
    cannot be reached (see the module docstring); :class:`OperationalError` (one line)
    when the store cannot be opened for good or another worker's file disagrees."""
    worker = new_worker()  # its connections carry its id: a takeover can end a frozen one's
    service.stores.application_name = application_name(worker.id)
    target = named(service.deployment.store or "", application_name(worker.id))
    failures = 0
    while True:
        try:
            store = await open_store(target)
            if failures:
                log.info("the conversation store %s answers; starting", describe_target(target))
            coordinator = await _joined(service, worker, store, target)
        except StoreError as exc:
            if not exc.retryable:
                service.waiting_for_store = service.waiting_since = None
                raise OperationalError(f"cannot open the conversation store: {exc}") from None
            failures += 1
            delay = backoff.delay(failures)
            service.waiting_for_store = f"waiting for the conversation store: {exc}"
            if service.waiting_since is None:
                service.waiting_since = time.time()
            log.warning(
                "cannot open the conversation store: %s; trying again in %.0f s", exc, delay
            )
            await service.clock.sleep(delay)
            continue
        service.waiting_for_store = service.waiting_since = None
        return coordinator


async def _joined(service: Service, worker: WorkerInfo, store: Store, target: str) -> Coordinator:
    """``worker``'s coordinator on ``store`` (opened at ``target``), joined; a retryable
    :class:`StoreError` when the server went away meanwhile (``store`` is closed then)."""
    deployment = service.deployment
    coordinator = Coordinator(
        LeaseBook(store),
        service.runners,
        deployment.workers,
        metrics=service.metrics,
        stop_timeout=deployment.stop_timeout,
        worker=worker,
        renew_from=target,
    )
    try:
        await coordinator.start()
    except BaseException:
        await store.aclose()
        raise
    return coordinator

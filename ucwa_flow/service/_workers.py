"""Opening a service's :class:`~ucwa_flow.service._coordinator.Coordinator`: its own
store connection (so heartbeats never wait behind an account's commits), joined."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ucwa_flow.errors import OperationalError
from ucwa_flow.service._coordinator import Coordinator
from ucwa_flow.service._stores import named
from ucwa_flow.store import StoreError, open_store
from ucwa_flow.store.leases import LeaseBook, application_name, new_worker

if TYPE_CHECKING:
    from ucwa_flow.service._service import Service

__all__ = ["open_coordinator"]


async def open_coordinator(service: Service) -> Coordinator:
    """Join the workers of ``service``'s PostgreSQL store; :class:`OperationalError` (one
    line) when the store cannot be opened or another worker's file disagrees."""
    deployment = service.deployment
    target = deployment.store or ""
    worker = new_worker()  # its connections carry its id: a takeover can end a frozen one's
    service.stores.application_name = application_name(worker.id)
    try:
        store = await open_store(named(target, application_name(worker.id)))
    except StoreError as exc:
        raise OperationalError(f"cannot open the conversation store: {exc}") from None
    coordinator = Coordinator(
        LeaseBook(store),
        service.runners,
        deployment.workers,
        metrics=service.metrics,
        stop_timeout=deployment.stop_timeout,
        worker=worker,
        renew_from=named(target, application_name(worker.id)),
    )
    try:
        await coordinator.start()
    except BaseException:
        await store.aclose()
        raise
    return coordinator

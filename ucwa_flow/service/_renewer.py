"""A worker's lease renewals from a thread of their own: :class:`Renewer` (private).

A worker relies on a lease only while it can prove it valid: until the moment its last
successful renewal was sent, plus the lease, minus a margin (docs/ha.md). Renewed from the
service's event loop alone, that proof depends on the loop being on time: on a starved
machine (two cores, a load average of 10) a worker serving hundreds of conversations runs
its loop seconds late, the renewal comes too late, the worker drops its accounts and takes
them again, and restarting their bots (sign-in, resync, the messages in doubt) makes its
loop later still: the leases went round in circles and callers waited more than a minute.

The renewer sends the renewal (:meth:`LeaseBook.heartbeat`: the worker seen, its leases
extended) every ``heartbeat`` from a thread with its own event loop and its own
connection, so a late loop does not make a late renewal. It only ever *extends* what the
coordinator may rely on, through ``renewed(sent, leases)`` (called in the renewer's
thread): the database's answer for each lease still the worker's, with the moment the
renewal was sent. Everything else (a lease lost, balancing, the log) stays with the
coordinator's own rounds on the service's loop, which then only *read* the leases: a round
renewing too would keep the worker's rows locked for as long as its loop is late in the
middle of the round's transaction, and the renewer would wait behind it (it did, in the
first version of this).
Nothing about safety changes: a renewal proves the lease by the database's clock, whichever
thread sent it, and a frozen process (``SIGSTOP``, a frozen machine) freezes this thread
too.

A loop that is not merely late but stuck (it has not run for ``stalled``) must not keep
its accounts from the other workers forever: the renewer then stops renewing, the leases
expire and another worker takes the accounts over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from ucwa_flow.store import StoreError, open_store
from ucwa_flow.store.leases import Lease, LeaseBook, WorkerInfo

__all__ = ["Renewer"]

log = logging.getLogger("ucwa_flow.service")


class Renewer:
    """Renews ``worker``'s leases in the store at ``target`` every ``heartbeat`` for ``ttl``
    (module docstring), while ``alive()`` (seconds since the service's loop last ran) stays
    under ``stalled``; ``monotonic`` is the coordinator's clock."""

    def __init__(
        self,
        target: str,
        worker: WorkerInfo,
        *,
        ttl: float,
        heartbeat: float,
        stalled: float,
        monotonic: Callable[[], float],
        alive: Callable[[], float],
        renewed: Callable[[float, list[Lease]], None],
    ) -> None:
        self._target, self._worker = target, worker
        self._ttl, self._heartbeat, self._stalled = ttl, heartbeat, stalled
        self._monotonic, self._alive, self._renewed = monotonic, alive, renewed
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._halt = threading.Event()

    def start(self) -> None:
        self._halt.clear()
        self._loop = self._stopping = None
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(),), name="leases: renewer", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether its thread runs (the coordinator's rounds renew themselves otherwise)."""
        return self._thread is not None and self._thread.is_alive()

    async def stop(self) -> None:
        """Stop renewing (a renewal under way finishes first)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._halt.set()  # seen within a heartbeat if its loop is not up yet; else at once:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # its loop has ended already
                loop.call_soon_threadsafe(stopping.set)
        await asyncio.to_thread(thread.join)

    async def _main(self) -> None:
        stopping = asyncio.Event()
        self._loop, self._stopping = asyncio.get_running_loop(), stopping
        book: LeaseBook | None = None
        try:
            while not (stopping.is_set() or self._halt.is_set()):
                if book is None:
                    with contextlib.suppress(StoreError):  # the coordinator's rounds say so
                        book = LeaseBook(await open_store(self._target))
                if book is not None and self._alive() < self._stalled:
                    await self._renew(book)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self._heartbeat)
        finally:
            if book is not None:
                with contextlib.suppress(StoreError):
                    await book.store.aclose()

    async def _renew(self, book: LeaseBook) -> None:
        sent = self._monotonic()
        try:
            leases = await book.heartbeat(self._worker, self._ttl)
        except StoreError:
            return  # the coordinator's own round sees it too, and logs it
        except Exception:  # a bug: say so, and let the next renewal try again
            log.exception("worker %s: renewing its leases failed", self._worker.id)
            return
        self._renewed(sent, leases)

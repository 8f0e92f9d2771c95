"""Prometheus metrics of a ucwa-flow process: one :class:`Metrics` per process.

:class:`Metrics` owns a ``prometheus_client`` :class:`~prometheus_client.CollectorRegistry`
of its own (not the library's global one, so tests can build several) and is fed three
ways, none of which makes the runtime depend on this package:

* **traces**: ``engine sink = metrics.sink(account, flow_of)`` turns the runtime's trace
  records into messages in/out, handled steps, step latency (caller message -> first reply),
  conversations started/ended, invitations by decision (``busy``: shed over the limits),
  webhook calls, latency and failures, and flow errors (:mod:`ucwa_flow.observe._traces`);
* **the store**: ``store = metrics.timed_store(store)`` times each store operation;
* **scrape time**: ``metrics.track(account, source)`` reads the live conversations by
  flow and state and the event-channel counters (reconnects, resyncs, application
  re-creations) of each account when Prometheus scrapes (:mod:`ucwa_flow.observe._scrape`);
* **the process**: ``process_resident_memory_bytes``, ``process_open_fds`` and the rest of
  ``prometheus_client``'s process collector, read from ``/proc`` at each scrape;
* **the service** says which flow version each account serves (:meth:`Metrics.flow_version`)
  and counts reloads (:meth:`Metrics.reloaded`).

:meth:`Metrics.exposition` renders everything in Prometheus's text format for ``/metrics``.
The families, their labels and buckets are listed in :mod:`ucwa_flow.observe._families`
and in the production guide.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from ucwa_flow.observe._families import Families
from ucwa_flow.observe._scrape import AccountSource, ScrapeCollector
from ucwa_flow.observe._timed_store import TimedStore
from ucwa_flow.observe._traces import TraceMetrics
from ucwa_flow.runtime.trace import TraceSink
from ucwa_flow.store import Store

__all__ = ["CONTENT_TYPE", "AccountSource", "Metrics"]

#: the text format every Prometheus version reads (prometheus_client's newest default,
#: version=1.0.0, is refused by servers before Prometheus 3); the body is the same
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Every metric of one process, on :attr:`registry` (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # the process's memory, file descriptors, CPU and start time (``process_*``, read
        # from /proc at each scrape; none on a system without it): what shows a leak
        ProcessCollector(registry=self.registry)
        self.families = Families(self.registry)
        self._scrape = ScrapeCollector()
        self.registry.register(self._scrape)
        self._digests: dict[tuple[str, str], str] = {}

    def sink(self, account: str, flow_of: Callable[[str], str | None]) -> TraceSink:
        """A trace sink feeding the metrics of ``account``.

        ``flow_of(conversation)`` names the flow (catalog name) a conversation runs, or
        ``None`` if unknown (then counted under ``flow="unknown"``). Give the engine this
        sink (or call it from the sink it has) for every trace record.
        """
        return TraceMetrics(self.families, account, flow_of)

    def timed_store(self, store: Store) -> Store:
        """``store``, with the time of every operation in ``ucwa_flow_store_latency_seconds``."""
        return TimedStore(store, self.families)

    def track(self, account: str, source: AccountSource) -> None:
        """Read ``source`` at every scrape: live conversations and event-channel counters
        of ``account``. Tracking an account again replaces its source; the channel counters
        stay monotonic across sources and channels."""
        self._scrape.track(account, source)

    def flow_version(self, account: str, flow: str, digest: str) -> None:
        """``account`` now serves new conversations of ``flow`` with version ``digest``
        (``ucwa_flow_flow_version_info``: the series of the version before goes away)."""
        old = self._digests.get((account, flow))
        if old == digest:
            return
        if old is not None:
            self.families.flow_version.remove(account, flow, old)
        self._digests[account, flow] = digest
        self.families.flow_version.labels(account, flow, digest).set(1)

    def reloaded(self, ok: bool) -> None:
        """Count a reload asked for (``ok`` false when a flow file was refused or an engine
        could not take a new version; true also when no flow changed)."""
        self.families.reloads.labels("ok" if ok else "refused").inc()

    def leases(self, owned: int, event: str | None = None) -> None:
        """This worker now holds ``owned`` account leases, after ``event`` (``takeover``,
        ``acquired``, ``handover``, ``lost``) if one happened."""
        self.families.accounts_owned.set(owned)
        if event is not None:
            self.families.leases.labels(event).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The body of ``/metrics`` and its content type (Prometheus text format 0.0.4).

        Reads the tracked sources: call it on the event loop's thread.
        """
        return generate_latest(self.registry), CONTENT_TYPE

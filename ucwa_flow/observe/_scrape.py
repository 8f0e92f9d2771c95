"""Families read at scrape time: live conversations and event-channel counters.

:class:`ScrapeCollector` is a custom ``prometheus_client`` collector over the accounts that
:meth:`~ucwa_flow.observe.metrics.Metrics.track` registered. At each scrape it asks every
account's source for its live conversations (a gauge per flow and state) and whether it
serves (signed in with a live event channel), and reads its event channel's
:class:`~ucwa_flow.ucwa.ChannelStats`.

Channel counters stay monotonic across restarts of an account: when a source hands out a
new stats object (the bot signed in again, with a new event channel), the totals of the old
one are kept as a base and the new one counts on from there. A source that fails while
being read is left out of that scrape (and logged); the others are still exported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ucwa_flow.observe._families import ACTIVE, CHANNEL, READY, VERSIONS
from ucwa_flow.ucwa import ChannelStats

__all__ = ["AccountSource", "ScrapeCollector"]

log = logging.getLogger("ucwa_flow.observe")


class AccountSource(Protocol):
    """What the metrics read from one account when Prometheus scrapes.

    ``active()`` counts the account's live conversations by ``(flow name, state)``,
    ``versions()`` by ``(flow name, version)`` (after a reload, some may still run the
    version they started with); ``channel`` is its current event channel's counters
    (``None`` while it has none, e.g. before it signed in). All are read on the event
    loop's thread. ``ready()`` is whether the account serves: signed in with its event
    channel live (as ``/readyz`` says), ``None`` when this process does not run it (a
    worker's account held by another worker).
    """

    def active(self) -> Mapping[tuple[str, str], int]: ...

    def ready(self) -> bool | None: ...

    def versions(self) -> Mapping[tuple[str, str], int]: ...

    @property
    def channel(self) -> ChannelStats | None: ...


@dataclass
class _Tracked:
    source: AccountSource
    stats: ChannelStats | None = None  # the stats object read last time
    base: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNEL, 0))

    def channel_totals(self) -> dict[str, int]:
        current = self.source.channel
        if current is not self.stats:
            if self.stats is not None:  # a new channel: keep what the old one counted
                for name in CHANNEL:
                    self.base[name] += getattr(self.stats, name)
            self.stats = current
        return {
            name: self.base[name] + (getattr(current, name) if current is not None else 0)
            for name in CHANNEL
        }


class ScrapeCollector:
    """The scrape-time families of every tracked account (see the module docstring)."""

    def __init__(self) -> None:
        self._accounts: dict[str, _Tracked] = {}

    def track(self, account: str, source: AccountSource) -> None:
        """Read ``source`` for ``account`` from now on (replacing an earlier source of the
        same account; its channel counters carry on from where they were)."""
        tracked = self._accounts.get(account)
        if tracked is None:
            self._accounts[account] = _Tracked(source)
        else:
            tracked.source = source

    def describe(self) -> Iterator[Metric]:
        active, versions, ready, channel = self._families()
        yield active
        yield versions
        yield ready
        yield from channel

    def collect(self) -> Iterator[Metric]:
        active, versions, ready, channel = self._families()
        for account, tracked in list(self._accounts.items()):
            try:
                counts = dict(tracked.source.active())
                running = dict(tracked.source.versions())
                serving = tracked.source.ready()
                totals = tracked.channel_totals()
            except Exception:  # one broken source must not cost the whole scrape
                log.warning("metrics: cannot read account %s", account, exc_info=True)
                continue
            for (flow, state), count in sorted(counts.items()):
                active.add_metric([account, flow, state], count)
            for (flow, version), count in sorted(running.items()):
                versions.add_metric([account, flow, version], count)
            if serving is not None:
                ready.add_metric([account], 1 if serving else 0)
            for name, family in zip(CHANNEL, channel, strict=True):
                family.add_metric([account], totals[name])
        yield active
        yield versions
        yield ready
        yield from channel

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, list[CounterMetricFamily]
    ]:
        active = GaugeMetricFamily(*ACTIVE, labels=["account", "flow", "state"])
        versions = GaugeMetricFamily(*VERSIONS, labels=["account", "flow", "version"])
        ready = GaugeMetricFamily(*READY, labels=["account"])
        channel = [
            CounterMetricFamily(name, doc, labels=["account"]) for name, doc in CHANNEL.values()
        ]
        return active, versions, ready, channel

"""What an event channel has been through: plain counters, read by the metrics.

:class:`ChannelStats` is owned by one :class:`~ucwa_flow.ucwa.EventChannel` (its ``stats``)
and only ever incremented by it. Nothing here depends on a metrics library: whoever wants
the numbers (``ucwa_flow.observe.metrics`` at scrape time, a test) reads the attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChannelStats"]


@dataclass(slots=True)
class ChannelStats:
    """Counters of one event channel, from its creation on (they only grow)."""

    #: P-GETs sent again after a failed one (network error, 5xx/429, refused body or
    #: token, 409 PGetReplaced)
    reconnects: int = 0
    #: ``resync`` answers followed (the server forgot where the channel was)
    resyncs: int = 0
    #: applications re-created after ``404``/``410`` (the old one's conversations are gone)
    recreations: int = 0
    #: event batches handed on to the consumer
    batches: int = 0

"""What an event channel has been through: plain counters, read by the metrics and
readiness.

:class:`ChannelStats` is owned by one :class:`~ucwa_flow.ucwa.EventChannel` (its ``stats``)
and only ever incremented by it. Nothing here depends on a metrics library: whoever wants
the numbers (``ucwa_flow.observe.metrics`` at scrape time, a test) reads the attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChannelStats"]


@dataclass(slots=True)
class ChannelStats:
    """Counters of one event channel, from its creation on (they only grow), and how many
    of its requests in a row have failed (``failing``, back to 0 after an answer)."""

    #: P-GETs sent again after a failed one (network error, 5xx/429, refused body or
    #: token, 409 PGetReplaced)
    reconnects: int = 0
    #: ``resync`` answers followed (the server forgot where the channel was)
    resyncs: int = 0
    #: applications re-created after ``404``/``410`` (the old one's conversations are gone)
    recreations: int = 0
    #: event batches handed on to the consumer
    batches: int = 0
    #: P-GETs in a row that failed before the one under way (0: the last one was answered)
    failing: int = 0

    def polling(self, failed_in_a_row: int) -> None:
        """A P-GET is about to be sent, after ``failed_in_a_row`` failed ones."""
        if failed_in_a_row:
            self.reconnects += 1
        self.failing = failed_in_a_row

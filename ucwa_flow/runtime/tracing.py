"""Who takes an engine's trace records: its sink, and a durable bot's journal.

:class:`Traced` is the part of the :class:`~ucwa_flow.runtime.engine.Engine` that hands
trace records on. :attr:`Traced.tracing` and :attr:`Traced.traced` are plain attributes,
kept up to date when the sink or the journal is set: a conversation reads them several
times per message, and a property read is a call each time.
"""

from __future__ import annotations

from collections.abc import Container

from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.journal import SHOWN, Journal

__all__ = ["Traced"]


class Traced:
    """The trace side of an engine: ``sink`` receives every record, a ``journal`` (set by
    a durable bot) those it keeps."""

    def __init__(self, sink: t.TraceSink | None) -> None:
        self._sink = sink
        self._journal: Journal | None = None
        #: whether anyone receives trace records (none are built otherwise)
        self.tracing = sink is not None
        #: the kinds of trace record anyone takes: every kind for a sink, else those a
        #: journal keeps (:data:`~ucwa_flow.runtime.journal.SHOWN`); an instance builds
        #: no record of another kind
        self.traced: Container[type] = ()
        self._takers()

    @property
    def sink(self) -> t.TraceSink | None:
        """What receives every trace record (``None``: nothing does)."""
        return self._sink

    @sink.setter
    def sink(self, sink: t.TraceSink | None) -> None:
        self._sink = sink
        self._takers()

    @property
    def journal(self) -> Journal | None:
        """Set by a durable bot: what is decided waits there for its commit."""
        return self._journal

    @journal.setter
    def journal(self, journal: Journal | None) -> None:
        self._journal = journal
        self._takers()

    def _takers(self) -> None:
        """:attr:`tracing` and :attr:`traced` for the sink and journal set now."""
        sink, journal = self._sink, self._journal
        self.tracing = sink is not None or journal is not None
        self.traced = t.EVERY if sink is not None else (() if journal is None else SHOWN)

    def emit(self, record: t.Trace) -> None:
        if self._journal is not None:
            self._journal.trace(record)
        if self._sink is not None:
            self._sink(record)

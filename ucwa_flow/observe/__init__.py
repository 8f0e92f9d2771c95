"""Observability of a running service: Prometheus metrics and structured, redacted logs.

* :mod:`ucwa_flow.observe.metrics`: :class:`~ucwa_flow.observe.metrics.Metrics`, fed by the
  runtime's trace records, a timed store and scrape-time sources (live conversations, event
  channel counters);
* :mod:`ucwa_flow.observe.logs`: :func:`~ucwa_flow.observe.logs.configure_logging` (text or
  JSON lines) and :func:`~ucwa_flow.observe.logs.add_secret`.

Nothing in the runtime imports this package: the service wires it in from outside.
"""

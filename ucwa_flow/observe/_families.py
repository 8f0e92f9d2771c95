"""The metric families ucwa-flow exports, on one registry (names, labels, buckets).

Every name starts with ``ucwa_flow_``; counters end in ``_total`` and durations in
``_seconds``, as Prometheus expects. Label values are bounded: account ids, flow and state
names, and small fixed vocabularies (``direction``, ``kind``, ``result``...), never a caller
URI or a conversation id. The families fed at scrape time (live conversations, event
channel counters) are built by :mod:`ucwa_flow.observe._scrape`; their names are here.
"""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Families"]

P = "ucwa_flow_"

#: scrape-time families (see ``_scrape``): name -> help
ACTIVE = (P + "conversations_active", "Live conversations, by account, flow and state.")
VERSIONS = (
    P + "conversations_by_version",
    "Live conversations by the flow version (the first 12 hex digits of its digest) they run.",
)
READY = (
    P + "account_ready",
    "1 while the account is signed in with a live event channel (as /readyz says), else 0.",
)
CHANNEL = {
    "reconnects": (
        P + "channel_reconnects",
        "Event-channel P-GETs sent again after a failure (network, 5xx, refused body).",
    ),
    "resyncs": (P + "channel_resyncs", "Event-channel resyncs the server asked for."),
    "recreations": (
        P + "application_recreations",
        "UCWA applications re-created after the server dropped them (404/410).",
    ),
    "batches": (P + "channel_batches", "Event batches read from the event channel."),
}

_STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_WEBHOOK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Families:
    """The counters and histograms fed as things happen (traces, store calls)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(P + name, doc, labels, registry=registry)

        def histogram(name: str, doc: str, buckets: tuple[float, ...], *labels: str) -> Histogram:
            return Histogram(P + name, doc, labels, registry=registry, buckets=buckets)

        self.messages = counter(
            "messages_total",
            "Instant messages, direction=in from callers, out from the bot.",
            "account",
            "flow",
            "direction",
        )
        self.steps = counter(
            "steps_total",
            "Steps handled: kind=matched (a handler), no_match, timeout.",
            "account",
            "flow",
            "state",
            "kind",
        )
        self.step_latency = histogram(
            "step_latency_seconds",
            "From a caller's message to the first reply to it the server took.",
            _STEP_BUCKETS,
            "account",
            "flow",
        )
        self.started = counter(
            "conversations_started_total",
            "Conversations that entered their flow's first state.",
            "account",
            "flow",
        )
        self.ended = counter(
            "conversations_ended_total",
            "Conversations that ended, by=caller|bot|server.",
            "account",
            "flow",
            "by",
        )
        self.invitations = counter(
            "invitations_total",
            "Incoming invitations by decision=accept|decline|busy (busy: shed, over the limits).",
            "account",
            "decision",
        )
        self.webhook_latency = histogram(
            "webhook_latency_seconds",
            "From a webhook call's start to its outcome (success or failure).",
            _WEBHOOK_BUCKETS,
            "account",
            "flow",
        )
        self.webhooks = counter(
            "webhook_calls_total",
            "Webhook calls by result=success|failure.",
            "account",
            "flow",
            "result",
        )
        self.errors = counter(
            "errors_total",
            "Errors by kind=flow (a run-time flow error) or webhook (a webhook that failed).",
            "account",
            "flow",
            "kind",
        )
        self.store_latency = histogram(
            "store_latency_seconds",
            "Time of each conversation-store operation (one transaction each).",
            _STORE_BUCKETS,
            "operation",
        )
        self.store_errors = counter(
            "store_errors_total",
            "Conversation-store operations that failed, by operation and error class.",
            "operation",
            "error",
        )
        self.flow_version = Gauge(
            P + "flow_version_info",
            "The flow version (digest) an account serves new conversations with: always 1.",
            ["account", "flow", "digest"],
            registry=registry,
        )
        self.reloads = counter(
            "reloads_total",
            "Reloads asked for (SIGHUP, POST /reload, a watched file changed): the flow files "
            "are checked again, the deployment file is not. result=refused when a flow file had "
            "errors or an engine could not take its new version (that flow keeps its running "
            "version; others may have been taken), else ok (also when no flow changed).",
            "result",
        )
        self.accounts_owned = Gauge(
            P + "accounts_owned",
            "Accounts whose lease this worker holds (several workers on one PostgreSQL store).",
            registry=registry,
        )
        self.frozen_objects = Gauge(
            P + "heap_frozen_objects",
            "Objects moved out of the garbage collector's way once the process started "
            "(gc.freeze); 0 until then.",
            registry=registry,
        )
        self.frozen_objects.set_function(gc.get_freeze_count)
        self.leases = counter(
            "leases_total",
            "Account leases changing hands at this worker: event=takeover (taken from a worker "
            "whose lease expired), acquired (a free lease), handover (given up gracefully), "
            "lost (expired or fenced while held).",
            "event",
        )

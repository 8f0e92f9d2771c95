"""Metrics from crafted trace records: what each record counts, latencies, memory."""

from __future__ import annotations

from ucwa_flow.flow import Location
from ucwa_flow.observe._traces import TraceMetrics
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.runtime import trace as t

from .scraped import Scraped

HERE = Location("helpdesk.flow.yaml", 3, 5)
A, B = "/conv/a", "/conv/b"
FLOWS = {A: "helpdesk", B: "vip"}


def _feed(metrics: Metrics, records: list[t.Trace], account: str = "desk") -> TraceMetrics:
    sink = metrics.sink(account, FLOWS.get)
    for record in records:
        sink(record)
    assert isinstance(sink, TraceMetrics)
    return sink


def _conversation(href: str, start: float) -> list[t.Trace]:
    """An invitation accepted, two caller messages answered, a miss, a timeout, an end."""
    at = start
    return [
        t.InvitationDecided(
            at=at, conversation=href, caller="sip:x@y", decision="accept", location=None
        ),
        t.StateEntered(at=at, conversation=href, state="menu", previous=None),
        t.MessageOut(at=at + 0.1, conversation=href, text="Hello", html=None),
        t.MessageIn(at=at + 1.0, conversation=href, text="1"),
        t.HandlerMatched(
            at=at + 1.0,
            conversation=href,
            state="menu",
            kind="choice",
            command=None,
            captures={},
            location=HERE,
        ),
        t.MessageOut(at=at + 1.1, conversation=href, text="Your id?", html=None),
        t.MessageSent(at=at + 1.25, conversation=href, ok=True),
        t.MessageOut(at=at + 1.2, conversation=href, text="(like E123456)", html=None),
        t.MessageSent(at=at + 1.5, conversation=href, ok=True),
        t.MessageIn(at=at + 2.0, conversation=href, text="what"),
        t.NoMatch(at=at + 2.0, conversation=href, state="ask_id", miss=1),
        t.MessageIn(at=at + 3.0, conversation=href, text="again"),  # replaces the one before
        t.NoMatch(at=at + 3.0, conversation=href, state="ask_id", miss=2),
        t.MessageOut(at=at + 3.1, conversation=href, text="Sorry?", html=None),
        t.MessageSent(at=at + 3.5, conversation=href, ok=True),
        t.TimeoutFired(at=at + 60, conversation=href, state="ask_id", after=60, location=HERE),
        t.Ended(at=at + 61, conversation=href, by="bot", state="ask_id"),
    ]


def test_messages_steps_latency_and_conversations_are_counted() -> None:
    metrics = Metrics()
    sink = _feed(metrics, [*_conversation(A, 0.0), *_conversation(B, 100.0)])
    m = Scraped.of(metrics)
    assert m.types["ucwa_flow_messages"] == "counter"
    assert m.value("ucwa_flow_messages_total", account="desk", flow="helpdesk", direction="in") == 3
    assert m.value("ucwa_flow_messages_total", account="desk", flow="vip", direction="out") == 4
    assert m.value("ucwa_flow_steps_total", flow="helpdesk", state="menu", kind="matched") == 1
    assert m.value("ucwa_flow_steps_total", flow="helpdesk", state="ask_id", kind="no_match") == 2
    assert m.value("ucwa_flow_steps_total", flow="vip", kind="timeout") == 1
    # one latency per answered message: 0.25 s (first reply only) and 0.5 s (from "again")
    assert m.value("ucwa_flow_step_latency_seconds_count", flow="helpdesk") == 2
    assert m.value("ucwa_flow_step_latency_seconds_sum", flow="helpdesk") == 0.75
    assert m.value("ucwa_flow_step_latency_seconds_bucket", flow="helpdesk", le="0.25") == 1
    assert m.value("ucwa_flow_step_latency_seconds_bucket", flow="helpdesk", le="0.5") == 2
    assert m.value("ucwa_flow_conversations_started_total", flow="vip") == 1
    assert m.value("ucwa_flow_conversations_ended_total", flow="helpdesk", by="bot") == 1
    assert m.value("ucwa_flow_invitations_total", account="desk", decision="accept") == 2
    assert sink.pending == 0


def test_invitations_by_decision_shed_included() -> None:
    metrics = Metrics()
    decided = [
        t.InvitationDecided(at=0, conversation=f"/c/{i}", caller=None, decision=d, location=None)
        for i, d in enumerate(["accept", "busy", "busy", "decline", "busy"])
    ]
    _feed(metrics, decided, account="hr")
    m = Scraped.of(metrics)
    assert [
        m.value("ucwa_flow_invitations_total", account="hr", decision=d)
        for d in ("accept", "decline", "busy")
    ] == [
        1,
        1,
        3,
    ]


def test_webhook_latency_failures_and_flow_errors() -> None:
    metrics = Metrics()

    def call(at: float, href: str) -> t.ActionDone:
        return t.ActionDone(
            at=at, conversation=href, action="webhook", location=HERE, detail="POST u"
        )

    def back(at: float, href: str, branch: str) -> t.OutcomeReceived:
        return t.OutcomeReceived(
            at=at, conversation=href, action="webhook", branch=branch, location=HERE
        )

    _feed(
        metrics,
        [
            call(0.0, A),
            call(0.5, B),
            back(0.2, A, "success"),
            back(3.5, B, "failure"),
            t.OutcomeReceived(
                at=4, conversation=A, action="invite", branch="declined", location=HERE
            ),
            t.FlowError(at=5, conversation=A, message="template failed", location=HERE),
            t.FlowError(at=5, conversation="outbound:sip:x@y", message="no", location=None),
        ],
    )
    m = Scraped.of(metrics)
    assert m.value("ucwa_flow_webhook_calls_total", flow="helpdesk", result="success") == 1
    assert m.value("ucwa_flow_webhook_calls_total", flow="vip", result="failure") == 1
    assert m.value("ucwa_flow_webhook_latency_seconds_count") == 2
    assert m.value("ucwa_flow_webhook_latency_seconds_sum") == 3.2
    assert m.value("ucwa_flow_webhook_latency_seconds_bucket", flow="vip", le="2.5") == 0
    assert m.value("ucwa_flow_errors_total", flow="vip", kind="webhook") == 1
    assert m.value("ucwa_flow_errors_total", flow="helpdesk", kind="flow") == 1
    assert m.value("ucwa_flow_errors_total", flow="unknown", kind="flow") == 1


def test_what_is_pending_for_a_conversation_goes_with_its_end() -> None:
    metrics = Metrics()
    sink = _feed(
        metrics,
        [
            t.MessageIn(at=0, conversation=A, text="hi"),
            t.ActionDone(at=0, conversation=B, action="webhook", location=HERE),
        ],
    )
    assert sink.pending == 2
    sink(t.Ended(at=1, conversation=A, by="caller", state="menu"))
    sink(t.Ended(at=1, conversation=B, by="server", state=None))
    assert sink.pending == 0
    # the reply to A's last message ("Bye!") is sent after the end: it still counts, once
    sink(t.MessageSent(at=2, conversation=A, ok=True))
    sink(t.MessageSent(at=3, conversation=A, ok=True))
    assert Scraped.of(metrics).value("ucwa_flow_step_latency_seconds_count") == 1
    assert Scraped.of(metrics).value("ucwa_flow_step_latency_seconds_sum") == 2


def test_pending_starts_are_bounded_when_ends_never_come() -> None:
    metrics = Metrics()
    sink = TraceMetrics(metrics.families, "desk", FLOWS.get, max_pending=3)
    for i in range(10):
        sink(t.MessageIn(at=i, conversation=f"/c/{i}", text="hi"))
        sink(t.ActionDone(at=i, conversation=f"/c/{i}", action="webhook", location=HERE))
    assert sink.pending == 3
    sink(t.MessageSent(at=20, conversation="/c/9", ok=True))  # the newest are kept
    assert Scraped.of(metrics).value("ucwa_flow_step_latency_seconds_sum") == 11


def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    _feed(first, [t.MessageIn(at=0, conversation=A, text="hi")])
    assert Scraped.of(first).value("ucwa_flow_messages_total") == 1
    assert Scraped.of(second).value("ucwa_flow_messages_total") == 0


def test_the_flow_of_a_conversation_is_kept_past_the_engine_forgetting_it() -> None:
    """The engine drops a conversation before its Ended record and its ``ended`` handler's
    actions (a webhook may come back later): the sink remembers the flow it was told."""
    metrics = Metrics()
    live = {A: "helpdesk"}
    sink = metrics.sink("desk", live.get)
    sink(t.MessageIn(at=0, conversation=A, text="hi"))
    del live[A]  # the caller hung up: the engine forgets the conversation, then ends it
    sink(t.Ended(at=1, conversation=A, by="caller", state="menu"))
    sink(t.ActionDone(at=1, conversation=A, action="webhook", location=HERE))
    sink(t.OutcomeReceived(at=2, conversation=A, action="webhook", branch="success", location=HERE))
    m = Scraped.of(metrics)
    assert m.value("ucwa_flow_conversations_ended_total", flow="helpdesk", by="caller") == 1
    assert m.value("ucwa_flow_webhook_calls_total", flow="helpdesk", result="success") == 1
    assert m.value("ucwa_flow_webhook_latency_seconds_sum", flow="helpdesk") == 1
    assert m.value("ucwa_flow_webhook_calls_total", flow="unknown") == 0
    assert sink.pending == 0  # type: ignore[attr-defined]


def test_a_message_relayed_to_an_agent_is_no_step() -> None:
    metrics = Metrics()
    _feed(
        metrics,
        [
            t.MessageIn(at=1.0, conversation=A, text="my screen is black"),
            t.BridgeEvent(at=1.0, conversation=A, event="relay", agent="sip:ann@x", by="caller"),
            t.MessageSent(at=90.0, conversation=A, ok=True),  # the agent's answer, relayed
        ],
    )
    m = Scraped.of(metrics)
    assert m.value("ucwa_flow_messages_total", account="desk", flow="helpdesk", direction="in") == 1
    assert m.value("ucwa_flow_step_latency_seconds_count", flow="helpdesk") == 0

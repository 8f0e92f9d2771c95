"""Metrics of a real durable bot run: simulator over loopback, real callers, SQLite store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from tests.e2e.harness import LENE, Stage, load, stage
from tests.runtime.flows_for_routing import desk
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.runtime import Limits
from ucwa_flow.runtime import trace as t
from ucwa_flow.store import ConversationQuery, open_store
from ucwa_flow.ucwa import ChannelStats

from .scraped import Scraped

MARCO = "sip:marco@contoso.com"


class Live:
    """The account source a service gives the metrics: its engine and event channel."""

    def __init__(self, s: Stage) -> None:
        self.s = s

    def active(self) -> Mapping[tuple[str, str], int]:
        instances = self.s.bot.engine.instances.values()
        return Counter((i.flow.name, i.state) for i in instances if not i.ended)

    def versions(self) -> Mapping[tuple[str, str], int]:
        instances = self.s.bot.engine.instances.values()
        return Counter((i.flow.name, i.flow.digest[:12]) for i in instances if not i.ended)

    @property
    def channel(self) -> ChannelStats | None:
        channel = self.s.bot._channel
        return channel.stats if channel is not None else None

    def ready(self) -> bool | None:
        return True

    def flow_of(self, href: str) -> str | None:
        instance = self.s.bot.engine.instances.get(href)
        return instance.flow.name if instance is not None else None


def _listen(s: Stage, metrics: Metrics, live: Live) -> None:
    """Feed the engine's traces to the metrics as they happen, as a service does."""
    sink = metrics.sink("tosh", live.flow_of)

    def both(record: t.Trace) -> None:
        s.traces.append(record)
        sink(record)

    s.bot.engine.sink = both


async def test_a_run_is_counted_from_its_traces_store_and_channel(tmp_path: Path) -> None:
    metrics = Metrics()
    store = metrics.timed_store(await open_store(str(tmp_path / "bot.sqlite3")))
    async with store, stage(load("echo"), store=store) as s:
        live = Live(s)
        metrics.track("tosh", live)
        _listen(s, metrics, live)
        lene, marco = await s.person(LENE), await s.person(MARCO)
        await lene.say("hi")
        await marco.say("hello")
        assert len(await lene.hear(2)) == 2
        assert len(await marco.hear(2)) == 2
        await lene.say("again")
        assert await lene.hear() == ["You said: again"]
        await s.idle()
        now = Scraped.of(metrics)
        assert (
            now.value("ucwa_flow_conversations_active", account="tosh", flow="echo", state="echo")
            == 2
        )
        await lene.say("bye")  # the bot ends this one
        assert await lene.hear() == ["Bye!"]
        await lene.hear_end()
        await marco.caller.hang_up()  # and the caller this one
        await s.until(lambda: not s.bot.engine.instances, "both conversations to end")
        m = Scraped.of(metrics)
    assert m.value("ucwa_flow_conversations_active") == 0
    assert m.value("ucwa_flow_messages_total", account="tosh", flow="echo", direction="in") == 4
    assert m.value("ucwa_flow_messages_total", flow="echo", direction="out") == 6
    assert m.value("ucwa_flow_steps_total", flow="echo", state="echo", kind="matched") == 4
    assert m.value("ucwa_flow_step_latency_seconds_count", flow="echo") == 4
    assert m.value("ucwa_flow_invitations_total", decision="accept") == 2
    assert m.value("ucwa_flow_conversations_started_total", flow="echo") == 2
    assert m.value("ucwa_flow_conversations_ended_total", flow="echo", by="bot") == 1
    assert m.value("ucwa_flow_conversations_ended_total", flow="echo", by="caller") == 1
    assert {labels["flow"] for _, labels, _ in m.samples if "flow" in labels} == {"echo"}
    assert m.value("ucwa_flow_channel_batches_total", account="tosh") > 0
    assert m.value("ucwa_flow_store_latency_seconds_count", operation="load") == 1
    assert m.value("ucwa_flow_store_latency_seconds_count", operation="commit") > 0


async def test_the_invitations_turned_away_in_the_store_are_those_the_metric_counts(
    tmp_path: Path,
) -> None:
    """A durable bot keeps one ended record per ``decline`` and ``busy`` that
    ``ucwa_flow_invitations_total`` counts: the flow's policy declines the guest, the
    account's limit (one conversation) sheds Marco."""
    policy = """
invitation:
  rules:
    - from: "sip:*@contoso.com"
      action: accept
  default: decline
  decline_message: Staff only.
"""
    metrics = Metrics()
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    limits = Limits(max_conversations=1)
    async with store, stage(desk("desk", "D", policy=policy), store=store, limits=limits) as s:
        live = Live(s)
        metrics.track("tosh", live)
        _listen(s, metrics, live)
        lene = await s.person(LENE)
        await lene.say("hi")
        assert await lene.hear() == ["D hello"]
        guest = await s.person("sip:guest@fabrikam.com")
        await guest.say("hello")
        assert await guest.hear() == ["Staff only."]
        marco = await s.person(MARCO)
        await marco.say("hello")
        assert await marco.hear() == [Limits().busy_message]
        await s.idle()
        m = Scraped.of(metrics)
        records = await store.conversations(ConversationQuery(status="ended"))
    turned_away = Counter(r.ended_reason for r in records)
    assert turned_away == {"declined": 1, "busy": 1}
    for decision, reason in (("decline", "declined"), ("busy", "busy")):
        assert m.value("ucwa_flow_invitations_total", decision=decision) == turned_away[reason]
    assert m.value("ucwa_flow_invitations_total", decision="accept") == 1
    assert {r.caller_uri for r in records} == {"sip:guest@fabrikam.com", MARCO}

"""Metrics of a real durable bot run: simulator over loopback, real caller, SQLite store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from tests.e2e.harness import Stage, load, stage
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.store import open_store
from ucwa_flow.ucwa import ChannelStats

from .scraped import Scraped


class Live:
    """The account source a service gives the metrics: its engine and event channel."""

    def __init__(self, s: Stage) -> None:
        self.s = s

    def active(self) -> Mapping[tuple[str, str], int]:
        instances = self.s.bot.engine.instances.values()
        return Counter((i.flow.name, i.state) for i in instances if not i.ended)

    @property
    def channel(self) -> ChannelStats | None:
        channel = self.s.bot._channel
        return channel.stats if channel is not None else None


async def test_a_run_is_counted_from_its_traces_store_and_channel(tmp_path: Path) -> None:
    metrics = Metrics()
    store = metrics.timed_store(await open_store(str(tmp_path / "bot.sqlite3")))
    async with store, stage(load("echo"), store=store) as s:
        metrics.track("tosh", Live(s))
        lene = await s.person()
        await lene.say("hi")
        assert len(await lene.hear(2)) == 2
        await lene.say("again")
        assert await lene.hear() == ["You said: again"]
        await s.idle()
        live = Scraped.of(metrics)
        assert (
            live.value("ucwa_flow_conversations_active", account="tosh", flow="echo", state="echo")
            == 1
        )
        await lene.say("bye")
        assert await lene.hear() == ["Bye!"]
        await lene.hear_end()
        await s.idle()
        sink = metrics.sink("tosh", lambda href: "echo")
        for record in s.traces:
            sink(record)
        m = Scraped.of(metrics)
    assert m.value("ucwa_flow_conversations_active") == 0
    assert m.value("ucwa_flow_messages_total", account="tosh", flow="echo", direction="in") == 3
    assert m.value("ucwa_flow_messages_total", direction="out") == 4
    assert m.value("ucwa_flow_steps_total", flow="echo", state="echo", kind="matched") == 3
    assert m.value("ucwa_flow_step_latency_seconds_count", flow="echo") == 3
    assert m.value("ucwa_flow_invitations_total", decision="accept") == 1
    assert m.value("ucwa_flow_conversations_started_total", flow="echo") == 1
    assert m.value("ucwa_flow_conversations_ended_total", flow="echo", by="bot") == 1
    assert m.value("ucwa_flow_channel_batches_total", account="tosh") > 0
    assert m.value("ucwa_flow_store_latency_seconds_count", operation="load") == 1
    assert m.value("ucwa_flow_store_latency_seconds_count", operation="commit") > 0
    assert sink.pending == 0  # type: ignore[attr-defined]

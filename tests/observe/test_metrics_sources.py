"""Scrape-time metrics (live conversations, event-channel counters) and the timed store."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import pytest

from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.store import Changes, Store, StoreUnavailable, open_store
from ucwa_flow.store._sql import Program
from ucwa_flow.ucwa import ChannelStats

from .scraped import Scraped

T = TypeVar("T")


class Source:
    def __init__(self, active: Mapping[tuple[str, str], int]) -> None:
        self.counts = dict(active)
        self.channel: ChannelStats | None = None
        self.broken = False
        self.serving: bool | None = True

    def active(self) -> Mapping[tuple[str, str], int]:
        if self.broken:
            raise RuntimeError("engine gone")
        return self.counts

    def versions(self) -> Mapping[tuple[str, str], int]:
        """Every flow at one version, "v1"."""
        totals: dict[tuple[str, str], int] = {}
        for (flow, _state), count in self.active().items():
            totals[flow, "v1"] = totals.get((flow, "v1"), 0) + count
        return totals

    def ready(self) -> bool | None:
        return self.serving


def test_live_conversations_by_account_flow_and_state() -> None:
    metrics = Metrics()
    desk = Source({("helpdesk", "menu"): 3, ("vip", "welcome"): 1})
    metrics.track("desk", desk)
    metrics.track("hr", Source({}))
    m = Scraped.of(metrics)
    assert m.types["ucwa_flow_conversations_active"] == "gauge"
    assert (
        m.value("ucwa_flow_conversations_active", account="desk", flow="helpdesk", state="menu")
        == 3
    )
    assert m.value("ucwa_flow_conversations_active", account="desk") == 4
    assert m.value("ucwa_flow_conversations_active", account="hr") == 0
    assert m.value("ucwa_flow_conversations_by_version", flow="helpdesk", version="v1") == 3
    desk.counts = {("helpdesk", "menu"): 1}  # read again at each scrape
    m = Scraped.of(metrics)
    assert m.labels("ucwa_flow_conversations_active") == [
        {"account": "desk", "flow": "helpdesk", "state": "menu"}
    ]


def test_channel_counters_stay_monotonic_across_new_channels_and_sources() -> None:
    metrics = Metrics()
    source = Source({})
    metrics.track("desk", source)
    m = Scraped.of(metrics)
    assert m.types["ucwa_flow_channel_reconnects"] == "counter"
    assert m.value("ucwa_flow_channel_reconnects_total", account="desk") == 0  # no channel yet
    source.channel = ChannelStats(reconnects=2, resyncs=1, recreations=1, batches=10)
    source.channel.reconnects += 1
    m = Scraped.of(metrics)
    assert m.value("ucwa_flow_channel_reconnects_total", account="desk") == 3
    assert m.value("ucwa_flow_channel_resyncs_total", account="desk") == 1
    assert m.value("ucwa_flow_application_recreations_total", account="desk") == 1
    assert m.value("ucwa_flow_channel_batches_total", account="desk") == 10
    source.channel.batches += 5  # counted on the old channel before it went away
    source.channel = ChannelStats(batches=1)  # the bot signed in again: a new channel
    assert Scraped.of(metrics).value("ucwa_flow_channel_batches_total") == 16
    restarted = Source({})  # the service tracks a new bot of the same account
    restarted.channel = ChannelStats(reconnects=1)
    metrics.track("desk", restarted)
    m = Scraped.of(metrics)
    assert m.value("ucwa_flow_channel_batches_total") == 16
    assert m.value("ucwa_flow_channel_reconnects_total") == 4


def test_a_broken_source_is_left_out_and_the_others_are_exported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    broken, fine = Source({("f", "s"): 1}), Source({("f", "s"): 2})
    broken.broken = True
    metrics.track("broken", broken)
    metrics.track("fine", fine)
    with caplog.at_level(logging.WARNING, logger="ucwa_flow.observe"):
        m = Scraped.of(metrics)
    assert m.value("ucwa_flow_conversations_active") == 2
    assert "metrics: cannot read account broken" in caplog.text


async def test_the_timed_store_times_each_operation(tmp_path: Path) -> None:
    metrics = Metrics()
    store = metrics.timed_store(await open_store(str(tmp_path / "bot.sqlite3")))
    assert isinstance(store, Store)
    assert store.backend == "sqlite"
    async with store:
        await store.load("desk")
        await store.commit("desk", Changes())
        await store.commit("desk", Changes())
        assert await store.conversations() == []
    m = Scraped.of(metrics)
    assert m.value("ucwa_flow_store_latency_seconds_count", operation="load") == 1
    assert m.value("ucwa_flow_store_latency_seconds_count", operation="commit") == 2
    assert m.value("ucwa_flow_store_latency_seconds_count", operation="conversations") == 1
    assert m.value("ucwa_flow_store_latency_seconds_sum", operation="commit") > 0


async def test_the_timed_store_keeps_the_small_commits_on_the_callers_thread(
    tmp_path: Path,
) -> None:
    """SQLite commits a small write at once on the caller's thread (``commit_now``); the
    wrapper must not take that away from a served bot, and times it as a commit."""
    metrics = Metrics()
    store = metrics.timed_store(await open_store(str(tmp_path / "bot.sqlite3")))
    async with store:
        await store.load("desk")
        assert store.commit_now("desk", Changes()) is not None
    m = Scraped.of(metrics)
    assert m.value("ucwa_flow_store_latency_seconds_count", operation="commit") == 1


class _Down(Store):
    backend = "postgres"

    async def _run(self, program: Program[T], *, write: bool, rows: int | None = None) -> T:
        program.close()
        raise StoreUnavailable("cannot reach the database")

    async def aclose(self) -> None:
        pass


async def test_a_failed_store_operation_is_counted_and_raised_unchanged() -> None:
    metrics = Metrics()
    store = metrics.timed_store(_Down("postgresql://db/x"))
    with pytest.raises(StoreUnavailable, match="cannot reach"):
        await store.load("desk")
    m = Scraped.of(metrics)
    assert m.value("ucwa_flow_store_errors_total", operation="load", error="StoreUnavailable") == 1
    assert m.value("ucwa_flow_store_latency_seconds_count", operation="load") == 1
    assert store.target == "postgresql://db/x"


def test_the_flow_version_served_and_reloads() -> None:
    metrics = Metrics()
    metrics.flow_version("desk", "helpdesk", "d1")
    metrics.flow_version("desk", "vip", "v1")
    metrics.flow_version("desk", "helpdesk", "d2")  # a reload swapped it
    metrics.flow_version("desk", "helpdesk", "d2")
    metrics.reloaded(True)
    metrics.reloaded(False)
    m = Scraped.of(metrics)
    assert sorted(m.labels("ucwa_flow_flow_version_info"), key=lambda labels: labels["flow"]) == [
        {"account": "desk", "flow": "helpdesk", "digest": "d2"},
        {"account": "desk", "flow": "vip", "digest": "v1"},
    ]
    assert m.value("ucwa_flow_flow_version_info", flow="helpdesk") == 1
    assert m.value("ucwa_flow_reloads_total", result="ok") == 1
    assert m.value("ucwa_flow_reloads_total", result="refused") == 1


def test_the_reloads_help_says_what_is_counted() -> None:
    """It said "reloads of the deployment and its flows": a reload never reads the
    deployment file again, counts ``ok`` when no flow changed, and ``refused`` also when an
    engine could not take a valid new version."""
    body, _ = Metrics().exposition()
    helps = [
        line
        for line in body.decode().splitlines()
        if line.startswith("# HELP ucwa_flow_reloads_total ")
    ]
    assert helps == [
        "# HELP ucwa_flow_reloads_total Reloads asked for (SIGHUP, POST /reload, a watched file "
        "changed): the flow files are checked again, the deployment file is not. "
        "result=refused when a flow file had errors or an engine could not take its new "
        "version (that flow keeps its running version; others may have been taken), else ok "
        "(also when no flow changed)."
    ]


def test_whether_each_account_serves() -> None:
    """A wrong password or an unreachable server showed nowhere in the metrics: no channel,
    so no reconnects either. An account another worker holds has no series here."""
    metrics = Metrics()
    desk, hr, elsewhere = Source({}), Source({}), Source({})
    hr.serving = False
    elsewhere.serving = None
    for account, source in (("desk", desk), ("hr", hr), ("elsewhere", elsewhere)):
        metrics.track(account, source)
    m = Scraped.of(metrics)
    assert m.types["ucwa_flow_account_ready"] == "gauge"
    assert [(s[1], s[2]) for s in m.samples if s[0] == "ucwa_flow_account_ready"] == [
        ({"account": "desk"}, 1.0),
        ({"account": "hr"}, 0.0),
    ]


def test_the_process_memory_and_file_descriptors_are_exposed() -> None:
    # a leak shows as these growing: a serve running for weeks needs them on /metrics
    m = Scraped.of(Metrics())
    assert m.types["process_resident_memory_bytes"] == "gauge"
    assert m.value("process_resident_memory_bytes") > 0
    assert m.value("process_open_fds") > 0
    assert "process_max_fds" in m.types

"""The bench's measuring window: late replies count, lost ones censor, nothing is NaN."""

from __future__ import annotations

import asyncio
import math
import os
import time

import pytest

from bench import load
from bench.window import Window, censored_quantile, summarise


def test_a_reply_after_the_window_still_gives_its_latency() -> None:
    window = Window(start=10.0)
    window.record(10.5, 10.75)  # inside
    window.record(13.0, 25.0)  # sent inside, replied long after the window (ends at 14)
    out = summarise(window, [10.0, 12.0, 14.0], [0.0, 0.125, 0.25])
    assert out["p50_ms"] == [250.0, 12_000.0]
    # a reply counts for throughput where it arrived: the late one in no slice
    assert out["messages_per_second"] == [0.5, 0.0]
    assert out["cpu_ms_per_message"] == [125.0, None]


def test_warm_up_messages_are_not_latency_samples_but_their_replies_count() -> None:
    window = Window(start=10.0)
    window.record(8.0, 9.0)  # all before the window: not kept
    window.record(9.0, 10.5)  # sent before, replied inside: a reply, no latency
    window.lost(9.5)  # lost before the window: not kept
    assert window.samples == [(9.0, 10.5)]
    out = summarise(window, [10.0, 11.0], [1.0, 1.5])
    assert out["p50_ms"] == [None]
    assert out["messages_per_second"] == [1.0]
    assert out["cpu_ms_per_message"] == [500.0]


def test_lost_replies_are_slower_than_every_answered_one() -> None:
    assert censored_quantile([1.0, 2.0, 3.0], 0, 0.5) == 2.0
    assert censored_quantile([1.0, 2.0, 3.0], 2, 0.5) == 3.0  # 1 2 [3] inf inf
    assert censored_quantile([1.0, 2.0, 3.0], 3, 0.5) is None  # 1 2 3 [inf] inf inf
    values = [float(i) for i in range(99)]
    assert censored_quantile(values, 1, 0.99) is None  # 1 in 100 lost: p99 unknown
    assert censored_quantile([*values, 99.0, 100.0], 1, 0.99) == pytest.approx(99.99)
    assert censored_quantile([], 0, 0.5) is None
    assert censored_quantile([4.0], 0, 0.99) == 4.0


def test_a_window_without_samples_gives_none_never_nan() -> None:
    out = summarise(Window(start=0.0), [0.0, 1.0, 2.0], [0.0, 0.0, 0.0])
    for key, values in out.items():
        assert all(v is None or math.isfinite(v) for v in values), key
    assert out["p99_ms"] == [None, None]
    assert out["cpu_ms_per_message"] == [None, None]


def test_a_slice_says_how_many_cores_other_processes_took_beside_it() -> None:
    window = Window(start=0.0)
    window.record(0.5, 0.75)
    # the others' CPU seconds at each bound: 0.25 s in the first 0.5 s slice, 1.5 s (both
    # cores) in the second, and a reading that went back (a process that ended) as none
    out = summarise(window, [0.0, 0.5, 1.25, 2.0], [0.0, 0.1, 0.2, 0.3], [3.0, 3.25, 4.75, 4.5])
    assert out["other_cores"] == [0.5, 2.0, 0.0]
    assert summarise(window, [0.0, 1.0], [0.0, 0.1])["other_cores"] == [None]  # not read
    with pytest.raises(ValueError, match="per bound"):
        summarise(window, [0.0, 1.0], [0.0, 0.1], [1.0])


def test_the_machines_busy_time_leaves_out_idle_waiting_and_guests() -> None:
    stat = "cpu  100 20 30 1000 500 4 6 40 7 3\ncpu0 50 10 15 500 250 2 3 20 4 1\nintr 1 2\n"
    # user + nice + system + irq + softirq + steal: guest and guest_nice are in user and nice
    assert load.busy_seconds(stat, 100) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="cpu line"):
        load.busy_seconds("intr 1 2\n", 100)


def test_the_bench_reads_the_other_processes_cpu_of_this_machine() -> None:
    assert math.isfinite(load.other_cpu_seconds(os.getpid()))


class SlowPerson:
    """Stands in for a caller: every reply comes ``delay`` seconds after the message."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.sent_at = 0.0
        self.asked: list[float] = []

    async def ask(self, token: str, timeout: float) -> tuple[float, float]:  # noqa: ASYNC109
        self.sent_at = sent = time.perf_counter()
        self.asked.append(sent)
        await asyncio.sleep(self.delay)
        return sent, time.perf_counter()


async def test_the_closed_loop_waits_for_and_records_the_replies_due_at_its_end() -> None:
    person = SlowPerson(1.2)
    timing = load.Timing(warmup=0.0, window=2.0, slices=2, reply_timeout=10.0)
    window, bounds, cpu, others = await load.closed_loop([person], os.getpid(), timing, 1)  # type: ignore[list-item]
    inside = [t for t in person.asked if bounds[0] <= t < bounds[-1]]
    assert inside, "no message sent inside the window"
    recorded = {sent for sent, replied in window.samples if replied is not None}
    assert set(inside) <= recorded  # every message sent inside has its latency
    assert any(replied is not None and replied >= bounds[-1] for _, replied in window.samples)
    assert len(cpu) == len(bounds) == len(others) == 3

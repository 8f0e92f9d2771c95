"""The injected clocks: ManualClock fires timers in order and wakes sleepers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ucwa_flow.clock import Clock, ManualClock, SystemClock, ticks_before


async def test_manual_clock_fires_due_timers_in_order_at_their_own_instant() -> None:
    clock = ManualClock()
    fired: list[tuple[str, float]] = []
    clock.call_later(5, lambda: fired.append(("b", clock.monotonic())))
    clock.call_later(1, lambda: fired.append(("a", clock.monotonic())))
    clock.call_later(30, lambda: fired.append(("late", clock.monotonic())))

    await clock.advance(10)

    assert fired == [("a", 1.0), ("b", 5.0)]
    assert clock.monotonic() == 10.0
    assert clock.pending == 1


async def test_manual_clock_cancelled_timer_never_fires() -> None:
    clock = ManualClock()
    fired: list[int] = []
    handle = clock.call_later(1, fired.append, 1)
    handle.cancel()
    await clock.advance(2)
    assert fired == []


async def test_manual_clock_sleep_wakes_only_when_advanced_past_its_deadline() -> None:
    clock = ManualClock()
    task = asyncio.create_task(clock.sleep(60))
    await clock.advance(59)
    assert not task.done()
    await clock.advance(1)
    assert task.done()


async def test_manual_clock_chained_reactions_settle_within_one_advance() -> None:
    clock = ManualClock()
    seen: list[float] = []

    async def nudge_then_stop() -> None:
        await clock.sleep(120)
        seen.append(clock.monotonic())
        await clock.sleep(180)
        seen.append(clock.monotonic())

    task = asyncio.create_task(nudge_then_stop())
    await clock.advance(600)
    assert seen == [120.0, 300.0]
    assert task.done()


def test_manual_clock_wall_time_moves_with_monotonic_time() -> None:
    start = datetime(2026, 3, 2, 17, 59, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.now() == start
    asyncio.run(clock.advance(120))
    assert clock.now() == start + timedelta(minutes=2)


def test_manual_clock_rejects_naive_start_and_going_backwards() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="backwards"):
        asyncio.run(ManualClock().advance(-1))


async def test_system_clock_is_a_clock_and_really_waits() -> None:
    clock = SystemClock()
    assert isinstance(clock, Clock)
    assert isinstance(ManualClock(), Clock)
    done = asyncio.Event()
    t0 = clock.monotonic()
    clock.call_later(0.01, done.set)
    await asyncio.wait_for(done.wait(), 1)
    await clock.sleep(0.01)
    assert clock.monotonic() - t0 >= 0.02
    assert clock.now().tzinfo is not None


async def test_manual_clock_drops_cancelled_timers_and_counts_pending() -> None:
    clock = ManualClock()
    fired: list[int] = []
    keep = clock.call_later(10, fired.append, 1)
    for _ in range(1000):
        clock.call_later(5, fired.append, 0).cancel()
    assert clock.pending == 1
    assert len(clock._timers) < 200  # cancelled timers do not pile up
    await clock.advance(10)
    assert fired == [1]
    keep.cancel()  # cancelling a timer that already fired changes nothing
    assert clock.pending == 0


def test_manual_clock_step_fires_one_due_timer_at_a_time_at_its_own_instant() -> None:
    clock = ManualClock()
    fired: list[tuple[str, float]] = []
    clock.call_later(5, lambda: fired.append(("b", clock.monotonic())))
    clock.call_later(2, lambda: fired.append(("a", clock.monotonic())))
    clock.call_later(3, lambda: None).cancel()
    clock.call_later(9, lambda: fired.append(("late", clock.monotonic())))
    assert clock.step(6)
    assert fired == [("a", 2.0)]
    assert clock.step(6)
    assert fired == [("a", 2.0), ("b", 5.0)]
    assert not clock.step(6)  # the cancelled one is skipped, the late one not due
    assert clock.monotonic() == 6.0
    assert clock.pending == 1


async def test_manual_clock_reschedules_chosen_timers_and_tells_the_next_due_without_them() -> None:
    clock = ManualClock()
    fired: list[tuple[str, float]] = []
    upkeep = clock.call_later(2, lambda: fired.append(("upkeep", clock.monotonic())))
    firm = clock.call_later(7, lambda: fired.append(("firm", clock.monotonic())))
    gone = clock.call_later(1, lambda: fired.append(("gone", clock.monotonic())))
    gone.cancel()

    assert clock.next_due() == 2.0
    assert clock.next_due(excluding={upkeep}) == 7.0
    assert (clock.due_of(upkeep), clock.due_of(firm), clock.due_of(gone)) == (2.0, 7.0, None)
    clock.reschedule({upkeep: 9.0, gone: 3.0})

    assert clock.due_times == [7.0, 9.0]
    assert clock.due_of(upkeep) == 9.0
    await clock.advance(10)
    assert fired == [("firm", 7.0), ("upkeep", 9.0)]
    assert clock.next_due() is None
    assert clock.due_of(upkeep) is None  # fired


def test_ticks_before_counts_the_instants_of_a_period_before_an_end() -> None:
    assert ticks_before(120.0, 120.0, 1000.0) == 8  # 120 ... 960
    assert ticks_before(120.0, 120.0, 960.0) == 7  # 960 is not before 960
    assert ticks_before(120.0, 120.0, 120.0) == 0
    # counted as a timer moved by whole periods lands, however the division rounds:
    # (0.4 - 0.1) / 0.1 is 3.0000000000000004, but 0.1 + 3 * 0.1 is 0.4, not before it;
    # (1.0 - 0.1) / 0.3 is 3.0, but 0.1 + 3 * 0.3 is 0.9999999999999999, before 1.0
    assert ticks_before(0.1, 0.1, 0.4) == 3
    assert ticks_before(0.1, 0.3, 1.0) == 4

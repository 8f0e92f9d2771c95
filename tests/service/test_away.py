"""How long a worker keeps away after refusals of its stores (``service/_away.py``): what
counts as refusals in a row, and when the count starts over. A clock moved by the test."""

from __future__ import annotations

from ucwa_flow.service import Backoff
from ucwa_flow.service._away import Away

WEEK = 7 * 86400.0


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _away(clock: _Clock) -> Away:
    """A lease of 10 s; 10 s after the first refusal, doubling up to 300 s, no spread."""
    return Away(10.0, clock, Backoff(first=10.0, cap=300.0, jitter=0.0))


def test_isolated_refusals_a_week_apart_each_keep_away_for_the_first_time() -> None:
    """Each account refused once, another worker serving it from then on: the count never
    started over, and refusals a week apart went 10, 20, 40 ... 300 s."""
    clock = _Clock()
    away = _away(clock)
    seconds = []
    for account in ["x", "y", "z", "u", "v", "w"]:
        seconds.append(away.refuse(account, "store too new"))
        clock.now += WEEK
    assert seconds == [10.0] * 6


def test_accounts_refused_together_count_once() -> None:
    """Eight accounts refused in the same round counted as eight in a row: the first
    trouble sent the worker away for the five minutes of the cap."""
    clock = _Clock()
    away = _away(clock)
    first = away.refuse("a0", "e")
    clock.now += 0.5
    rest = [away.refuse(f"a{i}", "e") for i in range(1, 8)]
    assert first == 10.0
    assert rest == [9.5] * 7  # the rest of the same time away
    assert away.until() == 1010.0
    assert sorted(away.kept()) == [f"a{i}" for i in range(8)]
    clock.now = 1010.0
    assert away.kept() == {}
    assert away.until() is None


def test_a_refusal_soon_after_a_time_away_doubles_and_a_quiet_one_starts_over() -> None:
    clock = _Clock()
    away = _away(clock)
    assert away.refuse("a", "e") == 10.0
    clock.now += 11  # back, took it, refused again: in a row
    assert away.refuse("a", "e") == 20.0
    clock.now += 21
    assert away.refuse("b", "e") == 40.0  # another account, still in a row
    clock.now += 40 + 40  # as long again as it was away, without a refusal
    assert away.refuse("a", "e") == 10.0


def test_the_refused_account_served_here_again_starts_the_count_over() -> None:
    clock = _Clock()
    away = _away(clock)
    away.refuse("a", "e")
    clock.now += 11
    assert away.refuse("a", "e") == 20.0
    clock.now += 21
    away.served("a")
    assert away.refused == {}
    assert away.refuse("a", "e") == 10.0

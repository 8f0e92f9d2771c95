"""What a worker kept away must write in the store and whom it forgives, decided by
:class:`~ucwa_flow.service._away.Away` as data (the coordinator writes what it decides).
A clock moved by the test."""

from __future__ import annotations

from tests.service.test_away import _away, _Clock
from ucwa_flow.service._away import Mark


def test_the_mark_follows_the_time_away_and_is_due_again_until_written() -> None:
    clock = _Clock()
    away = _away(clock)
    assert away.mark_due() is None  # never away: nothing to write
    away.refuse("hr", "store too new")
    clock.now += 4.0
    due = away.mark_due()
    assert due == Mark(1010.0, 6.0)  # the rest of the time away
    assert away.mark_due() == due  # not written (the write failed): due again
    away.marked(due)
    assert away.mark_due() is None
    clock.now = 1010.0  # over: the mark is cleared
    assert away.mark_due() == Mark(None, None)
    away.marked(Mark(None, None))
    assert away.mark_due() is None


def test_a_lease_given_up_wrote_the_mark_unless_a_refusal_moved_the_end_since() -> None:
    clock = _Clock()
    away = _away(clock)
    away.refuse("hr", "e")
    sent = away.until()
    away.given_up(sent)
    assert away.mark_due() is None
    clock.now = 1015.0  # a refusal in a row after that time away: a longer one
    away.refuse("hr", "e")
    before = away.until()
    away.refuse("it", "e")  # the same time away: its end does not move
    away.given_up(before)
    assert away.mark_due() is None
    stale = away.until()
    assert stale is not None
    clock.now = stale + 1.0  # over, and refused again: the end moves after the give-up began
    away.refuse("hr", "e")
    moved = away.until()
    assert moved is not None
    assert moved > stale
    due = away.mark_due()
    assert due is not None
    assert due.until == moved
    away.marked(due)  # a round wrote the new end
    away.given_up(stale)  # then a give-up sent before the refusal ends: the old end
    assert away.mark_due() is None  # it did not undo the round's mark
    clock.now = 1050.0 + moved  # over
    later = away.until()
    assert later is None
    away.given_up(later)  # nothing away when sent: writes no mark
    assert away.mark_due() == Mark(None, None)


def test_an_account_served_again_is_forgotten_and_one_whose_time_is_over_is_named() -> None:
    clock = _Clock()
    away = _away(clock)
    away.refuse("hr", "e")
    away.refuse("it", "e")
    assert away.forgive(served=[], held=[]) == []  # still away
    clock.now = 1010.0
    assert away.forgive(served=["hr"], held=[]) == ["it"]
    assert set(away.refused) == {"it"}
    assert away.forgive(served=[], held=["it"]) == []  # held here again: not named

"""The steps the live board keeps, bounded per conversation and in all: :class:`Steps`.

A conversation keeps its last ``max_steps`` steps (the oldest go first, one at a time: a
list's ``del steps[0]`` moves at most ``max_steps`` pointers). All conversations together
keep at most ``budget`` steps: past it, the conversations ``order()`` gives (ended ones
first, then active ones, the oldest first) lose steps, an ended one all of them and an
active one the older half of its own, down to 90% of the budget, so that this happens once
in many steps, not at each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ucwa_flow.live._entry import Entry

__all__ = ["Steps"]


class Steps:
    """Appends steps to entries, within the bounds (see the module docstring)."""

    def __init__(self, max_steps: int, budget: int, order: Callable[[], Iterable[Entry]]) -> None:
        self._max = max_steps
        self._budget = budget
        self._order = order
        self.kept = 0  # steps kept in all

    def add(
        self,
        entry: Entry,
        at: float,
        kind: str,
        text: str | None = None,
        line: int | None = None,
        previous: str | None = None,
        machine: str | None = None,
    ) -> None:
        """Append a step of ``kind`` to ``entry`` (in its current state)."""
        steps = entry.steps
        steps.append((at, kind, entry.state, previous, text, line, machine))
        if len(steps) > self._max:
            del steps[0]
        else:
            self.kept += 1
            if self.kept > self._budget:
                self._shrink()

    def forget(self, entry: Entry) -> None:
        """``entry`` is dropped: its steps no longer count."""
        self.kept -= len(entry.steps)
        entry.steps.clear()

    def _shrink(self) -> None:
        target = self._budget * 9 // 10
        for entry in self._order():
            if self.kept <= target:
                return
            drop = len(entry.steps) if entry.ended is not None else len(entry.steps) // 2
            del entry.steps[:drop]
            self.kept -= drop

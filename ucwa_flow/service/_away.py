"""How long a worker keeps away from the accounts after a store it cannot open: :class:`Away`.

An account's bot whose store a worker cannot open, and trying again would not mend (the
server refuses the URL for good, a store migrated by a newer ucwa-flow: a non-retryable
:class:`~ucwa_flow.store.StoreError`), stops with one error line. Kept, its lease would
keep the account from every other worker for good, its runner trying the store again for
ever; so the worker gives the lease up at once (its coordinator,
:mod:`~ucwa_flow.service._coordinator`) and takes no account for a while: a lease after
the first refusal, doubling with each one in a row up to :data:`AWAY_CAP` (or ten leases,
if longer), spread by a fifth either way so that workers failing together do not come
back together.

**In a row.** What doubles is the *time away*, not the refusals: every refusal that comes
while the worker is away already (several accounts refused in the same round, a store
that every account shares) joins that time away, ending with it, and counts once; it was
counted once each, and eight accounts refused together sent the worker away for the five
minutes of the cap at its first trouble. A refusal after the time away ended is in a row
with it when it comes within as long again as that time away lasted: a worker that comes
back, takes the account, and is refused again doubles; one that then goes as long as it
was away without a refusal starts over (it was never reset but by the refused account
being served here again, which may never happen when another worker serves it: refusals a
week apart grew to five minutes each). Quiet time, not another account's store opening,
is what resets it: a worker taking a good account between two refusals of a bad one would
start over each time, and every worker would pass the bad one round once a lease. The
count also starts over once an account it had to give up is served here again.

When every worker fails on an account, each tries it once per time away, not once per
heartbeat, and no worker holds it in between: they do not pass it round at full speed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ucwa_flow.service._backoff import Backoff

__all__ = ["AWAY_CAP", "AWAY_FIRST", "Away", "Refusal"]

#: leases kept away after the first refusal (doubling with each in a row)
AWAY_FIRST = 1.0
#: seconds kept away at most (ten leases, if longer)
AWAY_CAP = 300.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """An account whose store this worker could not open for good."""

    until: float  # on the worker's monotonic clock: no account is taken before
    error: str  # the runner's one line


class Away:
    """The refusals of a worker whose leases last ``ttl`` seconds, on its ``monotonic``
    clock; ``backoff`` (by default from :data:`AWAY_FIRST` and :data:`AWAY_CAP`) is how
    long each refusal in a row keeps it away, a lease at least."""

    def __init__(
        self, ttl: float, monotonic: Callable[[], float], backoff: Backoff | None = None
    ) -> None:
        self._ttl = ttl
        self._monotonic = monotonic
        cap = max(AWAY_CAP, 10 * ttl)
        self._backoff = backoff or Backoff(first=AWAY_FIRST * ttl, cap=cap)
        #: the accounts (ids) given up, each with its last refusal
        self.refused: dict[str, Refusal] = {}
        self._in_a_row = 0
        #: when the last time away ends (or ended), and how long it was
        self._ends = -math.inf
        self._length = 0.0

    def refuse(self, account: str, error: str) -> float:
        """``account``'s store was refused (``error``): the seconds to keep away (the rest
        of the time away under way, if one is; see the module docstring)."""
        now = self._monotonic()
        if now < self._ends:  # the same time away: it counts once
            self.refused[account] = Refusal(self._ends, error)
            return self._ends - now
        if now >= self._ends + self._length:  # as long again without a refusal
            self._in_a_row = 0
        self._in_a_row += 1
        seconds = max(self._ttl, self._backoff.delay(self._in_a_row))
        self._ends, self._length = now + seconds, seconds
        self.refused[account] = Refusal(self._ends, error)
        return seconds

    def until(self) -> float | None:
        """When the time away under way ends (on the monotonic clock), ``None`` if none is."""
        now = self._monotonic()
        ends = [r.until for r in self.refused.values() if r.until > now]
        return max(ends) if ends else None

    def kept(self) -> dict[str, str]:
        """The accounts kept away from now, each with its error."""
        now = self._monotonic()
        return {account: r.error for account, r in self.refused.items() if r.until > now}

    def kept_for(self) -> dict[str, tuple[str, float]]:
        """The accounts kept away from now, each with its error and the seconds left."""
        now = self._monotonic()
        return {a: (r.error, r.until - now) for a, r in self.refused.items() if r.until > now}

    def over(self) -> list[str]:
        """The accounts given up whose time away is over."""
        now = self._monotonic()
        return [account for account, r in self.refused.items() if r.until <= now]

    def served(self, account: str) -> None:
        """``account`` is served here again: forgotten, and the count starts over."""
        if self.refused.pop(account, None) is not None:
            self._in_a_row = 0

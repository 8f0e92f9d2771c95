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

**The store's mark.** The worker is marked away in the store for as long as it keeps away
(:meth:`LeaseBook.give_up <ucwa_flow.store.leases.LeaseBook.give_up>` writes it with the
lease it gives up, :meth:`LeaseBook.mark_away
<ucwa_flow.store.leases.LeaseBook.mark_away>` at a round): the others leave it out of
their fair shares, and one whose store opens takes the account, even at its share.
:class:`Away` decides, as data, what the mark must become (:meth:`Away.mark_due`: a
:class:`Mark`, or nothing to write); the coordinator writes it and says so
(:meth:`Away.marked`, :meth:`Away.given_up`). It is written when a time away starts (with
the lease given up; at the next round when the lease was lost or being handed over
meanwhile, or that write failed: the others counted the worker in their fair shares, and
an account it freed could wait for the time away under way), cleared when it ends or ends
early (the others left a worker that served again out of their shares until the mark
expired). Only a worker kept away writes anything.

**Forgiven.** An account served here again is forgotten (and so are the refusals in a
row); one whose time away is over, and that the worker does not hold, is no longer
reported as stopped here (:meth:`Away.forgive` names them; the coordinator tells their
runners).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass

from ucwa_flow.service._backoff import Backoff

__all__ = ["AWAY_CAP", "AWAY_FIRST", "Away", "Mark", "Refusal"]

#: leases kept away after the first refusal (doubling with each in a row)
AWAY_FIRST = 1.0
#: seconds kept away at most (ten leases, if longer)
AWAY_CAP = 300.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """An account whose store this worker could not open for good."""

    until: float  # on the worker's monotonic clock: no account is taken before
    error: str  # the runner's one line


@dataclass(frozen=True, slots=True)
class Mark:
    """What the store's mark of the worker's time away must become: away for ``seconds``
    more (``None``: cleared), ending at ``until`` on the worker's monotonic clock."""

    until: float | None
    seconds: float | None


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
        #: the end of the time away the store's mark was last written for (``None``: no
        #: mark, or cleared)
        self._marked: float | None = None

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

    def forgive(self, served: Collection[str], held: Collection[str]) -> list[str]:
        """The accounts of ``served`` (held here, not being handed over, signed in) are
        forgotten (:meth:`served`); returns those given up whose time away is over and
        that are not in ``held``: no longer this worker's to report as stopped."""
        for account in list(self.refused):
            if account in served:
                self.served(account)
        return [account for account in self.over() if account not in held]

    def mark_due(self) -> Mark | None:
        """What the store's mark must become now; ``None`` when it says so already."""
        until = self.until()
        if until == self._marked:
            return None
        return Mark(until, None if until is None else max(0.0, until - self._monotonic()))

    def marked(self, mark: Mark) -> None:
        """``mark`` was written in the store."""
        self._marked = mark.until

    def given_up(self, until: float | None) -> None:
        """A lease was given up in the store with the time away that ended at ``until``
        when it was sent (:meth:`until`): that wrote the mark, unless a refusal since moved
        the end of the time away."""
        if until is not None and self.until() == until:
            self._marked = until

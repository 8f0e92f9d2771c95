"""How long a worker keeps away from the accounts after a store it cannot open: :class:`Away`.

An account's bot whose store a worker cannot open, and trying again would not mend (the
server refuses the URL for good, a store migrated by a newer ucwa-flow: a non-retryable
:class:`~ucwa_flow.store.StoreError`), stops with one error line. Kept, its lease would
keep the account from every other worker for good, its runner trying the store again for
ever; so the worker gives the lease up at once (its coordinator,
:mod:`~ucwa_flow.service._coordinator`) and takes no account for a while: a lease after
the first refusal, doubling with each one in a row up to :data:`AWAY_CAP` (or ten leases,
if longer), spread by a fifth either way so that workers failing together do not come
back together. Once an account it had to give up is served here again, the count starts
over.

When every worker fails on an account, each tries it once per time away, not once per
heartbeat, and no worker holds it in between: they do not pass it round at full speed.
"""

from __future__ import annotations

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

    def refuse(self, account: str, error: str) -> float:
        """``account``'s store was refused (``error``): the seconds to keep away."""
        self._in_a_row += 1
        seconds = max(self._ttl, self._backoff.delay(self._in_a_row))
        self.refused[account] = Refusal(self._monotonic() + seconds, error)
        return seconds

    def kept(self) -> dict[str, str]:
        """The accounts kept away from now, each with its error."""
        now = self._monotonic()
        return {account: r.error for account, r in self.refused.items() if r.until > now}

    def over(self) -> list[str]:
        """The accounts given up whose time away is over."""
        now = self._monotonic()
        return [account for account, r in self.refused.items() if r.until <= now]

    def served(self, account: str) -> None:
        """``account`` is served here again: forgotten, and the count starts over."""
        if self.refused.pop(account, None) is not None:
            self._in_a_row = 0

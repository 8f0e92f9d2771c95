"""What a worker saw of the store and of the accounts it does not serve, for ``/readyz``:
:class:`Sight`.

The coordinator tells it what happens (a heartbeat that could not reach the store, the
leases as the store showed them, a lease lost or taken); :mod:`._readiness` reads it.
Times are wall-clock (``time.time()``): they are shown, never compared with a lease.
"""

from __future__ import annotations

import time

from ucwa_flow.store.leases import Lease

__all__ = ["Sight"]


class Sight:
    """See the module docstring."""

    def __init__(self) -> None:
        #: since when the store cannot be reached, and why (``None``: it answers)
        self.unreachable: tuple[float, str] | None = None
        #: the accounts (ids) whose lease this worker lost, each with why and when
        self.lost: dict[str, tuple[str, float]] = {}
        #: every lease as the store last showed it (by user), and when
        self.leases: tuple[dict[str, Lease], float] | None = None

    def cut_off(self, error: str) -> None:
        """A heartbeat could not reach the store (the first of a row sets the time)."""
        if self.unreachable is None:
            self.unreachable = (time.time(), error)

    def reached(self) -> None:
        """The store answers again."""
        self.unreachable = None

    def saw(self, leases: list[Lease]) -> list[Lease]:
        """The store showed every lease: ``leases``, returned."""
        self.leases = ({lease.account: lease for lease in leases}, time.time())
        return leases

    def lost_lease(self, account: str, why: str) -> None:
        self.lost[account] = (why, time.time())

    def took(self, account: str) -> None:
        self.lost.pop(account, None)

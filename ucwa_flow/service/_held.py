"""The leases a worker holds, and until when each is provably valid: :class:`Holding`.

**Validity.** A lease is relied on only while it is provably valid on the worker's own
monotonic clock (:func:`uptime`): until (the moment the last successful renewal was
*sent*) + lease - ``margin``; the database set a later expiry than that. The
coordinator's guard task checks it between heartbeats (:meth:`Holding.lapsed`): when
PostgreSQL is unreachable or a renewal comes back without the lease, the account's store
writes are revoked at once (:meth:`AccountRunner.revoke
<ucwa_flow.service._account.AccountRunner.revoke>`: nothing more is committed) and its
bot stops. A write the database fences (the account moved while this worker was paused)
stops the bot the same way, without a retry loop. The renewer's answers, from its own
thread, only ever extend a lease (:meth:`Holding.extend`): losing one is for the rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Held", "Holding", "uptime"]


def uptime() -> float:
    """Seconds on a clock that never goes back and, on Linux, goes on while the machine
    (or virtual machine) is suspended: a lease expires meanwhile too."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.monotonic()


@dataclass
class Held:
    """A lease this worker holds."""

    token: int
    valid_until: float  # on the worker's monotonic clock
    leaving: bool = False  # being handed over


class Holding(dict[str, Held]):
    """The accounts (ids) a worker holds, each with its lease: a renewal sent at ``sent``
    (on the ``monotonic`` clock) of a lease of ``ttl`` seconds proves it valid until
    ``sent + ttl - margin`` (see the module docstring)."""

    def __init__(self, ttl: float, margin: float, monotonic: Callable[[], float]) -> None:
        super().__init__()
        self._ttl, self._margin, self._monotonic = ttl, margin, monotonic

    def valid_after(self, sent: float) -> float:
        """Until when a renewal (or an acquire) sent at ``sent`` proves a lease valid."""
        return sent + self._ttl - self._margin

    def extend(self, renewed: Iterable[tuple[str | None, int]], sent: float) -> None:
        """The renewer's answer (in its thread), as ``(account id or None, token)``: each
        lease still held with the same token is valid for longer; never shortened."""
        until = self.valid_after(sent)
        for account, token in renewed:
            held = self.get(account) if account is not None else None
            if held is not None and held.token == token and until > held.valid_until:
                held.valid_until = until

    def validity(self, account: str) -> Callable[[], bool]:
        """Whether ``account``'s lease is held and provably valid, now (asked before every
        request to the UCWA server)."""

        def valid() -> bool:
            held = self.get(account)
            return held is not None and self._monotonic() < held.valid_until

        return valid

    def lapsed(self, now: float) -> list[str]:
        """The accounts whose lease is no longer provably valid at ``now``."""
        return [account for account, held in list(self.items()) if now >= held.valid_until]

"""Telling readers that something changed, without polling: :class:`Signal`.

The writer calls :meth:`Signal.bump` (a counter incremented; the futures of the readers
waiting, if any, resolved); a reader awaits :meth:`Signal.past` with the number it last
saw. A reader that goes away (its task cancelled) takes its future with it.
"""

from __future__ import annotations

import asyncio

__all__ = ["Signal"]


class Signal:
    """A change counter that readers can wait on."""

    def __init__(self) -> None:
        self.seq = 0
        self._waiters: set[asyncio.Future[None]] = set()

    def bump(self) -> None:
        self.seq += 1
        if self._waiters:
            waiters, self._waiters = self._waiters, set()
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def past(self, seen: int) -> None:
        """Return once :attr:`seq` is not ``seen`` any more."""
        if self.seq != seen:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)

    @property
    def waiting(self) -> int:
        """Readers waiting now."""
        return len(self._waiters)

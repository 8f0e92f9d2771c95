"""Background work that waits its turn behind the conversations under way.

A bot that sheds a flood of invitations (:mod:`ucwa_flow.runtime.answering`) has real work
to do for each of them: accept, say the busy message, leave, three requests, each of which
also costs the bot CPU (building the request, the connection pool's bookkeeping, decoding
the events it causes). Done as fast as possible, that work competes with the replies of the
callers already talking, on one event loop, and the replies wait.

:class:`Turns` keeps such work behind them:

* at most ``at_once`` jobs run at a time (:meth:`Turns.slot`): few requests in flight, so
  the connection pool stays small and the replies find a free connection;
* before each of its requests a job waits its turn (:meth:`Turns.turn`): until nothing
  is pending for the conversations under way (``pending``: steps queued or running,
  decisions waiting for their commit, requests queued or in flight), re-checked when
  :meth:`Turns.nudge` says a step or a send is over;
* the wait is bounded (``at_most`` seconds per request): a bot kept busy without a pause
  still sheds, only more slowly, so that every shed caller hears its answer.

The bound is real time (the event loop's), not the engine's clock: it is a scheduling
matter, like the order of the ready callbacks, and no flow's timing depends on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["Turns"]

#: how often a waiting job looks again without being nudged (seconds)
_LOOK_AGAIN = 0.05


class Turns:
    """Slots and turns of background work (see the module docstring)."""

    def __init__(self, pending: Callable[[], bool], *, at_once: int, at_most: float) -> None:
        self._pending = pending
        self._at_once = at_once
        self._at_most = at_most
        self._slots: asyncio.Semaphore | None = None
        self._quiet: asyncio.Event | None = None
        #: jobs waiting for their turn now (read only outside: none, no need to nudge)
        self.waiting = 0
        self._checking = False
        #: requests that went without waiting for a pause, the bound having passed
        self.overdue = 0

    def slot(self) -> asyncio.Semaphore:
        """``async with turns.slot():`` one job of at most ``at_once`` at a time."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._at_once)
        return self._slots

    async def turn(self) -> None:
        """Return once nothing is pending for the conversations under way, or after
        ``at_most`` seconds."""
        if not self._pending():
            return
        if self._quiet is None:
            self._quiet = asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._at_most
        self.waiting += 1
        try:
            while self._pending():
                left = deadline - loop.time()
                if left <= 0:
                    self.overdue += 1
                    return
                self._quiet.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), min(left, _LOOK_AGAIN))
        finally:
            self.waiting -= 1

    def nudge(self) -> None:
        """A step or a send is over: waiting jobs look again (once the step's own
        bookkeeping is done, hence on the next round of the event loop)."""
        if self.waiting and not self._checking:
            self._checking = True
            asyncio.get_running_loop().call_soon(self._check)

    def _check(self) -> None:
        self._checking = False
        if self._quiet is not None and not self._pending():
            self._quiet.set()

"""Virtual time that moves only when the stage is quiet, so no test depends on machine speed.

A test whose flow, bot and callers need minutes of protocol time (back-offs, P-GET holds,
people thinking) cannot move the :class:`~ucwa_flow.clock.ManualClock` in fixed steps
against real progress: on a busy machine the clock would run ahead of the work, and a token
issued a moment ago in real terms would be "a minute old", an invitation "unanswered". A
:class:`Pacer` moves the clock to its next due timer only when the stage is quiet:

* the simulator works on no request: every request it has is a P-GET it holds or an answer
  it slows on the clock (``sim.requests_in_progress == sim.requests_waiting``);
* every request the bot, the callers and the agents have out is one of those (the sum of
  their clients' ``in_flight``), so no byte is on its way through the loopback;
* no wait registered with :meth:`Pacer.until` is about to end (its condition holds and the
  waiting task has not seen it yet), so time never passes under a caller about to act;
* none of that, nor the bot's trace or business, has changed for :data:`Pacer.QUIET_TURNS`
  turns of the event loop: every task that can run has run (turns, not real time).

Then no virtual time passes while anyone works, however slow the machine. Real time only
bounds waits that end when a test fails (``WAIT``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.e2e.harness import Stage
from tests.guards import WAIT
from ucwa_flow.simulator import VirtualUser

__all__ = ["Pacer"]


class Pacer:
    """Moves ``stage``'s clock whenever it is quiet (see the module docstring).

    Run :meth:`run` as a task for as long as time should move; wait with :meth:`until`.
    """

    QUIET_TURNS = 20
    LOOK_AGAIN = 0.001  # real seconds between looks at a busy stage: how soon, never whether

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.steps = 0  # times the clock was moved
        self._waits: set[Callable[[], bool]] = set()

    def in_flight(self) -> int:
        """Requests the bot, the callers and the agents have sent and not seen answered."""
        s = self.stage
        clients = [s.bot.client, *(p.caller.client for p in s.people)]
        clients += [a.client for a in s.agents]
        return sum(client.in_flight for client in clients)

    def quiet(self) -> bool:
        sim = self.stage.sim
        parked = sim.requests_waiting
        if not sim.requests_in_progress == parked == self.in_flight():
            return False
        return not any(ready() for ready in self._waits)

    def state(self) -> str:
        """One line for a failure message: the clock and what is in flight."""
        sim, bot = self.stage.sim, self.stage.bot
        return (
            f"at {self.stage.clock.monotonic():.1f} s virtual: the server has "
            f"{sim.requests_in_progress} requests ({sim.requests_waiting} waiting), the "
            f"clients {self.in_flight()} out; the bot's engine is "
            f"{'busy' if bot.engine.busy else 'idle'}"
        )

    async def run(self) -> None:
        """Forever: wait until the stage is quiet, then move the clock to its next timer."""
        clock = self.stage.clock
        while True:
            await self._settle()
            due = clock.due_times
            await clock.advance(max(0.0, due[0] - clock.monotonic()) if due else 1.0)
            self.steps += 1

    async def until(
        self, ready: Callable[[], bool], what: str, vu: VirtualUser | None = None
    ) -> None:
        """Wait (``WAIT`` real seconds at most) until ``ready()``; time stands still from
        when it holds until this wait has seen it. With ``vu``, look again at each change of
        that virtual user; else every 20 ms."""
        self._waits.add(ready)
        try:
            if vu is not None:
                try:
                    await vu.wait_until(ready, WAIT, what)
                except TimeoutError:
                    raise AssertionError(f"timed out waiting for {what}; {self.state()}") from None
                return
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT
            while not ready():
                assert loop.time() < deadline, f"timed out waiting for {what}; {self.state()}"
                await asyncio.sleep(0.02)
        finally:
            self._waits.discard(ready)

    async def _settle(self) -> None:
        last: tuple[int, ...] | None = None
        turns = 0
        while turns < self.QUIET_TURNS:
            mark = self._mark()
            if mark == last and self.quiet():
                turns += 1
                await asyncio.sleep(0)
            else:
                turns = 0
                await asyncio.sleep(self.LOOK_AGAIN)
            last = mark

    def _mark(self) -> tuple[int, ...]:
        s = self.stage
        return (
            len(s.traces),
            self.in_flight(),
            s.sim.requests_in_progress,
            s.sim.requests_waiting,
            int(s.bot.engine.busy),
        )

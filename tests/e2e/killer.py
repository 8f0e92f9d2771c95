"""The killing itself: when to kill the bot's process, and restarting it each time.

:class:`Killer` goes through a schedule of kinds (shuffled by a seeded generator). Each kill
waits until the new process has signed in (its first event-channel GET); ``random`` and
``timer`` kills also wait until it has committed a batch (its second GET), so that the run
moves on however slow a restart is next to the random delays. Kinds:

* ``random``: after a random delay;
* ``timer``: as soon as some caller's silence timer is armed;
* the :class:`~tests.e2e.killing.Trigger` kinds (``send-answered``, ``send-in-flight``,
  ``batch-answered``, ``invite-answered``): at the ``n``-th such request of the new process,
  ``n`` drawn from 1 to :data:`LIMITS`. A trigger not reached within a few seconds kills at
  that moment instead (recorded as ``random (<kind> not reached)``).

:func:`answer_invitations` plays the agent the flow invites: it accepts an invitation only
once a kill has happened since it started ringing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from tests.e2e.killing import BotProcess, Trigger, Watch
from tests.guards import WAIT
from ucwa_flow.simulator import VirtualUser

__all__ = ["LIMITS", "Kill", "Killer", "answer_invitations", "until"]

#: a trigger kills at the n-th request of its kind, n drawn from 1 to this
LIMITS = {"send-answered": 40, "send-in-flight": 40, "batch-answered": 3, "invite-answered": 3}


@dataclass
class Kill:
    """One kill: why, and what was in flight at that moment."""

    why: str
    timers: int
    tickets: int
    ringing: int


class Killer:
    """Kills and restarts the bot, once per kind in ``schedule`` (shuffled by ``seed``).

    ``armed()`` says how many callers' silence timers are armed, ``tickets_held()`` how many
    ticket answers wait for a kill; ``agent`` answers the bot's invitations. ``bot`` and
    ``watch`` are set once the servers are up.
    """

    def __init__(
        self, schedule: list[str], armed: Callable[[], int], agent: VirtualUser, seed: int
    ) -> None:
        self.schedule = schedule
        self.armed = armed
        self.agent = agent
        self.rng = random.Random(seed)
        self.kills: list[Kill] = []
        self.restarts: list[float] = []  # seconds from a start to the sign-in (shown only)
        self.done = asyncio.Event()
        self.bot: BotProcess | None = None
        self.watch: Watch | None = None
        self.tickets_held: Callable[[], int] = lambda: 0
        self._dead: asyncio.Event | None = None
        self._reaper: asyncio.Task[None] | None = None

    def kill(self, why: str) -> asyncio.Event:
        """Kill the running process now; the event is set once it is gone."""
        assert self.bot is not None
        if self._dead is not None:  # a trigger and a fallback at once
            return self._dead
        if self.bot.current is None:  # the answer to a process killed already
            gone = asyncio.Event()
            gone.set()
            return gone
        self.bot.kill()
        ringing = sum(1 for state in self.agent.states.values() if state == "ringing")
        timers = self.armed()
        self.kills.append(Kill(why, timers, self.tickets_held(), ringing))
        dead = self._dead = asyncio.Event()

        async def reap(bot: BotProcess) -> None:
            await bot.reap()
            dead.set()

        self._reaper = asyncio.create_task(reap(self.bot))
        return dead

    async def run(self) -> None:
        assert self.watch is not None
        assert self.bot is not None
        watch, bot = self.watch, self.bot
        order = list(self.schedule)
        self.rng.shuffle(order)
        for kind in order:
            await until(lambda: watch.ready, "the bot to sign in")
            fallback = self.rng.uniform(1.5, 3.0)
            if kind in ("random", "timer"):
                # each of these kills comes after the new process committed a batch, so the
                # run moves on however slow a restart is next to the random delays
                await until(lambda: watch.progressed, "the bot to commit a batch")
            if kind == "random":
                await asyncio.sleep(self.rng.uniform(0.05, 0.6))
                self.kill("random")
            elif kind == "timer":
                await self._when(lambda: self.armed() > 0, fallback)
                self.kill("timer")
            else:  # from the sign-in on: the first batch after a restart may be the one
                watch.trigger = Trigger(kind, self.rng.randint(1, LIMITS[kind]))
                await self._when(lambda: self._dead is not None, fallback)
                watch.trigger = None
                if self._dead is None:
                    await until(lambda: watch.progressed, "the bot to commit a batch")
                    self.kill(f"random ({kind} not reached)")
            assert self._dead is not None
            await self._dead.wait()
            self._dead = None
            watch.started()
            bot.start()
            began = asyncio.get_running_loop().time()
            await until(lambda: watch.ready, "the bot to sign in")
            self.restarts.append(asyncio.get_running_loop().time() - began)
            bot.prepare()
        await until(lambda: watch.ready, "the bot to sign in")
        self.done.set()

    async def _when(self, ready: Callable[[], bool], limit: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not ready() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def answer_invitations(vu: VirtualUser, killer: Killer, finished: asyncio.Event) -> None:
    """Answer each invitation once a kill has happened since it started ringing."""
    rang: dict[str, int] = {}
    while not finished.is_set():
        for conv, state in list(vu.states.items()):
            if state != "ringing":
                continue
            at = rang.setdefault(conv, len(killer.kills))
            if len(killer.kills) > at or killer.done.is_set():
                vu.accept(conv)
        await asyncio.sleep(0.05)


async def until(ready: Callable[[], object], what: str) -> None:
    """Poll ``ready`` until it holds (``WAIT`` real seconds at most)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not ready():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)

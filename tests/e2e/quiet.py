"""When an end-to-end stage is quiet: nothing moves until the test acts or moves the clock.

:func:`moving` says what still moves on a :class:`~tests.e2e.harness.Stage` (``None`` when
nothing does):

* the bot's engine has work (a mailbox, a send, a webhook, an invitation starting), or a
  durable bot has decided something it has not committed yet, or is committing (unless
  its store failed and it waits on the clock to try again: :class:`WatchedClock`);
* a reader of an event channel (the bot, a caller, an agent) has not taken every batch its
  channel read, or (a durable bot) is still handling the last one;
* a client has a request out that the simulator does not hold: on its way there, being
  answered, or its answer on its way back. A P-GET the simulator holds with nothing woken
  it is not moving (it waits for an event or the clock), nor is a request a fault slows on
  the clock;
* the simulator works on a request that is neither of those.

:func:`until_quiet` waits until that has been so for :data:`QUIET_TURNS` turns of the event
loop in a row, so that a task woken a moment ago (a timer's callback, an invitation
accepted as it arrives) has run to its first real wait: turns, never real time.
"""

from __future__ import annotations

import asyncio
import functools
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.guards import WAIT
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator
from ucwa_flow.ucwa import EventChannel, UcwaClient

if TYPE_CHECKING:
    from tests.e2e.harness import Stage

__all__ = ["QUIET_TURNS", "WatchedClock", "moving", "until_quiet"]

QUIET_TURNS = 20
# real seconds between looks at a stage that moves (doubling): how soon, never whether
_LOOK_AGAIN, _LOOK_AGAIN_MAX = 0.001, 0.016
_EVENTS = re.compile(r"/ucwa/oauth/v1/applications/(\d+)/events", re.IGNORECASE)


def moving(s: Stage) -> str | None:
    """What still moves on ``s`` (see the module docstring), or ``None``."""
    bot = s.bot
    if bot.engine.busy:
        return "the bot's engine is busy"
    durable = bot.durable
    # a durable bot whose store fails tries again on the clock: that waits for the test
    retrying = durable is not None and s.task is not None and s.clock.asleep(s.task)
    if durable is not None and not retrying and (durable.journal or durable.committing):
        return "the durable bot has steps to commit"
    sim = s.sim
    if sim.requests_in_progress != sim.requests_waiting:
        working = sim.requests_in_progress - sim.requests_waiting
        return f"the simulator works on {working} request(s)"
    readers: list[tuple[UcwaClient, EventChannel | None]] = [(bot.client, bot.channel)]
    readers += [(p.caller.client, p.caller.channel) for p in s.people]
    readers += [(a.client, a.channel) for a in s.agents]
    out = 0
    for client, channel in readers:
        out += client.in_flight
        if channel is None or channel.closed:
            continue
        if channel.unread:
            return f"{client.user} has event batches to read"
        if channel.with_consumer and not retrying:
            return f"{client.user} is handling an event batch"
        if channel.url is not None and _parked(sim, channel.url):
            out -= 1  # its P-GET, held by the server
    slowed: int = sim.app.delayed
    if out > slowed:
        return f"the clients have {out - slowed} request(s) out"
    return None


class WatchedClock(ManualClock):
    """A :class:`ManualClock` that knows which tasks sleep on it (:meth:`asleep`)."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start)
        self._sleeping: dict[asyncio.Task[Any], asyncio.Future[None]] = {}

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handle = self.call_later(delay, _wake, future)
        task = asyncio.current_task()
        if task is not None:
            self._sleeping[task] = future
        try:
            await future
        finally:
            handle.cancel()
            if task is not None:
                self._sleeping.pop(task, None)

    def asleep(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` sleeps on this clock and its time has not come."""
        future = self._sleeping.get(task)
        return future is not None and not future.done()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def until_quiet(s: Stage) -> None:
    """Wait until nothing moves on ``s`` (:func:`moving`) for :data:`QUIET_TURNS` turns in
    a row; fails after ``WAIT`` real seconds, saying what still moved."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    turns = 0
    pause = _LOOK_AGAIN
    while turns < QUIET_TURNS:
        what = moving(s)
        if what is None:
            turns += 1
            await asyncio.sleep(0)
            continue
        turns = 0
        assert loop.time() < deadline, f"the stage never went quiet: {what}"
        if s.bot.engine.busy:  # its own wait, rather than looks at it
            await asyncio.wait_for(s.bot.engine.idle(), max(0.0, deadline - loop.time()))
            pause = _LOOK_AGAIN
        else:
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LOOK_AGAIN_MAX)


def _parked(sim: Simulator, url: str) -> bool:
    """Whether the simulator holds the P-GET of ``url`` and nothing has woken it yet."""
    poll = _poll_of(url)
    if poll is None:
        return False
    app = sim.application_by_id(poll[0])
    return app is not None and app.channel.parked == poll[1]


@functools.lru_cache(maxsize=4096)
def _poll_of(url: str) -> tuple[str, int] | None:
    """The application id and ``ack`` of an event-channel URL."""
    parts = urlsplit(url)
    found = _EVENTS.fullmatch(parts.path)
    ack = parse_qs(parts.query).get("ack")
    return (found.group(1), int(ack[0])) if found is not None and ack else None

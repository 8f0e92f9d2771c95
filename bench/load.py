"""Over HTTP: (a) reaction latency and (b) sustained messages per second, per bot.

One measurement (:func:`measure_bot`) starts a fresh :class:`~ucwa_flow.simulator.Simulator`
on loopback (real uvicorn, system clock) in this process, starts the bot under test as a
separate process against it (``bench/flow_bot.py`` or ``bench/baseline_echo.py``), and
plays the callers as virtual users in this process, so that the load costs the simulator
no HTTP of its own and the bot has the other core to itself.

Every caller is its own simulator user (``sip:caller0001@contoso.com`` ...) with one
conversation to the bot. A caller sends ``ping <caller>:<n>`` and waits for the reply
that contains that token (the echo flow's greeting is skipped that way). Latency is
``time.perf_counter()`` read right before :meth:`VirtualUser.send` and again in the
simulator's delivery of the reply to the caller (:meth:`TimedCaller.on_message`): the
whole path caller -> simulator -> event channel -> bot -> sendMessage -> simulator -> caller.

* ``single``: one conversation; ``SINGLE_WARMUP`` messages, then ``SINGLE_MESSAGES``
  timed ones, one after another.
The bot's stderr goes to ``bench/results/<bot>.log``; its CPU time inside the window is
read from ``/proc`` (CPU per message is less sensitive to other load on the machine than
messages per second).

* ``many``: ``CONCURRENT`` conversations, each a closed loop (the next message as soon as
  the reply arrived); ``WARMUP`` seconds of load, then a ``WINDOW``-second window. Every
  message sent inside the window whose reply arrived inside it gives a latency sample;
  every reply that arrived inside it counts for messages per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import (
    DEFAULT_PASSWORD,
    Simulator,
    SimulatorConfig,
    SimulatorUser,
    VirtualUser,
    default_users,
    serve,
)
from ucwa_flow.simulator.state import Conversation, Message

HERE = Path(__file__).resolve().parent
#: the bots under test: kind -> script; a kind in DURABLE runs with ``--state FILE``
BOTS = {
    "ucwa-flow": HERE / "flow_bot.py",
    "ucwa-flow+sqlite": HERE / "flow_bot.py",
    "baseline": HERE / "baseline_echo.py",
}
DURABLE = frozenset({"ucwa-flow+sqlite"})
BOT_URI = "sip:toshm@contoso.com"
CONCURRENT = 1_000
SINGLE_WARMUP, SINGLE_MESSAGES = 20, 300
WARMUP, WINDOW = 3.0, 10.0
REPLY_TIMEOUT = 30.0  # real seconds; a reply this late counts as lost
START_BATCH = 100  # conversations opened at once while ramping up
SETTLE = 2.0  # seconds between the callers hanging up and stopping the bot


class TimedCaller(VirtualUser):
    """A virtual user that notes when each expected reply reaches it."""

    def __init__(self, sim: Simulator, user: SimulatorUser) -> None:
        super().__init__(sim, user)
        self.expect = ""
        self.arrived: asyncio.Future[float] | None = None

    def on_message(self, conv: Conversation, message: Message) -> None:
        at = time.perf_counter()
        arrived = self.arrived
        if arrived is not None and not arrived.done() and self.expect in message.text:
            arrived.set_result(at)
        # received messages are not kept: a long run would only grow the list

    async def ask(self, token: str) -> tuple[float, float]:
        """Send ``ping <token>``; returns (sent, replied) perf_counter readings."""
        self.expect = token
        self.arrived = asyncio.get_running_loop().create_future()
        sent = time.perf_counter()
        self.send(f"ping {token}")
        replied = await asyncio.wait_for(self.arrived, REPLY_TIMEOUT)
        return sent, replied


@dataclass
class Window:
    """What the callers saw between ``start`` and ``end`` (perf_counter seconds)."""

    start: float = float("inf")
    end: float = float("inf")
    latencies: list[float] = field(default_factory=list)
    replies: int = 0
    lost: int = 0
    bot_cpu: float = 0.0  # CPU seconds the bot process used inside the window

    def record(self, sent: float, replied: float) -> None:
        if self.start <= sent and replied <= self.end:
            self.latencies.append(replied - sent)
        if self.start <= replied <= self.end:
            self.replies += 1


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


@contextlib.asynccontextmanager
async def bot_process(
    kind: str, url: str, profile: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run the ``kind`` bot against ``url`` until the block ends; waits for its ``ready``.

    With ``profile``, the bot runs under :mod:`cProfile` and writes its stats there. A
    durable kind (:data:`DURABLE`) gets a fresh SQLite file in a temporary folder, removed
    when the block ends.
    """
    # UCWA_BENCH_ROOT: run the bot on another checkout's code (paired old/new runs)
    env = {**os.environ, "PYTHONPATH": os.environ.get("UCWA_BENCH_ROOT", str(HERE.parent))}
    (HERE / "results").mkdir(exist_ok=True)
    folder = tempfile.TemporaryDirectory(prefix="ucwa-flow-bench-")
    log = (HERE / "results" / f"{kind}.log").open("ab")
    prefix = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
    state = ["--state", str(Path(folder.name) / "state.sqlite3")] if kind in DURABLE else []
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *prefix,
        str(BOTS[kind]),
        url,
        BOT_URI,
        DEFAULT_PASSWORD,
        *state,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"the {kind} bot did not start (exit {await proc.wait()})")
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()
        folder.cleanup()


def callers(count: int) -> list[SimulatorUser]:
    return [
        SimulatorUser(f"sip:caller{i:04d}@contoso.com", f"Caller {i:04d}") for i in range(count)
    ]


async def connect(sim: Simulator, users: list[SimulatorUser]) -> list[TimedCaller]:
    """One connected conversation to the bot per user, opened ``START_BATCH`` at a time."""
    people = [TimedCaller(sim, user) for user in users]
    for first in range(0, len(people), START_BATCH):
        batch = people[first : first + START_BATCH]
        for person in batch:
            await person.start_conversation(BOT_URI)
        for person in batch:
            await person.wait_for_state("connected", timeout=REPLY_TIMEOUT)
    await asyncio.sleep(0.5)  # let greetings arrive before anything is timed
    return people


async def single(person: TimedCaller) -> list[float]:
    """Latencies (s) of ``SINGLE_MESSAGES`` messages in one conversation."""
    latencies = []
    for n in range(SINGLE_WARMUP + SINGLE_MESSAGES):
        sent, replied = await person.ask(f"solo:{n}")
        if n >= SINGLE_WARMUP:
            latencies.append(replied - sent)
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def many(people: list[TimedCaller], bot_pid: int) -> Window:
    """The closed-loop load of every caller at once (see the module docstring)."""
    window = Window()
    stop = asyncio.Event()

    async def loop(person: TimedCaller, index: int) -> None:
        n = 0
        while not stop.is_set():
            try:
                sent, replied = await person.ask(f"{index}:{n}")
            except TimeoutError:
                window.lost += 1
                continue
            window.record(sent, replied)
            n += 1

    tasks = [asyncio.create_task(loop(p, i)) for i, p in enumerate(people)]
    await asyncio.sleep(WARMUP)
    cpu = cpu_seconds(bot_pid)
    window.start = time.perf_counter()
    await asyncio.sleep(WINDOW)
    window.end = time.perf_counter()
    window.bot_cpu = cpu_seconds(bot_pid) - cpu
    stop.set()
    await asyncio.wait(tasks, timeout=REPLY_TIMEOUT + 5)
    for task in tasks:
        task.cancel()
    return window


async def measure_bot(kind: str, concurrent: int = CONCURRENT) -> dict[str, Any]:
    """(a) and (b) for one bot, in a fresh simulator and a fresh bot process."""
    users = callers(concurrent + 1)
    sim = Simulator(SimulatorConfig(users=[*default_users(), *users]), clock=SystemClock())
    async with serve(sim) as url, bot_process(kind, url) as proc:
        solo = await single((await connect(sim, users[:1]))[0])
        people = await connect(sim, users[1:])
        window = await many(people, proc.pid)
        for person in people:
            person.hang_up()
        await asyncio.sleep(SETTLE)  # let the bot see the hang-ups before it stops
    seconds = window.end - window.start
    return {
        "single_p50_ms": percentile(solo, 0.5) * 1000,
        "single_p99_ms": percentile(solo, 0.99) * 1000,
        "single_messages": len(solo),
        "many_p50_ms": percentile(window.latencies, 0.5) * 1000,
        "many_p99_ms": percentile(window.latencies, 0.99) * 1000,
        "many_messages_per_second": window.replies / seconds,
        "many_conversations": len(people),
        "many_lost": window.lost,
        "bot_cpu_ms_per_message": window.bot_cpu / max(window.replies, 1) * 1000,
    }

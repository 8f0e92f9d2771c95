"""Over HTTP: the bot's CPU per message, the callers' latency, messages per second and the
bot's memory, per bot and per number of concurrent conversations.

One measurement (:func:`measure_levels`) starts a fresh :class:`~ucwa_flow.simulator.Simulator`
on loopback (real uvicorn, system clock) in this process, starts the bot under test as a
separate process against it (``bench/flow_bot.py`` or ``bench/baseline_echo.py``), and
plays the callers as virtual users in this process, so that the load costs the simulator
no HTTP of its own and the bot has the other core to itself.

Every caller is its own simulator user (``sip:caller0001@contoso.com`` ...) with one
conversation to the bot. A caller sends ``ping <token>`` and waits for the reply that
contains that token (the echo flow's greeting is skipped that way). Latency is
``time.perf_counter()`` read right before :meth:`VirtualUser.send` and again in the
simulator's delivery of the reply to the caller (:meth:`TimedCaller.on_message`): the
whole path caller -> simulator -> event channel -> bot -> sendMessage -> simulator -> caller.

For each level (1, 100, 1,000 conversations ...) the conversations are opened up to that
number (:func:`connect`), and up to ``Timing.active`` of them talk in a closed loop (the
next message as soon as the reply arrived; :func:`closed_loop`): once each has had a reply
and ``Timing.warmup`` s more, a window of ``Timing.slices`` slices is measured. What a
slice's figures are, and why a reply that comes after the window still counts, is in
:mod:`bench.window`. The bot's CPU seconds are read from ``/proc`` at each slice's edge
(CPU per message is far less sensitive to other load on the machine than messages per
second), its resident memory after each level's window. The bot's stderr goes to
``bench/results/<bot>.log``.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.window import Window, summarise
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
        self.sent_at = 0.0

    def on_message(self, conv: Conversation, message: Message) -> None:
        at = time.perf_counter()
        arrived = self.arrived
        if arrived is not None and not arrived.done() and self.expect in message.text:
            arrived.set_result(at)
        # received messages are not kept: a long run would only grow the list

    async def ask(self, token: str, timeout: float = REPLY_TIMEOUT) -> tuple[float, float]:  # noqa: ASYNC109
        """Send ``ping <token>``; returns (sent, replied) perf_counter readings."""
        self.expect = token
        self.arrived = asyncio.get_running_loop().create_future()
        self.sent_at = sent = time.perf_counter()
        self.send(f"ping {token}")
        replied = await asyncio.wait_for(self.arrived, timeout)
        return sent, replied


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


async def connect(
    sim: Simulator, users: list[SimulatorUser], batch_size: int = START_BATCH
) -> list[TimedCaller]:
    """One connected conversation to the bot per user, opened ``batch_size`` at a time."""
    people = [TimedCaller(sim, user) for user in users]
    for first in range(0, len(people), batch_size):
        batch = people[first : first + batch_size]
        for person in batch:
            await person.start_conversation(BOT_URI)
        for person in batch:
            await person.wait_for_state("connected", timeout=REPLY_TIMEOUT)
    await asyncio.sleep(0.5)  # let greetings arrive before anything is timed
    return people


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds(stat: str, tick: int) -> float:
    """The CPU seconds all cores were busy, from the text of ``/proc/stat``: user, nice,
    system, irq, softirq and steal of its ``cpu`` line (guest time is already in user
    and nice; idle and iowait are not busy)."""
    fields = stat.split("\n", 1)[0].split()
    if not fields or fields[0] != "cpu":
        raise ValueError("no cpu line first in /proc/stat")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / tick


def other_cpu_seconds(bot_pid: int) -> float:
    """CPU seconds the whole machine used so far, less the bot's and this process's: what
    other processes (another job's tests, say), interrupts and steal took beside the
    bench. Only its differences mean anything."""
    with open("/proc/stat", encoding="ascii") as stat:
        machine = busy_seconds(stat.read(), os.sysconf("SC_CLK_TCK"))
    return machine - cpu_seconds(bot_pid) - cpu_seconds(os.getpid())


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` (Linux ``/proc``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass(frozen=True)
class Timing:
    """How a level is measured: ``active`` conversations at most talk (``None``: all; the
    others stay open and idle); once each of them has had a reply (a closed loop settles in
    about one round trip) and ``warmup`` s more, ``slices`` slices of ``window / slices`` s
    each are measured. A reply later than ``reply_timeout`` s counts as lost.
    Conversations are opened ``start_batch`` at a time; after the last level the callers
    hang up ``settle`` s before the bot is stopped."""

    warmup: float = WARMUP
    window: float = WINDOW
    slices: int = 5
    active: int | None = None
    reply_timeout: float = REPLY_TIMEOUT
    start_batch: int = START_BATCH
    settle: float = SETTLE


async def closed_loop(
    people: list[TimedCaller], bot_pid: int, timing: Timing, level: int
) -> tuple[Window, list[float], list[float], list[float]]:
    """Every caller of ``people`` in a closed loop; returns the window, its slice bounds
    and the bot's CPU seconds at each bound. After the window no new message is sent, and
    the replies still due are waited for (up to ``timing.reply_timeout``) and recorded.
    Also the other processes' CPU seconds at each bound (:func:`other_cpu_seconds`)."""
    window = Window()
    stop, settled = asyncio.Event(), asyncio.Event()
    answered = 0

    async def loop(person: TimedCaller, index: int) -> None:
        nonlocal answered
        n = 0
        while not stop.is_set():
            # "L<level>:" first and "." last: no token is a substring of another
            try:
                sent, replied = await person.ask(f"L{level}:{index}:{n}.", timing.reply_timeout)
            except TimeoutError:
                window.lost(person.sent_at)
            else:
                window.record(sent, replied)
            if n == 0:
                answered += 1
                if answered == len(people):
                    settled.set()
            n += 1

    tasks = [asyncio.create_task(loop(p, i)) for i, p in enumerate(people)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(settled.wait(), timing.reply_timeout)
    await asyncio.sleep(timing.warmup)
    bounds, cpu = [time.perf_counter()], [cpu_seconds(bot_pid)]
    others = [other_cpu_seconds(bot_pid)]
    window.start = bounds[0]
    step = timing.window / timing.slices
    for i in range(1, timing.slices + 1):
        await asyncio.sleep(max(0.0, bounds[0] + i * step - time.perf_counter()))
        bounds.append(time.perf_counter())
        cpu.append(cpu_seconds(bot_pid))
        others.append(other_cpu_seconds(bot_pid))
    stop.set()
    await asyncio.wait(tasks, timeout=timing.reply_timeout + 5)
    for task in tasks:
        task.cancel()
    return window, bounds, cpu, others


async def measure_levels(
    kind: str, levels: list[int], timing: Timing, progress: Any = None
) -> list[dict[str, Any]]:
    """One fresh simulator and ``kind`` bot; for each number of conversations in
    ``levels`` (ascending), opens conversations up to it and measures them all in a
    closed loop (:func:`closed_loop`). Per level: the per-slice figures
    (:func:`~bench.window.summarise`), the replies lost, and the bot's resident memory
    after the window (``rss_bytes``) and when it was ready, before any conversation."""
    users = callers(max(levels))
    sim = Simulator(SimulatorConfig(users=[*default_users(), *users]), clock=SystemClock())
    out: list[dict[str, Any]] = []
    async with serve(sim) as url, bot_process(kind, url) as proc:
        ready = rss_bytes(proc.pid)
        people: list[TimedCaller] = []
        for level in levels:
            began = time.perf_counter()
            people += await connect(sim, users[len(people) : level], timing.start_batch)
            connected = time.perf_counter()
            talking = people[: timing.active or len(people)]
            window, bounds, cpu, others = await closed_loop(talking, proc.pid, timing, level)
            result = {
                "conversations": len(people),
                "active": len(talking),
                "slices": summarise(window, bounds, cpu, others),
                "sent": len([s for s, _ in window.samples if bounds[0] <= s < bounds[-1]]),
                "lost": sum(1 for _, r in window.samples if r is None),
                "rss_bytes": rss_bytes(proc.pid),
                "rss_ready_bytes": ready,
                "connect_seconds": connected - began,
                "load_seconds": time.perf_counter() - connected,
            }
            out.append(result)
            if progress is not None:
                progress(kind, result)
        for person in people:
            person.hang_up()
        await asyncio.sleep(timing.settle)  # let the bot see the hang-ups before it stops
    return out

"""Overload: do the callers already talking stay answered while a burst is shed?

    python -m bench.overload [--runs N] [--ring] [--spread S] [--out FILE]
    python -m bench.overload --diagnose burst|quiet|ring [--profile FILE]

One measurement starts a fresh :class:`~ucwa_flow.simulator.Simulator` on loopback in this
process and ``ucwa-flow serve`` as a separate process against it, with one account limited
to ``LIMIT`` (500) live conversations (``when_full: decline``, SQLite store in a temporary
folder). ``LIMIT`` callers connect first; then each sends ``ping <token>`` every ``PERIOD``
seconds (an open loop, each caller at its own phase: about ``LIMIT / PERIOD`` messages per
second, well under what the bot can take) for ``WINDOW`` seconds, and the latency of every
reply is taken as in :mod:`bench.load` (caller's send to the reply's delivery to the caller).

* ``quiet``: nothing else happens.
* ``burst``: one second into the window, ``BURST`` (1,500) more callers invite the bot within
  ``BURST_SPREAD`` seconds (``--spread``); the account is full, so each must hear the busy
  message and be let go. All of them must (the run fails otherwise), and none may be served.
* ``ring`` (``--ring``): the same burst with ``when_full: ring``: the bot decides and does
  nothing more for them (they are hung up after the window). What it costs is what the
  invitations themselves cost, the simulator's side included.

Both (or all three) kinds run in every round, in alternating order; the result is the p50
and p99 of each and the ratio ``burst_p99 / quiet_p99`` per round (the issue's target: at
most 2). Next to them, for the window: the CPU share of the bot process and of this one (the
simulator and the callers; both from ``/proc``), and the bot's own step-latency histogram
(``ucwa_flow_step_latency_seconds`` from its ``/metrics``, read before and after: only as
fine as its buckets, and it times a step from the message's handling to the reply's
decision, so it shows whether the time goes in the steps or around them). The bot's CPU
seconds from the window's start until the last shed caller heard the busy message (the
window's end for ``quiet``) give, burst minus quiet over ``BURST``, the bot's CPU per shed
caller: a cost that a loaded machine stretches in time but does not change much. ``--diagnose``
runs one measurement and prints it second by second (latency, CPU, the bot's sockets);
``--profile`` runs the bot under cProfile. Prints one block per round and writes
``results/overload-<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.load import TimedCaller, percentile
from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import (
    DEFAULT_PASSWORD,
    Simulator,
    SimulatorConfig,
    SimulatorUser,
    default_users,
    serve,
)
from ucwa_flow.simulator.state import Conversation, Message

HERE = Path(__file__).resolve().parent
BOT = "sip:desk@contoso.com"
LIMIT, BURST = 500, 1_500
PERIOD, WINDOW = 4.0, 12.0  # seconds between a caller's pings; seconds measured
BURST_AT, BURST_SPREAD = 1.0, 2.0
TICK = 0.25  # seconds between two CPU readings
BUSY = "All our agents are busy, please try again later."
REPLY_TIMEOUT = 30.0
Tick = tuple[float, float, float, int]
_ADMIN = re.compile(r"admin\b.*?(http://127\.0\.0\.1:\d+)")

FLOW = """\
version: 1
name: desk
start: talk
settings:
  idle_timeout: 1h
states:
  talk:
    enter:
      - say: hello
    messages:
      - any: true
        say: "got {{ message }}"
"""


class BusyCaller(TimedCaller):
    """A caller of the burst: keeps what it heard."""

    def __init__(self, sim: Simulator, user: SimulatorUser) -> None:
        super().__init__(sim, user)
        self.texts: list[str] = []
        self.heard_at = 0.0  # perf_counter of the last message heard

    def on_message(self, conv: Conversation, message: Message) -> None:
        self.texts.append(message.text.strip())
        self.heard_at = time.perf_counter()
        super().on_message(conv, message)


def _deploy(folder: Path, when_full: str) -> Path:
    (folder / "desk.flow.yaml").write_text(FLOW, encoding="utf-8")
    path = folder / "deploy.yaml"
    path.write_text(
        "store: state\n"
        "admin:\n"
        '  listen: "127.0.0.1:0"\n'
        "accounts:\n"
        "  - id: desk\n"
        f"    user: {BOT}\n"
        "    password_env: DESK_PASSWORD\n"
        "    flow: desk.flow.yaml\n"
        "    limits:\n"
        f"      max_conversations: {LIMIT}\n"
        f"      when_full: {when_full}\n"
        f"      busy_message: {BUSY}\n",
        encoding="utf-8",
    )
    return path


@dataclass
class Bot:
    """The ``ucwa-flow serve`` process: its pid and its admin endpoint's URL."""

    pid: int
    admin: str


@contextlib.asynccontextmanager
async def serving(url: str, when_full: str, profile: Path | None) -> AsyncIterator[Bot]:
    """``ucwa-flow serve`` against ``url`` until the block ends; waits until it is ready.
    With ``profile`` it runs under cProfile, which writes its statistics there."""
    with tempfile.TemporaryDirectory(prefix="ucwa-flow-overload-") as name:
        folder = Path(name)
        log = folder / "serve.log"
        root = os.environ.get("UCWA_BENCH_ROOT", str(HERE.parent))  # another checkout's code
        env = {**os.environ, "PYTHONPATH": root, "DESK_PASSWORD": DEFAULT_PASSWORD}
        wrap = ["-m", "cProfile", "-o", str(profile)] if profile else []
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, *wrap, "-m", "ucwa_flow", "serve",
                str(_deploy(folder, when_full)), "--server", url,
                stdout=out, stderr=out, env=env,
            )  # fmt: skip
        try:
            admin = await _ready(proc, log)
            yield Bot(proc.pid, admin)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def _ready(proc: asyncio.subprocess.Process, log: Path) -> str:
    deadline = time.monotonic() + 60
    admin = None

    def output() -> str:
        return log.read_text(encoding="utf-8", errors="replace")

    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"serve ended: {output()[-2000:]}")
            if admin is None and (match := _ADMIN.search(output())):
                admin = match.group(1)
            if admin is not None:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{admin}/readyz")).status_code == 200:
                        return admin
            await asyncio.sleep(0.1)
    raise RuntimeError(f"serve not ready in 60 s: {output()[-2000:]}")


async def _connect(people: list[TimedCaller]) -> None:
    for first in range(0, len(people), 100):
        batch = people[first : first + 100]
        for person in batch:
            await person.start_conversation(BOT)
        for person in batch:
            await person.wait_for_state("connected", timeout=REPLY_TIMEOUT)
    await asyncio.sleep(0.5)  # greetings arrive before anything is timed


async def _talk(
    people: list[TimedCaller], samples: list[tuple[float, float]], stop: asyncio.Event
) -> None:
    async def loop(person: TimedCaller, index: int, phase: float) -> None:
        await asyncio.sleep(phase)
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            sent, replied = await person.ask(f"{index}:{n}")
            samples.append((sent, replied - sent))
            n += 1
            await asyncio.sleep(max(0.0, PERIOD - (time.perf_counter() - started)))

    rng = random.Random(7)
    tasks = [asyncio.create_task(loop(p, i, rng.uniform(0, PERIOD))) for i, p in enumerate(people)]
    await asyncio.sleep(WINDOW)
    stop.set()
    await asyncio.gather(*tasks)


async def _burst(burst: list[BusyCaller], spread: float) -> None:
    await asyncio.sleep(BURST_AT)
    pause = spread / len(burst)
    for person in burst:
        await person.start_conversation(BOT, "hello?")
        await asyncio.sleep(pause)


def sockets(pid: int) -> int:
    """How many sockets process ``pid`` holds open (its HTTP connections, mostly)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _sample_cpu(pid: int, out: list[Tick], stop: asyncio.Event) -> None:
    """Every ``TICK`` seconds: (perf_counter, bot CPU s, this process's CPU s, bot sockets)."""
    while not stop.is_set():
        out.append((time.perf_counter(), cpu_seconds(pid), time.process_time(), sockets(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), TICK)


_BUCKET = re.compile(r'^ucwa_flow_step_latency_seconds_bucket\{.*le="([^"]+)"\} (\S+)$', re.M)


async def step_buckets(admin: str) -> dict[float, float]:
    """The bot's own step-latency histogram (cumulative counts by upper bound, every label
    summed) from its admin ``/metrics``."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{admin}/metrics")).text
    found: dict[float, float] = {}
    for bound, count in _BUCKET.findall(text):
        key = float("inf") if bound == "+Inf" else float(bound)
        found[key] = found.get(key, 0.0) + float(count)
    return found


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound of the bucket holding the ``q`` quantile of what was observed
    between ``before`` and ``after`` (a histogram only knows that much)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return float("nan")
    for bound, count in zip(bounds, counts, strict=True):
        if count >= q * counts[-1]:
            return bound
    return float("inf")


async def measure(kind: str, *, spread: float, profile: Path | None = None) -> dict[str, Any]:
    """One run: ``quiet``, ``burst`` (shed with the busy message) or ``ring`` (the same
    burst, shed by leaving it ringing: the bot does nothing for it)."""
    users = [SimulatorUser(f"sip:o{i:04d}@contoso.com", f"Caller {i:04d}") for i in range(LIMIT)]
    extra = [SimulatorUser(f"sip:b{i:04d}@contoso.com", f"Busy {i:04d}") for i in range(BURST)]
    bot = SimulatorUser(BOT, "Desk", DEFAULT_PASSWORD)
    config = SimulatorConfig(users=[*default_users(), bot, *users, *extra])
    sim = Simulator(config, clock=SystemClock())
    samples: list[tuple[float, float]] = []
    cpu: list[Tick] = []
    try:
        when_full = "ring" if kind == "ring" else "decline"
        async with serve(sim) as url, serving(url, when_full, profile) as served:
            people = [TimedCaller(sim, user) for user in users]
            await _connect(people)
            burst = [BusyCaller(sim, user) for user in extra] if kind != "quiet" else []
            before = await step_buckets(served.admin)
            stop = asyncio.Event()
            sampler = asyncio.create_task(_sample_cpu(served.pid, cpu, stop))
            started = time.perf_counter()
            jobs = [_talk(people, samples, asyncio.Event())]
            if burst:
                jobs.append(_burst(burst, spread))
            await asyncio.gather(*jobs)
            stop.set()
            await sampler
            after = await step_buckets(served.admin)
            want = [BUSY] if kind == "burst" else []
            deadline = time.monotonic() + REPLY_TIMEOUT
            while burst and not all(p.texts == want for p in burst):
                if time.monotonic() > deadline:
                    wrong = [p.texts for p in burst if p.texts != want][:5]
                    raise RuntimeError(f"burst callers not all told busy: {wrong}")
                await asyncio.sleep(0.1)
            spent = cpu_seconds(served.pid) - cpu[0][1]  # till the last busy message
            for person in [*people, *burst]:
                person.hang_up()
    finally:
        sim.close()
    latencies = [latency for _, latency in samples]
    span = cpu[-1][0] - cpu[0][0]
    return {
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "replies": len(latencies),
        "busy": len(burst) if kind == "burst" else 0,
        # from the burst's first invitation to the last busy message heard
        "busy_done_s": max((p.heard_at for p in burst), default=started) - started - BURST_AT,
        "busy_p50_s": percentile([p.heard_at - started - BURST_AT for p in burst], 0.5),
        "bot_p50_ms": bucket_quantile(before, after, 0.5) * 1000,
        "bot_p99_ms": bucket_quantile(before, after, 0.99) * 1000,
        "bot_cpu": (cpu[-1][1] - cpu[0][1]) / span,
        "bench_cpu": (cpu[-1][2] - cpu[0][2]) / span,
        "bot_cpu_s": spent,
        "timeline": _timeline(samples, cpu, started),
    }


def _timeline(
    samples: list[tuple[float, float]], cpu: list[Tick], started: float
) -> list[dict[str, float]]:
    """Per second of the window: replies asked, their p50/max, each process's CPU share."""
    rows = []
    for second in range(int(WINDOW)):
        lo, hi = started + second, started + second + 1
        lat = [latency for sent, latency in samples if lo <= sent < hi]
        ticks = [c for c in cpu if lo <= c[0] <= hi]
        row = {"second": float(second), "asked": float(len(lat))}
        if lat:
            row["p50_ms"], row["max_ms"] = statistics.median(lat) * 1000, max(lat) * 1000
        if len(ticks) > 1:
            span = ticks[-1][0] - ticks[0][0]
            row["bot_cpu"] = (ticks[-1][1] - ticks[0][1]) / span
            row["bench_cpu"] = (ticks[-1][2] - ticks[0][2]) / span
            row["bot_sockets"] = float(max(tick[3] for tick in ticks))
        rows.append(row)
    return rows


def _line(kind: str, found: dict[str, Any]) -> str:
    return (
        f"{kind} p50 {found['p50_ms']:.1f} ms p99 {found['p99_ms']:.1f} ms "
        f"(bot cpu {found['bot_cpu']:.2f}, bench cpu {found['bench_cpu']:.2f}, "
        f"bot steps p99 <= {found['bot_p99_ms']:g} ms, bot cpu {found['bot_cpu_s']:.2f} s in all"
        + (f", all told busy in {found['busy_done_s']:.1f} s" if found["busy"] else "")
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--spread", type=float, default=BURST_SPREAD, help="burst's seconds")
    parser.add_argument("--ring", action="store_true", help="a ring run in every round too")
    parser.add_argument(
        "--diagnose", choices=("quiet", "burst", "ring"), help="one run of one kind, in detail"
    )
    parser.add_argument("--profile", type=Path, help="with --diagnose: cProfile the bot here")
    args = parser.parse_args()
    if args.diagnose:
        found = asyncio.run(measure(args.diagnose, spread=args.spread, profile=args.profile))
        print(f"load {os.getloadavg()}")
        for row in found.pop("timeline"):
            print("  " + "  ".join(f"{k} {v:.2f}" for k, v in row.items()))
        print("  " + "  ".join(f"{k} {v:.2f}" for k, v in found.items()))
        return
    kinds = ("quiet", "burst", "ring") if args.ring else ("quiet", "burst")
    print(
        f"overload: {len(kinds)} kinds x {args.runs} runs, burst over {args.spread:g} s, "
        f"load {os.getloadavg()}",
        flush=True,
    )
    rounds = []
    for run in range(args.runs):
        order = kinds if run % 2 == 0 else kinds[::-1]
        result: dict[str, Any] = {}
        for kind in order:
            result[kind] = asyncio.run(measure(kind, spread=args.spread))
            result[kind].pop("timeline")
        result["ratio_p99"] = result["burst"]["p99_ms"] / result["quiet"]["p99_ms"]
        shed_cpu = result["burst"]["bot_cpu_s"] - result["quiet"]["bot_cpu_s"]
        result["shed_cpu_ms"] = shed_cpu / BURST * 1000
        rounds.append(result)
        print(
            f"  run {run + 1}: p99 ratio burst/quiet {result['ratio_p99']:.2f}, "
            f"bot cpu per shed caller {result['shed_cpu_ms']:.2f} ms",
            flush=True,
        )
        for kind in kinds:
            print(f"    {_line(kind, result[kind])}", flush=True)
    ratios = [r["ratio_p99"] for r in rounds]
    print(f"median p99 ratio burst/quiet: {statistics.median(ratios):.2f} (target <= 2)")
    out = args.out or HERE / "results" / f"overload-{datetime.date.today()}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"load": os.getloadavg(), "rounds": rounds}, indent=2) + "\n")


if __name__ == "__main__":
    main()

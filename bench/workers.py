"""Workers: conversations/s and messages/s with 1, 2 and 3 ``serve`` workers on one store.

    python -m bench.workers [--runs N] [--callers N] [--window S] [--out FILE]

One measurement starts a fresh :class:`~ucwa_flow.simulator.Simulator` on loopback in this
process, a fresh schema on the PostgreSQL server the tests use (``UCWA_FLOW_TEST_POSTGRES``,
else the local socket or 127.0.0.1:5432), and ``n`` ``ucwa-flow serve`` processes of one
deployment file with six bot accounts on that store. Once the accounts are shared out
(every one owned, the shares even, every worker ready):

* **conversations/s**: ``--callers`` (600) callers, 100 per account, invite their bot at
  once with a first message; the rate is callers / the time until the last one heard its
  answer (started and greeted);
* **messages/s**: each of them then says numbered lines in a closed loop (the next once the
  previous is answered) for ``--window`` seconds; the rate is the answers in the window /
  its length.

Each run measures 1, 2 and 3 workers (in a rotating order) and gives the ratios against
1 worker of the same run; the summary is the median of each over the runs. The simulator,
the callers, PostgreSQL and every worker share the machine: on 2 cores, more workers
mostly add processes competing for the same cores, so this cannot scale linearly (see
docs/performance.md). Prints one line per measurement, writes ``results/workers-<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users, serve
from ucwa_flow.simulator.control import VirtualUser
from ucwa_flow.simulator.state import Conversation, Message
from ucwa_flow.store import open_store
from ucwa_flow.store.leases import LeaseBook

HERE = Path(__file__).resolve().parent
ACCOUNTS = [f"w{k}" for k in range(1, 7)]
PASSWORD = "w0rkers-Pa55word!"
TIMEOUT = 120.0
DEFAULT_URLS = ("postgresql://postgres@/test", "postgresql://postgres@127.0.0.1:5432/test")
_ADMIN = re.compile(r"admin\b.*?(http://127\.0\.0\.1:\d+)")

FLOW = """\
version: 1
name: echo
start: talk
settings:
  idle_timeout: 1h
states:
  talk:
    messages:
      - any: true
        say: "got {{ message }}"
"""


class Caller(VirtualUser):
    """Counts the answers it heard; wakes whoever waits for the next one."""

    def __init__(self, sim: Simulator, user: SimulatorUser, bot: str) -> None:
        super().__init__(sim, user)
        self.bot = bot
        self.conv: str | None = None
        self.answers = 0
        self.news = asyncio.Event()

    def on_message(self, conv: Conversation, message: Message) -> None:
        self.answers += 1
        self.news.set()  # nothing is kept: a long run would only grow a list

    async def answered(self, count: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while self.answers < count:
            self.news.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"{self.uri}: no answer in {TIMEOUT:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.news.wait(), min(remaining, 1.0))


def _postgres() -> str:
    wanted = os.environ.get("UCWA_FLOW_TEST_POSTGRES")
    for url in (wanted,) if wanted else DEFAULT_URLS:
        with contextlib.suppress(psycopg.Error):
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return url
    raise SystemExit("no PostgreSQL server reachable: set UCWA_FLOW_TEST_POSTGRES")


@contextlib.contextmanager
def _schema(base: str) -> Iterator[tuple[str, str]]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    glue = "&" if "?" in base else "?"
    try:
        yield schema, f"{base}{glue}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _deploy(folder: Path, store: str) -> Path:
    (folder / "echo.flow.yaml").write_text(FLOW, encoding="utf-8")
    lines = [f"store: {store}", "admin:", '  listen: "127.0.0.1:0"', "accounts:"]
    for account in ACCOUNTS:
        lines += [
            f"  - id: {account}",
            f"    user: sip:{account}@contoso.com",
            "    password_env: BOT_PASSWORD",
            "    flow: echo.flow.yaml",
        ]
    path = folder / "deploy.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def _workers(count: int, url: str, store: str) -> AsyncIterator[list[str]]:
    """``count`` serve processes; yields their admin URLs once each announced one."""
    with tempfile.TemporaryDirectory(prefix="ucwa-flow-workers-") as name:
        folder = Path(name)
        deploy = _deploy(folder, store)
        env = {**os.environ, "PYTHONPATH": str(HERE.parent), "BOT_PASSWORD": PASSWORD}
        procs, logs = [], []
        try:
            for k in range(count):
                log = folder / f"worker{k}.log"
                logs.append(log)
                with log.open("wb") as out:
                    procs.append(
                        await asyncio.create_subprocess_exec(
                            sys.executable,
                            "-m",
                            "ucwa_flow",
                            "serve",
                            str(deploy),
                            "--server",
                            url,
                            stdout=out,
                            stderr=out,
                            env=env,
                        )
                    )
            admins = []
            for proc, log in zip(procs, logs, strict=True):
                admins.append(await _announced(proc, log))
            yield admins
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def _announced(proc: asyncio.subprocess.Process, log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = await asyncio.to_thread(log.read_text, encoding="utf-8", errors="replace")
        if proc.returncode is not None:
            raise RuntimeError(f"serve ended: {text[-2000:]}")
        if match := _ADMIN.search(text):
            return match.group(1)
        await asyncio.sleep(0.1)
    raise RuntimeError("serve did not announce its admin endpoint in 60 s")


async def _shared(book: LeaseBook, admins: list[str]) -> None:
    """Until every account is owned, the shares are even and every worker is ready."""
    deadline = time.monotonic() + TIMEOUT
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() < deadline:
            leases = [lease for lease in await book.owners() if lease.valid]
            shares = {w.id: 0 for w in await book.workers(live_within=30)}
            for lease in leases:
                shares[lease.worker or ""] = shares.get(lease.worker or "", 0) + 1
            even = len(shares) == len(admins) and max(shares.values()) - min(shares.values()) <= 1
            if len(leases) == len(ACCOUNTS) and even:
                answers = [await http.get(f"{admin}/readyz") for admin in admins]
                if all(answer.status_code == 200 for answer in answers):
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError("the accounts were not shared out in time")


async def measure(workers: int, callers: int, window: float, base: str) -> dict[str, Any]:
    users = [SimulatorUser(f"sip:c{i:04d}@contoso.com", f"Caller {i:04d}") for i in range(callers)]
    bots = [SimulatorUser(f"sip:{a}@contoso.com", a, PASSWORD) for a in ACCOUNTS]
    sim = Simulator(SimulatorConfig(users=[*default_users(), *bots, *users]), SystemClock())
    try:
        with _schema(base) as (schema, store):
            book = LeaseBook(await open_store(base, schema=schema))
            try:
                async with serve(sim) as url, _workers(workers, url, store) as admins:
                    await _shared(book, admins)
                    people = [
                        Caller(sim, u, f"sip:{ACCOUNTS[i % len(ACCOUNTS)]}@contoso.com")
                        for i, u in enumerate(users)
                    ]
                    started = time.perf_counter()
                    for person in people:
                        person.conv = await person.start_conversation(person.bot, "hi")
                    await asyncio.gather(*(p.answered(1) for p in people))
                    greeted = time.perf_counter() - started
                    replies = await _talk(people, window)
                    for person in people:
                        person.hang_up()
            finally:
                await book.store.aclose()
    finally:
        sim.close()
    return {
        "workers": workers,
        "conversations_per_s": callers / greeted,
        "messages_per_s": replies / window,
    }


async def _talk(people: list[Caller], window: float) -> int:
    stop = time.perf_counter() + window
    counted = 0

    async def loop(person: Caller) -> None:
        nonlocal counted
        n = 0
        while time.perf_counter() < stop:
            person.send(f"m{n}", person.conv)
            await person.answered(person.answers + 1)
            if time.perf_counter() <= stop:
                counted += 1
            n += 1

    await asyncio.gather(*(loop(p) for p in people))
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--callers", type=int, default=600)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    base = _postgres()
    print(f"workers: 1, 2, 3 x {args.runs} runs, load {os.getloadavg()}", flush=True)
    runs = []
    for run in range(args.runs):
        order = [1, 2, 3][run % 3 :] + [1, 2, 3][: run % 3]
        result = {n: asyncio.run(measure(n, args.callers, args.window, base)) for n in order}
        for n in (1, 2, 3):
            for key in ("conversations_per_s", "messages_per_s"):
                result[n][f"{key}_ratio"] = result[n][key] / result[1][key]
            r = result[n]
            print(
                f"  run {run + 1}: {n} worker(s): {r['conversations_per_s']:.0f} conversations/s "
                f"(x{r['conversations_per_s_ratio']:.2f}), {r['messages_per_s']:.0f} messages/s "
                f"(x{r['messages_per_s_ratio']:.2f}); load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        runs.append(result)
    summary = {
        n: {
            key: statistics.median(r[n][key] for r in runs)
            for key in runs[0][n]
            if key != "workers"
        }
        for n in (1, 2, 3)
    }
    for n, s in summary.items():
        print(
            f"median, {n} worker(s): {s['conversations_per_s']:.0f} conversations/s "
            f"(x{s['conversations_per_s_ratio']:.2f}), {s['messages_per_s']:.0f} messages/s "
            f"(x{s['messages_per_s_ratio']:.2f})"
        )
    out = args.out or HERE / "results" / f"workers-{datetime.date.today()}.json"
    out.parent.mkdir(exist_ok=True)
    record = {"load": os.getloadavg(), "cpus": os.cpu_count(), "runs": runs, "median": summary}
    out.write_text(json.dumps(record, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()

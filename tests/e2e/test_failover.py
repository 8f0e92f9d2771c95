"""Three ``ucwa-flow serve`` workers on one PostgreSQL store: kill one, freeze another (issue 13).

The issue's test, on a real PostgreSQL server (a schema of the test's own). A simulator runs
in this process on a loopback socket with six bot accounts; three ``ucwa-flow serve``
processes share them through leases (``workers: {lease: 4s, heartbeat: 0.5s}``), two each.
600 callers (100 per account) start a conversation and talk throughout, each saying
numbered lines (``c007 line 3``) one at a time and waiting for the answer (``c007 reply 3``).

1. **SIGKILL** one worker: its two accounts wait for their leases to expire; the other two
   workers take them over (three each) and carry the conversations on.
2. Once every caller has been answered again, **SIGSTOP** another for longer than the
   lease (until the last worker has taken its accounts over and answered their callers),
   then **SIGCONT** it: it finds its leases gone, logs that it stops serving each of them,
   and then takes its share back by a graceful hand-over (three and three). (Frozen within
   a moment of its own takeover, while settling the messages in doubt it inherited, a few
   replies were heard twice: a known limit, see docs/ha.md.)

At the end every account has exactly one owner (``ucwa-flow workers --json``), every caller
heard each of its lines answered exactly once, in order (after both workers stopped, so a
late double would have arrived), and the paused worker counted each account it lost once.
Whatever it still tried to write was refused: revoked before it reached the database, or
fenced by it (``ucwa_flow_store_errors_total{error="StoreFenced"}``, printed). The takeover
times (kill or freeze -> the first reply from the new owner to a message sent after it) are
measured and printed, never asserted. Every wait is on a condition, bounded by ``WAIT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from tests.e2e.serving import ROOT, ServeProcess, eventually, metric
from tests.guards import WAIT
from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users
from ucwa_flow.simulator.control import VirtualUser
from ucwa_flow.simulator.server import serve
from ucwa_flow.simulator.state import Conversation, Message
from ucwa_flow.store import open_store
from ucwa_flow.store.leases import LeaseBook

PASSWORD = "f4ilover-Pa55word!"
#: when the test did what (monotonic seconds), for the failure messages
MARKS: dict[str, float] = {}
ACCOUNTS = [f"a{k}" for k in range(1, 7)]
PER_ACCOUNT = 100
LEASE, HEARTBEAT = 4.0, 0.5
SPREAD = 3.0  # callers arrive over this many seconds
THINK = (2.0, 5.0)
_DROPPED = re.compile(
    r"\b(a\d): worker \S+ stops serving it"
)  # a caller's pause between two lines (real seconds)

FLOW = """\
version: 1
name: failover
start: talk
settings:
  idle_timeout: 1h
variables:
  who: null
  n: null
states:
  talk:
    messages:
      - match: '^(?P<who>c\\d+) line (?P<n>\\d+)$'
        say: "{{ who }} reply {{ n }}"
    no_match:
      - say: what?
"""


def _bot(account: str) -> str:
    return f"sip:{account}@contoso.com"


class Caller(VirtualUser):
    """One caller: says numbered lines to its account, one at a time, and notes when each
    answer arrived (``time.monotonic``, the event loop's clock)."""

    def __init__(self, sim: Simulator, user: SimulatorUser, i: int, account: str) -> None:
        super().__init__(sim, user)
        self.i, self.account = i, account
        self.conv: str | None = None
        self.expected: list[str] = []
        self.arrivals: list[float] = []
        #: (sent, answered) of each line, monotonic seconds
        self.lines: list[tuple[float, float]] = []

    @property
    def who(self) -> str:
        return f"c{self.i:03d}"

    def heard(self) -> list[str]:
        return [m.text.strip() for m in self.received]

    def on_message(self, conv: Conversation, message: Message) -> None:
        self.arrivals.append(time.monotonic())
        super().on_message(conv, message)

    def answered_after(self, moment: float) -> float | None:
        """When the first answer to a line sent after ``moment`` arrived."""
        return next((done for sent, done in self.lines if sent > moment), None)

    async def run(self, done: asyncio.Event, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, SPREAD))
        n = 0
        while n == 0 or not done.is_set():
            await self.say(n)
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), rng.uniform(*THINK))

    async def say(self, n: int) -> None:
        text = f"{self.who} line {n}"
        sent = time.monotonic()
        if self.conv is None:
            self.conv = await self.start_conversation(_bot(self.account), text)
        else:
            self.send(text, self.conv)
        self.expected.append(f"{self.who} reply {n}")
        deadline = sent + WAIT
        while len(self.received) < len(self.expected):
            state = self.state(self.conv)
            assert state not in ("failed", "ended"), (
                f"{self.who} ({self.account}): the conversation is {state} "
                f"({self.reasons.get(self.conv)}); heard {self.heard()}"
            )
            assert time.monotonic() < deadline, (
                f"{self.who} ({self.account}): no answer to {text!r} sent "
                f"{', '.join(f'{sent - at:+.2f} s after the {m}' for m, at in MARKS.items())}"
            )
            with contextlib.suppress(TimeoutError):
                await self.wait_for_message(timeout=0.5)
        self.lines.append((sent, self.arrivals[len(self.expected) - 1]))


# -- the store, the deployment, the workers -------------------------------------------------


@contextlib.contextmanager
def _schema() -> Iterator[tuple[str, str, str]]:
    """(base URL, schema, the workers' URL whose tables go to the schema)."""
    from tests.store.conftest import postgres_url

    base = postgres_url()
    schema = f"f_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    glue = "&" if "?" in base else "?"
    try:
        yield base, schema, f"{base}{glue}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _deploy(folder: Path, store: str) -> Path:
    (folder / "failover.flow.yaml").write_text(FLOW, encoding="utf-8")
    lines = [
        f"store: {store}",
        "stop_timeout: 5s",
        f"workers: {{lease: {LEASE:g}s, heartbeat: {HEARTBEAT:g}s}}",
        "admin:",
        '  listen: "127.0.0.1:0"',
        "accounts:",
    ]
    for account in ACCOUNTS:
        lines += [
            f"  - id: {account}",
            f"    user: {_bot(account)}",
            "    password_env: DESK_PASSWORD",
            "    flow: failover.flow.yaml",
        ]
    path = folder / "deploy.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def _workers(deploy: Path, url: str, folder: Path) -> AsyncIterator[list[ServeProcess]]:
    env = {"DESK_PASSWORD": PASSWORD}
    procs = [
        ServeProcess([str(deploy), "--server", url], folder / f"worker{k}.log", env)
        for k in range(3)
    ]
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            await proc.close()


class Board:
    """Who owns what, by process: the store's leases and workers, and each one's /readyz."""

    def __init__(self, book: LeaseBook, procs: list[ServeProcess]) -> None:
        self.book, self.procs = book, procs
        self.owners: dict[str, ServeProcess] = {}  # account (user) -> process
        self.tokens: dict[str, int] = {}

    async def read(self) -> None:
        pids = {w.id: w.pid for w in await self.book.workers()}
        by_pid = {p.pid: p for p in self.procs}
        self.owners.clear()
        for lease in await self.book.owners():
            self.tokens[lease.account] = lease.token
            if lease.valid and lease.worker in pids and pids[lease.worker] in by_pid:
                self.owners[lease.account] = by_pid[pids[lease.worker]]

    def of(self, proc: ServeProcess) -> list[str]:
        return sorted(a for a, p in self.owners.items() if p is proc)

    async def shared(self, live: list[ServeProcess], each: int) -> bool:
        """Every account owned, ``each`` by each of ``live``, and every one of them ready."""
        await self.read()
        if len(self.owners) != len(ACCOUNTS) or any(len(self.of(p)) != each for p in live):
            return False
        async with httpx.AsyncClient(timeout=WAIT) as http:
            for proc in live:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{proc.url}/readyz")).status_code == 200:
                        continue
                return False
        return True


def _first_replies(callers: list[Caller], accounts: list[str], moment: float) -> dict[str, float]:
    """Per account, seconds from ``moment`` to the first answer to a line sent after it."""
    found: dict[str, float] = {}
    for caller in callers:
        if _bot(caller.account) in accounts:
            at = caller.answered_after(moment)
            if at is not None:
                best = found.get(caller.account, float("inf"))
                found[caller.account] = min(best, at - moment)
    return found


def _longest_wait(callers: list[Caller], accounts: list[str], moment: float) -> float:
    """The longest a caller of ``accounts`` waited for an answer to a line in flight at, or
    sent after, ``moment``."""
    waits = [
        done - sent
        for c in callers
        if _bot(c.account) in accounts
        for sent, done in c.lines
        if done > moment
    ]
    return max(waits, default=0.0)


# -- the test -------------------------------------------------------------------------------


async def test_three_workers_survive_a_kill_and_a_freeze_answering_everyone_once(
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    callers_users = [
        SimulatorUser(f"sip:c{i:03d}@contoso.com", f"Caller {i:03d}")
        for i in range(PER_ACCOUNT * len(ACCOUNTS))
    ]
    bots = [SimulatorUser(_bot(a), a, PASSWORD) for a in ACCOUNTS]
    config = SimulatorConfig(users=[*default_users(), *bots, *callers_users])
    sim = Simulator(config, SystemClock())
    callers = [
        Caller(sim, user, i, ACCOUNTS[i % len(ACCOUNTS)]) for i, user in enumerate(callers_users)
    ]
    done = asyncio.Event()
    with _schema() as (base, schema, store_url):
        book = LeaseBook(await open_store(base, schema=schema))
        try:
            async with (
                serve(sim) as url,
                _workers(_deploy(tmp_path, store_url), url, tmp_path) as procs,
            ):
                for proc in procs:
                    await proc.listening()
                board = Board(book, procs)
                await eventually(lambda: board.shared(procs, 2), "a 2/2/2 share", *procs)
                rng = random.Random(13)
                MARKS.clear()
                MARKS["start"] = time.monotonic()
                talks = asyncio.gather(*(c.run(done, random.Random(rng.random())) for c in callers))
                try:
                    report = await _scenes(board, procs, callers)
                finally:
                    done.set()
                    await talks
                report += "\n" + await _end(board, procs, store_url)
        finally:
            await book.store.aclose()
            sim.close()
    _check_callers(callers)
    lines = sum(len(c.lines) for c in callers)
    print(
        f"\n{report}\n{len(callers)} callers, {lines} lines answered exactly once each; "
        f"the test took {time.monotonic() - began:.1f} s"
    )


async def _scenes(board: Board, procs: list[ServeProcess], callers: list[Caller]) -> str:
    """Kill one worker, freeze another; what was measured (printed by the test)."""

    async def everyone_talking() -> bool:
        return all(c.lines for c in callers)

    await eventually(everyone_talking, "600 conversations in progress", *procs)
    killed, paused, other = procs
    await board.read()
    lost_by_kill = board.of(killed)
    killed.signal(signal.SIGKILL)
    kill_at = MARKS["SIGKILL"] = time.monotonic()

    async def killed_taken_over() -> bool:
        firsts = _first_replies(callers, lost_by_kill, kill_at)
        return len(firsts) == len(lost_by_kill) and await board.shared([paused, other], 3)

    await eventually(killed_taken_over, "the killed worker's accounts to be taken over", *procs)
    kill_firsts = _first_replies(callers, lost_by_kill, kill_at)
    kill_wait = _longest_wait(callers, lost_by_kill, kill_at)
    # every caller answered once more: the new owners have settled what was in doubt
    await _answered_after(callers, time.monotonic(), "everyone to be answered after the kill")

    frozen = board.of(paused)
    tokens = {account: board.tokens[account] for account in frozen}
    paused.signal(signal.SIGSTOP)
    stop_at = MARKS["SIGSTOP"] = time.monotonic()

    async def frozen_taken_over() -> bool:
        await board.read()
        firsts = _first_replies(callers, frozen, stop_at)
        return len(firsts) == len(frozen) and len(board.of(other)) == len(ACCOUNTS)

    await eventually(frozen_taken_over, "the frozen worker's accounts to be taken over", other)
    stop_firsts = _first_replies(callers, frozen, stop_at)
    paused.signal(signal.SIGCONT)
    MARKS["SIGCONT"] = time.monotonic()
    frozen_for = time.monotonic() - stop_at
    assert frozen_for > LEASE
    assert all(board.tokens[account] > tokens[account] for account in frozen), board.tokens

    async def resumed_and_dropped() -> bool:
        dropped = set(_DROPPED.findall(paused.output()))
        return {_account_id(a) for a in frozen} <= dropped

    await eventually(resumed_and_dropped, "the resumed worker to drop its lost accounts", paused)
    await eventually(lambda: board.shared([paused, other], 3), "a 3/3 share again", paused, other)
    await _answered_after(callers, time.monotonic(), "everyone to be answered after it all")
    return (
        f"SIGKILL of worker {killed.pid} ({', '.join(map(_account_id, lost_by_kill))}): "
        f"first reply from the new owner after {_seconds(kill_firsts)}; the longest a caller "
        f"waited {kill_wait:.2f} s (lease {LEASE:g} s, heartbeat {HEARTBEAT:g} s)\n"
        f"SIGSTOP of worker {paused.pid} ({', '.join(map(_account_id, frozen))}) for "
        f"{frozen_for:.2f} s: first reply from the new owner after {_seconds(stop_firsts)}"
    )


async def _answered_after(callers: list[Caller], moment: float, what: str) -> None:
    async def carried_on() -> bool:
        return all(c.answered_after(moment) is not None for c in callers)

    await eventually(carried_on, what)


def _account_id(user: str) -> str:
    return user.removeprefix("sip:").split("@")[0]


def _seconds(firsts: dict[str, float]) -> str:
    return ", ".join(f"{account} {value:.2f} s" for account, value in sorted(firsts.items()))


async def _end(board: Board, procs: list[ServeProcess], store_url: str) -> str:
    """One owner per account (the CLI says), what the resumed worker counted, then a
    graceful stop of both live workers."""
    _, paused, other = procs
    listed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ucwa_flow", "workers", "--store", store_url, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=WAIT,
        check=False,
        env={**paused.env},
    )
    assert listed.returncode == 0, listed.stderr
    snapshot = json.loads(listed.stdout)
    owned = [a["account"] for w in snapshot["workers"] for a in w["accounts"]]
    assert sorted(owned) == sorted(_bot(a) for a in ACCOUNTS), snapshot
    assert snapshot["unowned"] == [], snapshot
    holders = {w["pid"] for w in snapshot["workers"] if w["accounts"]}
    assert holders == {paused.pid, other.pid}, snapshot

    async with httpx.AsyncClient(timeout=WAIT) as http:
        text = (await http.get(f"{paused.url}/metrics")).text
    lost = metric(text, "ucwa_flow_leases_total", event="lost")
    fenced = metric(text, "ucwa_flow_store_errors_total", error="StoreFenced")
    assert lost == 3, text  # each account it held when frozen, once
    for proc in (paused, other):
        proc.signal(signal.SIGTERM)
    for proc in (paused, other):
        assert await proc.wait() == 0, proc.tail()
    return (
        f"the resumed worker lost {lost:g} lease(s); the database fenced {fenced:g} of its "
        f"writes (the rest were revoked before reaching it)"
    )


def _check_callers(callers: list[Caller]) -> None:
    wrong = [c for c in callers if c.heard() != c.expected]
    assert not wrong, "\n".join(
        f"{c.who} ({c.account}) heard {c.heard()}\n  not {c.expected}" for c in wrong[:5]
    )

"""The world of the failover tests: callers on the simulator, a PostgreSQL schema, a
deployment of worker processes, and who owns which account.

:class:`Caller` says numbered lines (``c007 line 3``) one at a time to its account's bot
and waits for each answer (``c007 reply 3``), noting when each arrived; :data:`FLOW` is
the flow that answers them. :func:`schema` makes a PostgreSQL schema of the test's own,
:func:`deployment` the deployment file of the workers, :class:`Board` reads the leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from tests.e2e.serving import ServeProcess
from tests.guards import WAIT
from ucwa_flow.simulator import Simulator, SimulatorUser
from ucwa_flow.simulator.control import VirtualUser
from ucwa_flow.simulator.state import Conversation, Message
from ucwa_flow.store.leases import LeaseBook

__all__ = [
    "FLOW",
    "MARKS",
    "PASSWORD",
    "Board",
    "Caller",
    "Progress",
    "bot",
    "deployment",
    "schema",
    "until_moving",
]

PASSWORD = "f4ilover-Pa55word!"
#: when the test did what (monotonic seconds), for the failure messages
MARKS: dict[str, float] = {}
SPREAD = 3.0  # callers arrive over this many seconds
THINK = (4.0, 8.0)  # a caller's pause between two lines (real seconds)

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


def bot(account: str) -> str:
    return f"sip:{account}@contoso.com"


class Progress:
    """When any caller last heard anything (as in ``tests/e2e/test_kill.py``): a caller
    waiting for its answer fails only once nobody has heard a thing for ``WAIT`` seconds.
    A loaded machine answers slowly but keeps answering; a lost message leaves its caller
    waiting until the others are done (the test stops them when a wait of its own fails),
    and then nothing moves."""

    def __init__(self) -> None:
        self.callers: list[Caller] = []
        self.heard = 0
        self.moved = 0.0

    def stalled_for(self, now: float) -> float:
        heard = sum(len(c.received) for c in self.callers)
        if heard != self.heard or not self.moved:
            self.heard, self.moved = heard, now
        return now - self.moved


async def until_moving(
    check: Callable[[], Awaitable[bool]],
    what: str,
    toward: Callable[[], int],
    *logs: ServeProcess,
) -> None:
    """Poll the async ``check`` until it holds; fail once ``toward()`` (how far toward it
    things are: a count that only the goal's own progress raises, read after each check)
    has not reached a new height for ``WAIT`` seconds. On failure, the tails of ``logs``."""
    best, since = toward(), time.monotonic()
    while not await check():
        now, height = time.monotonic(), toward()
        if height > best:
            best, since = height, now
        tails = "\n".join(f"--- {p.log.name}\n{p.tail(15)}" for p in logs)
        assert now - since < WAIT, (
            f"timed out waiting for {what}: nothing moved toward it for {WAIT:.0f} s "
            f"(at {best})\n{tails}"
        )
        await asyncio.sleep(0.1)


class Caller(VirtualUser):
    """One caller: says numbered lines to its account, one at a time, and notes when each
    answer arrived (``time.monotonic``, the event loop's clock). With a :class:`Progress`,
    a line waits for its answer until nobody has heard anything for ``WAIT`` seconds;
    without, ``WAIT`` seconds at most."""

    def __init__(
        self,
        sim: Simulator,
        user: SimulatorUser,
        i: int,
        account: str,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(sim, user)
        self.i, self.account = i, account
        self.progress = progress
        if progress is not None:
            progress.callers.append(self)
        self.conv: str | None = None
        self.expected: list[str] = []
        self.arrivals: list[float] = []
        #: the OperationContext of each message received (which send it was)
        self.operations: list[str | None] = []
        #: (sent, answered) of each line, monotonic seconds
        self.lines: list[tuple[float, float]] = []

    @property
    def who(self) -> str:
        return f"c{self.i:03d}"

    def heard(self) -> list[str]:
        return [m.text.strip() for m in self.received]

    def on_message(self, conv: Conversation, message: Message) -> None:
        self.arrivals.append(time.monotonic())
        # the bot's side of the conversation holds the send (the caller's copy has no id)
        peer = conv.chat.other(conv)
        sent = peer.messages.get(max(peer.messages, default=0)) if peer is not None else None
        self.operations.append(sent.operation_id if sent is not None else None)
        super().on_message(conv, message)

    def story(self) -> str:
        """What it heard, when (against :data:`MARKS`) and from which send (for a failure)."""
        lines = []
        for text, at, operation in zip(self.heard(), self.arrivals, self.operations, strict=True):
            mark, moment = max(
                ((m, t) for m, t in MARKS.items() if t <= at),
                key=lambda p: p[1],
                default=("clock's zero", 0.0),
            )
            lines.append(f"    {text!r} {at - moment:+.3f} s after the {mark}, send {operation}")
        return "\n".join(lines)

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
            self.conv = await self.start_conversation(bot(self.account), text)
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
            now = time.monotonic()
            if self.progress is not None:
                late = self.progress.stalled_for(now) >= WAIT
                why = f"; no caller has heard anything for {WAIT:.0f} s"
            else:
                late, why = now >= deadline, ""
            assert not late, (
                f"{self.who} ({self.account}): no answer to {text!r} sent "
                f"{', '.join(f'{sent - at:+.2f} s after the {m}' for m, at in MARKS.items())}"
                f"{why}"
            )
            with contextlib.suppress(TimeoutError):
                await self.wait_for_message(timeout=0.5)
        self.lines.append((sent, self.arrivals[len(self.expected) - 1]))


@contextlib.contextmanager
def schema() -> Iterator[tuple[str, str, str]]:
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


def deployment(
    folder: Path,
    store: str,
    accounts: list[str],
    lease: float,
    heartbeat: float,
    flow: tuple[str, str] = ("failover.flow.yaml", FLOW),
) -> Path:
    """The workers' deployment file (every account on ``flow``, a file name and its text:
    :data:`FLOW` unless given), in ``folder``."""
    name, text = flow
    (folder / name).write_text(text, encoding="utf-8")
    lines = [
        f"store: {store}",
        "stop_timeout: 5s",
        f"workers: {{lease: {lease:g}s, heartbeat: {heartbeat:g}s}}",
        "admin:",
        '  listen: "127.0.0.1:0"',
        "accounts:",
    ]
    for account in accounts:
        lines += [
            f"  - id: {account}",
            f"    user: {bot(account)}",
            "    password_env: DESK_PASSWORD",
            f"    flow: {name}",
        ]
    path = folder / "deploy.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Board:
    """Who owns what, by process: the store's leases and workers, and each one's /readyz."""

    def __init__(self, book: LeaseBook, procs: list[ServeProcess], accounts: int) -> None:
        self.book, self.procs, self.accounts = book, procs, accounts
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

    def toward(self, live: list[ServeProcess], each: int) -> Callable[[], int]:
        """How far the last read is from ``each`` account for each of ``live`` (a count
        that grows toward it; for :func:`until_moving`)."""
        return lambda: sum(min(len(self.of(p)), each) for p in live)

    async def shared(self, live: list[ServeProcess], each: int) -> bool:
        """Every account owned, ``each`` by each of ``live``, and every one of them ready."""
        await self.read()
        if len(self.owners) != self.accounts or any(len(self.of(p)) != each for p in live):
            return False
        async with httpx.AsyncClient(timeout=WAIT) as http:
            for proc in live:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{proc.url}/readyz")).status_code == 200:
                        continue
                return False
        return True

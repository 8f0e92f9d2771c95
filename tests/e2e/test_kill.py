"""SIGKILL, again and again: a durable bot in an OS process of its own loses nothing.

The issue's test. ``ucwa-flow run FLOW --server URL --state FILE`` (or ``--store
postgresql://...``) serves 200 callers of a simulator that runs in this process on a loopback
socket, on real time. While they are in mid-conversation the bot is killed with SIGKILL at
least :data:`KILLS` times and started again each time; then, on the simulator's side, every
caller must have heard exactly what its script calls for: each numbered line answered once,
in order, the silence timer's message once, its ticket once (with the ticket the ticket system
made for it), the agent's arrival once, and goodbye.

Each caller (a simulator virtual user ``c<i>``) sends, one at a time and waiting for the
answers to each, ``c<i> line 0``, ``c<i> line 1``, ``c<i> wait`` (the bot says ``waiting``
and, after 2 s of silence, ``timer``), ``c<i> ticket`` (a webhook; the ticket system holds
the answer for one caller in four until the next kill, so that call is pending across it),
for one caller in four ``c<i> agent`` (the bot invites an agent, who answers only once a
kill has happened since the invitation rang), then more numbered lines until the killing is
over, and ``c<i> bye``.

Where the kills fall (:data:`SCHEDULE`, shuffled by a seeded generator, printed):

* ``send-answered``: the simulator has performed one of the bot's sendMessage POSTs and
  the answer has not left: the bot dies between the POST of a reply and the commit of its
  outcome (after the restart the message is *in doubt*, recognised by its OperationContext);
* ``send-in-flight``: a sendMessage POST has arrived and the bot dies before the simulator
  reads its body (so it is mostly not performed: in doubt, absent from the events, sent
  again after the restart);
* ``batch-answered``: an event batch has just been handed to the bot (killed while handling
  or committing it; the server hands it out again);
* ``invite-answered``: the bot's invitation to the agent is ringing;
* ``timer``: at least one caller's silence timer is armed;
* ``random``: after a random delay once the bot is up.

A trigger that is not reached within a few seconds kills at that moment instead (the summary
says so); see :mod:`tests.e2e.killer`. Each restart waits until the new process has signed in
(its first event-channel GET) before it arms the next one. When a caller heard something
twice, the failure lists each text the simulator performed twice, by which processes and with
which OperationContext (the same: sent again from the outbox; another: decided twice). At the
end the store must have nothing left to send and caller 0's history, through every restart,
must be its conversation exactly once. ``UCWA_FLOW_KILL_SEED`` repeats a run's kill schedule
(not its timing). Nothing here waits on time to pass except the callers'
"thinking" and the bot's own 2 s timers; every wait is on a condition, bounded by ``WAIT``
(a caller's wait for its answer by ``WAIT`` without any caller hearing anything).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.e2e.harness import BOT, PASSWORD
from tests.e2e.killer import Killer, answer_invitations, until
from tests.e2e.killing import BotProcess, TicketDesk, Watch
from tests.guards import WAIT
from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import (
    Simulator,
    SimulatorConfig,
    SimulatorUser,
    VirtualUser,
    default_users,
)
from ucwa_flow.simulator.server import serve_app
from ucwa_flow.store import ConversationQuery, Store, open_store

CALLERS = 200
KILLS = 20
AGENT = "sip:agent@contoso.com"
USERS = [SimulatorUser(f"sip:c{i:03d}@contoso.com", f"Caller {i:03d}") for i in range(CALLERS)]
THINK = 0.4  # a caller's longest pause between two steps (real seconds)
SCHEDULE = (
    ["send-answered"] * 6
    + ["send-in-flight"] * 3
    + ["batch-answered"] * 3
    + ["invite-answered"] * 3
    + ["timer"] * 2
    + ["random"] * (KILLS - 17)
)

FLOW = """\
version: 1
name: kill-desk
start: talk
settings:
  idle_timeout: 1h
variables:
  who: null
  n: null
  ticket: null
  hook_url: HOOK_URL
  agent: AGENT
states:
  talk:
    messages:
      - match: '^(?P<who>c\\d+) line (?P<n>\\d+)$'
        say: "{{ who }} reply {{ n }}"
      - match: '^(?P<who>c\\d+) wait$'
        goto: quiet
      - match: '^(?P<who>c\\d+) ticket$'
        goto: ticket
      - match: '^(?P<who>c\\d+) agent$'
        goto: agent
      - match: '^(?P<who>c\\d+) bye$'
        say: "{{ who }} bye"
        do: [stop]
    no_match:
      - say: "{{ who }} what?"
  quiet:
    enter:
      - say: "{{ who }} waiting"
    messages:
      - any: true
        say: "{{ who }} not now"
    timeouts:
      - after: 2s
        do:
          - say: "{{ who }} timer"
          - goto: talk
  ticket:
    enter:
      - webhook:
          url: "{{ hook_url }}"
          json: {who: "{{ who }}"}
          timeout: 30s
          result: ticket
          success:
            - say: "{{ who }} ticket {{ ticket.id }}"
          failure:
            - say: "{{ who }} ticket failed"
      - goto: talk
  agent:
    enter:
      - invite:
          to: "{{ agent }}"
          subject: "{{ who }}"
          message: "{{ who }} needs an agent"
          timeout: 60s
          accepted:
            - say: "{{ who }} agent joined"
          declined:
            - say: "{{ who }} agent busy"
          no_answer:
            - say: "{{ who }} no agent"
      - goto: talk
"""


def _script(i: int) -> list[str]:
    steps = ["line 0", "line 1", "wait", "ticket"]
    if i % 4 == 0:
        steps.append("agent")
    return [*steps, "line 2"]


def _replies(i: int, step: str) -> list[str]:
    who = f"c{i:03d}"
    if step.startswith("line "):
        return [f"{who} reply {step[5:]}"]
    return {
        "wait": [f"{who} waiting", f"{who} timer"],
        "ticket": [f"{who} ticket ?"],  # the ticket system's id, checked at the end
        "agent": [f"{who} agent joined"],
        "bye": [f"{who} bye"],
    }[step]


@dataclass
class Progress:
    """When any caller last heard anything: a caller waiting for its answer fails only
    once nobody has heard a thing for ``WAIT`` seconds. A loaded machine answers slowly but
    keeps answering; a lost message leaves its caller waiting until everyone else is done,
    and then nothing moves."""

    callers: list[Caller] = field(default_factory=list)
    heard: int = 0
    moved: float = 0.0

    def stalled_for(self, now: float) -> float:
        heard = sum(len(c.vu.received) for c in self.callers)
        if heard != self.heard or not self.moved:
            self.heard, self.moved = heard, now
        return now - self.moved


@dataclass
class Caller:
    """One caller: what it said and what it must hear (see the module docstring)."""

    i: int
    vu: VirtualUser
    progress: Progress
    said: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    conv: str | None = None

    @property
    def who(self) -> str:
        return f"c{self.i:03d}"

    def heard(self) -> list[str]:
        return [m.text.strip() for m in self.vu.received]

    @property
    def timer_armed(self) -> bool:
        heard = self.heard()
        return f"{self.who} waiting" in heard and f"{self.who} timer" not in heard

    async def run(self, done: asyncio.Event, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, 2))  # callers arrive over two seconds
        for step in _script(self.i):
            await self.say(step)
            await asyncio.sleep(rng.uniform(0, THINK))
        n = 3
        while not done.is_set():  # more lines until the killing is over
            await self.say(f"line {n}")
            await asyncio.sleep(rng.uniform(THINK, 4 * THINK))
            n += 1
        await self.say("bye")
        await until(lambda: self.vu.state(self.conv) == "ended", f"{self.who}: the end")

    async def say(self, step: str) -> None:
        text = f"{self.who} {step}"
        self.said.append(text)
        if self.conv is None:
            self.conv = await self.vu.start_conversation(BOT, text)
        else:
            self.vu.send(text, self.conv)
        self.expected += _replies(self.i, step)
        loop = asyncio.get_running_loop()
        while not self._answered():
            assert self.progress.stalled_for(loop.time()) < WAIT, (
                f"{self.who} waits for an answer to {text!r}, and no caller has heard "
                f"anything for {WAIT:.0f} s"
            )
            with contextlib.suppress(TimeoutError):  # woken by each message it receives
                await self.vu.wait_for_message(timeout=0.5)

    def _answered(self) -> bool:
        if len(self.vu.received) >= len(self.expected):
            return True
        state = self.vu.state(self.conv)
        assert state not in ("failed", "ended"), (
            f"{self.who}: the conversation is {state} ({self.vu.reasons.get(self.conv or '')}); "
            f"heard {self.heard()}"
        )
        return False


# -- the stores -----------------------------------------------------------------------------


@contextlib.contextmanager
def _target(backend: str, tmp_path: Path) -> Iterator[tuple[list[str], Callable[[], Any]]]:
    """The ``run`` arguments for the bot's store, and how this test opens it."""
    if backend == "sqlite":
        path = tmp_path / "bot.sqlite3"
        yield ["--state", str(path)], lambda: open_store(path)
        return
    from tests.store.conftest import postgres_url

    base = postgres_url()
    schema = f"k_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    glue = "&" if "?" in base else "?"
    url = f"{base}{glue}options=-csearch_path%3D{schema}"
    try:
        yield ["--store", url], lambda: open_store(base, schema=schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# -- the test -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    backend: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("UCWA_FLOW_KILL_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\nkill test seed: {seed} (UCWA_FLOW_KILL_SEED={seed} repeats it)")
    with _target(backend, tmp_path) as (store_args, open_target):
        await _run(seed, store_args, open_target, tmp_path)


async def _run(
    seed: int, store_args: list[str], open_target: Callable[[], Any], tmp_path: Path
) -> None:
    users = [*default_users(), SimulatorUser(AGENT, "Agent"), *USERS]
    config = SimulatorConfig(users=users, invitation_timeout=120.0, seed=seed)
    sim = Simulator(config, SystemClock())
    progress = Progress()
    callers = progress.callers
    callers += [Caller(i, sim.virtual_user(u.uri), progress) for i, u in enumerate(USERS)]
    agent = sim.virtual_user(AGENT)
    killer = Killer(SCHEDULE, lambda: sum(c.timer_armed for c in callers), agent, seed)
    slow = {c.who for c in callers if c.i % 4 == 1}
    desk = TicketDesk(
        slow=lambda body: isinstance(body, dict) and body.get("who") in slow,
        kills=lambda: len(killer.kills),
        released=killer.done,
    )
    killer.tickets_held = lambda: desk.held
    killer.watch = Watch(sim, BOT, killer.kill)
    flow = tmp_path / "kill-desk.flow.yaml"
    logs = tmp_path / "logs"
    logs.mkdir()
    finished = asyncio.Event()
    try:
        async with serve_app(desk) as hook_url, serve_app(killer.watch) as url:
            text = FLOW.replace("HOOK_URL", repr(hook_url)).replace("AGENT", repr(AGENT))
            flow.write_text(text, encoding="utf-8")
            args = ["run", str(flow), "--server", url, "--user", BOT, "--password", PASSWORD]
            bot = killer.bot = BotProcess([*args, *store_args], logs)
            answering = asyncio.create_task(answer_invitations(agent, killer, finished))
            try:
                bot.start()
                await until(lambda: killer.watch is not None and killer.watch.ready, "the bot")
                bot.prepare()
                rng = random.Random(seed)
                talks = [c.run(killer.done, random.Random(rng.random())) for c in callers]
                try:
                    await asyncio.gather(killer.run(), *talks)
                except AssertionError as exc:
                    raise AssertionError(f"{exc}\n{_summary(killer, desk)}\n{bot.tail()}") from exc
                desk.released.set()
                await _sent_everything(open_target)
                status = await bot.stop()
                assert status == 0, f"the last bot process ended with {status}\n{bot.tail()}"
            finally:
                finished.set()
                desk.released.set()
                answering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await answering
                await bot.close()
    finally:
        sim.close()
    summary = _summary(killer, desk)
    print(summary)
    _check_callers(callers, desk, f"{summary}\n{_doubles(killer.watch)}")
    _check_kills(killer, desk, slow, summary)
    store = await open_target()
    try:
        await _check_store(store, callers[0])
    finally:
        await store.aclose()


def _summary(killer: Killer, desk: TicketDesk) -> str:
    reasons = collections.Counter(k.why for k in killer.kills)
    return (
        f"{len(killer.kills)} kills ({dict(reasons)}); at the kills: "
        f"{sum(k.timers for k in killer.kills)} armed timers, "
        f"{sum(k.tickets for k in killer.kills)} tickets pending, "
        f"{sum(k.ringing for k in killer.kills)} invitations ringing; "
        f"{len(desk.retried)} ticket keys sent again; a restart signed in after "
        f"{max(killer.restarts, default=0):.2f} s at most"
    )


def _doubles(watch: Watch | None) -> str:
    """Each text the simulator performed more than once: by which processes, and with which
    OperationContext (the same one: sent again from the outbox; another: decided twice)."""
    seen: dict[str, list[str]] = collections.defaultdict(list)
    for process, context, text in watch.sent if watch is not None else ():
        seen[text].append(f"bot-{process} {context[:8]}")
    doubles = {text: where for text, where in seen.items() if len(where) > 1}
    return f"performed twice: {doubles}" if doubles else ""


def _check_callers(callers: list[Caller], desk: TicketDesk, summary: str) -> None:
    by_who = collections.defaultdict(list)
    for key, body in desk.bodies.items():
        by_who[body["who"]].append(desk.tickets[key])
    for caller in callers:
        tickets = by_who.get(caller.who, [])
        assert len(tickets) == 1, f"{caller.who}: tickets {tickets} made; {summary}"
        expected = [text.replace("ticket ?", f"ticket {tickets[0]}") for text in caller.expected]
        assert caller.heard() == expected, (
            f"{caller.who} said {caller.said}\nheard {caller.heard()}\nnot {expected}\n{summary}"
        )
    assert not desk.mismatched, desk.mismatched


def _check_kills(killer: Killer, desk: TicketDesk, slow: set[str], summary: str) -> None:
    kills = killer.kills
    assert len(kills) >= 20, summary
    assert any(k.why == "send-answered" for k in kills), summary
    assert any(k.timers for k in kills), summary
    assert any(k.tickets for k in kills), summary
    assert any(k.ringing for k in kills), summary
    retried = {desk.bodies[key]["who"] for key in desk.retried}
    crossed = {desk.bodies[key]["who"] for key in desk.crossed}
    assert crossed, f"no ticket call was pending at a kill; {summary}"
    assert crossed <= slow, crossed - slow
    missing = sorted(crossed - retried)
    assert not missing, f"calls pending at a kill not sent again: {missing}; {summary}"


async def _sent_everything(open_target: Callable[[], Any]) -> None:
    """Wait until the running bot has committed the outcome of everything it sent (a Ctrl-C
    right after the callers' last answers would find the last requests still under way:
    they are then left for the next start, as they should be, but this test ends here)."""
    store = await open_target()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while (outbox := (await store.load(BOT)).outbox) != ():
            assert loop.time() < deadline, f"never committed as done: {outbox[:3]}"
            await asyncio.sleep(0.05)
    finally:
        await store.aclose()


async def _check_store(store: Store, caller: Caller) -> None:
    """The store agrees: nothing left to send, every conversation ended, and one caller's
    history is the conversation as it was, once, through every restart."""
    snapshot = await store.load(BOT)
    assert snapshot.outbox == (), snapshot.outbox[:3]
    assert snapshot.conversations == (), [r.state for r in snapshot.conversations[:3]]
    (record,) = await store.conversations(ConversationQuery(caller=caller.vu.uri))
    assert record.status == "ended"
    lines = await store.transcript(record.account, record.conversation)
    said = [
        ((line.data or {}).get("text") or "").strip()
        for line in lines
        if line.kind in ("message_in", "message_out")
    ]
    ins = [line for line in lines if line.kind == "message_in"]
    outs = [line for line in lines if line.kind == "message_out"]
    assert [((line.data or {}).get("text") or "").strip() for line in ins] == caller.said
    assert [((line.data or {}).get("text") or "").strip() for line in outs] == caller.heard()
    assert all(line.outcome == "sent" for line in outs), [line.outcome for line in outs]
    assert len(said) == len(caller.said) + len(caller.heard())

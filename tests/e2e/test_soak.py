"""Soak: the bot answers 100 callers through random faults (5% of its requests, every kind).

The simulator runs on a real socket (a ``drop`` fault needs one) with a
:class:`~ucwa_flow.simulator.FaultPlan` on every request of the bot: 503/500 answers,
dropped answers, slow answers, replaced and resynchronised P-GETs, application and token
expiry, duplicated event batches. The callers are simulator virtual users: the bot is what
is under test, and callers that are never faulted can tell exactly what reached them.

Each caller sends numbered lines ``caller <i> line <n>``, waiting for the echo of one
(and a few virtual seconds of "thinking") before it sends the next, so the run spans a few
minutes of virtual time, with back-offs, slow answers and P-GET holds in it.

Nothing depends on how fast the machine is: a :class:`~tests.e2e.pacer.Pacer` moves the
shared :class:`ManualClock` to its next due timer only when the stage is quiet (the server
works on nothing but held P-GETs and slowed answers, the bot has nothing else out, no caller
is about to act). Virtual time so never passes while the bot works: a token issued and used
at once is the same virtual second old however slow the machine is, and an invitation is
never left unanswered because the machine was busy. Real time only bounds waits that end
when a test fails.

"Every message answered exactly once, in order" when the server may end conversations:
an application expiry ends all of the bot's conversations on the server (UCWA semantics),
and a resync makes the bot end them itself (it can no longer trust what it knows of them).
A caller whose conversation ended before its line was answered does what a person does:
starts a new conversation with the unanswered line. So the rule is checked per caller,
over all of its conversations: the echoes it received are exactly lines 0, 1, ..., N-1,
each once, in order. A line answered twice (a duplicated event, a retried POST that had
been performed), an answer lost (a failed POST not retried, an event skipped) or an answer
out of order fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import re

from tests.e2e.harness import BOT, stage
from tests.e2e.pacer import Pacer
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.simulator import FaultPlan, SimulatorUser, VirtualUser, default_users

CALLERS = 100
LINES = 3  # numbered lines per caller
USERS = [SimulatorUser(f"sip:soak{i:03d}@contoso.com", f"Soak {i:03d}") for i in range(CALLERS)]

FLOW = """\
version: 1
name: soak-echo
start: echo
settings:
  idle_timeout: 2h
states:
  echo:
    enter:
      - say: Hi {{ caller.name }}!
    messages:
      - any: true
        say: "You said: {{ message }}"
"""
_ECHO = re.compile(r"You said: caller (\d+) line (\d+)")


def _flow() -> Flow:
    result = load_flow_text(FLOW, "soak-echo.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


async def test_100_callers_through_5_percent_random_faults_each_answered_once_in_order() -> None:
    plan = FaultPlan(0.05, seed=2026, user=BOT, cover=True)
    task: asyncio.Task[None] | None = None
    try:
        async with stage(_flow(), users=[*default_users(), *USERS], invitation_timeout=300.0) as s:
            s.sim.faults.plan = plan
            pacer = Pacer(s)
            task = asyncio.create_task(pacer.run())
            restarts: list[int] = [0] * CALLERS
            await asyncio.gather(
                *(
                    _caller(s.sim.virtual_user(u.uri), i, pacer, restarts)
                    for i, u in enumerate(USERS)
                )
            )
            later = s.clock.monotonic() + 60
            await pacer.until(lambda: s.clock.monotonic() >= later, "a minute for late duplicates")
            s.sim.faults.plan = None
            summary = (
                f"{plan.summary()}; {sum(restarts)} conversations restarted; "
                f"{s.clock.monotonic():.0f} s of virtual time in {pacer.steps} steps"
            )
            print(f"\nsoak: {summary}")
            for i, user in enumerate(USERS):
                received = s.sim.virtual_user(user.uri).received
                echoes = _echoes(s.sim.virtual_user(user.uri), i)
                assert echoes == list(range(LINES)), f"{user.uri} got echoes {echoes}; {summary}"
                greeting = f"Hi {user.name}!"
                others = [
                    m.text
                    for m in received
                    if not _ECHO.fullmatch(m.text.strip()) and m.text.strip() != greeting
                ]
                assert not others, f"{user.uri} also heard {others}"
            missing = [kind for kind, count in plan.counts.items() if count == 0]
            assert not missing, f"never injected: {missing}; {summary}"
            assert s.clock.monotonic() >= 180, summary  # a few minutes of virtual time
            # the clock keeps moving while the stage closes: a bot request may still be in a
            # back-off or a slow answer, and both wait on virtual time
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _caller(vu: VirtualUser, i: int, pacer: Pacer, restarts: list[int]) -> None:
    """Send lines 0..LINES-1, one at a time; start again when the conversation ends."""
    rng = random.Random(i)
    clock = pacer.stage.clock
    await clock.sleep(rng.uniform(0, 120))  # callers arrive over two minutes
    conv: str | None = None
    while (n := len(_echoes(vu, i))) < LINES:
        line = f"caller {i} line {n}"
        if conv is not None and vu.state(conv) == "connected":
            try:
                vu.send(line, conv)
            except RuntimeError:  # ended just now: start again below
                continue
        else:
            restarts[i] += conv is not None
            conv = await vu.start_conversation(BOT, line)
        await pacer.until(
            functools.partial(_answered_or_ended, vu, i, n, conv),
            f"{vu.uri}: an echo of {line!r} or the end of its conversation",
            vu,
        )
        await clock.sleep(rng.uniform(5, 20))  # thinking
    if conv is not None and vu.state(conv) == "connected":
        with contextlib.suppress(LookupError, RuntimeError):
            vu.hang_up(conv)


def _answered_or_ended(vu: VirtualUser, i: int, n: int, conv: str) -> bool:
    return len(_echoes(vu, i)) > n or vu.state(conv) in ("ended", "failed")


def _echoes(vu: VirtualUser, i: int) -> list[int]:
    numbers = []
    for message in vu.received:
        found = _ECHO.fullmatch(message.text.strip())
        if found is not None:
            assert int(found.group(1)) == i, f"{vu.uri} got another caller's echo: {message.text}"
            numbers.append(int(found.group(2)))
    return numbers

"""A worker frozen in the middle of sending a reply: the new owner sends it, the old one never.

Two ``ucwa-flow serve`` workers on one PostgreSQL store share two accounts (one each). One
of them runs :mod:`tests.e2e.frozen_serve`: armed, it stops its own process (``SIGSTOP``)
in the middle of its next ``sendMessage``, after the request's headers were written and
before its body. That is where an outside ``SIGSTOP`` lands now and then when a worker has
many sends under way (right after it took accounts over and settles the messages in
doubt it inherited): the earlier version of ``test_failover`` caught it twice.

The other worker takes the frozen one's account over once its lease expires, finds the
reply in its outbox, not reported by the event channel (the server has not got the whole
request), and sends it. Then ``SIGCONT``: the frozen worker must not finish its request,
or the caller hears the reply twice. At the end every caller heard each of its lines
answered exactly once, in order (after both workers stopped).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
from pathlib import Path

import httpx

from tests.e2e.failover_world import PASSWORD, Caller, bot, deployment, schema
from tests.e2e.serving import ServeProcess, eventually
from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users
from ucwa_flow.simulator.server import serve
from ucwa_flow.store import open_store
from ucwa_flow.store.leases import LeaseBook

ACCOUNTS = ["d1", "d2"]
PER_ACCOUNT = 3
LEASE, HEARTBEAT = 3.0, 0.5


async def test_a_worker_frozen_mid_send_does_not_send_the_reply_its_successor_sent(
    tmp_path: Path,
) -> None:
    users = [
        SimulatorUser(f"sip:c{i:03d}@contoso.com", f"Caller {i:03d}")
        for i in range(PER_ACCOUNT * len(ACCOUNTS))
    ]
    bots = [SimulatorUser(bot(a), a, PASSWORD) for a in ACCOUNTS]
    # the new owner settles its doubt after two batches, the second built after its marker
    # (a presence update, held the medium hold when nothing else happens): 0.5 s, not 5 s
    config = SimulatorConfig(users=[*default_users(), *bots, *users], medium_hold=0.5)
    sim = Simulator(config, SystemClock())
    callers = [Caller(sim, user, i, ACCOUNTS[i % len(ACCOUNTS)]) for i, user in enumerate(users)]
    armed = tmp_path / "freeze.arm"
    env = {"DESK_PASSWORD": PASSWORD, "UCWA_FLOW_TEST_FREEZE": str(armed)}
    with schema() as (base, name, store_url):
        book = LeaseBook(await open_store(base, schema=name))
        try:
            async with serve(sim) as url:
                deploy = deployment(tmp_path, store_url, ACCOUNTS, LEASE, HEARTBEAT)
                args = [str(deploy), "--server", url]
                steady = ServeProcess(args, tmp_path / "steady.log", env)
                frozen = ServeProcess(
                    args, tmp_path / "frozen.log", env, module="tests.e2e.frozen_serve"
                )
                try:
                    for proc in (steady, frozen):
                        proc.start()
                        await proc.listening()
                    await _scenes(book, steady, frozen, callers, armed)
                finally:
                    for proc in (steady, frozen):
                        if proc.proc is not None:
                            proc.signal(signal.SIGCONT)
                        await proc.close()
        finally:
            await book.store.aclose()
            sim.close()
    wrong = [c for c in callers if c.heard() != c.expected]
    assert not wrong, "\n".join(f"{c.who} ({c.account}) heard {c.heard()}" for c in wrong)


async def _scenes(
    book: LeaseBook,
    steady: ServeProcess,
    frozen: ServeProcess,
    callers: list[Caller],
    armed: Path,
) -> None:
    async def owners() -> dict[str, int]:
        """Account (user) -> pid of the worker that holds a valid lease of it."""
        pids = {w.id: w.pid for w in await book.workers()}
        return {
            lease.account: pids[lease.worker]
            for lease in await book.owners()
            if lease.valid and lease.worker in pids
        }

    async def one_each() -> bool:
        held = await owners()
        if len(held) != len(ACCOUNTS) or set(held.values()) != {steady.pid, frozen.pid}:
            return False
        # and each serves what it holds: a lease comes before the sign-in, and a caller of a
        # bot not signed in yet is told it is unavailable (seen on a loaded machine)
        for proc in (steady, frozen):
            async with proc.admin() as admin:
                with contextlib.suppress(httpx.HTTPError):
                    if (await admin.get("/readyz")).status_code == 200:
                        continue
            return False
        return True

    await eventually(one_each, "one account each", steady, frozen)
    rng = random.Random(13)
    await asyncio.gather(*(c.say(0) for c in callers))  # every conversation started
    mine = next(a for a, pid in (await owners()).items() if pid == frozen.pid)
    theirs = [c for c in callers if bot(c.account) == mine]

    await asyncio.to_thread(armed.touch)
    victim = rng.choice(theirs)
    answer = asyncio.create_task(victim.say(1))  # its reply freezes the worker half-sent

    async def half_sent() -> bool:
        return armed.with_suffix(".frozen").exists() and frozen.stopped()

    await eventually(half_sent, "the worker to freeze in the middle of a reply", frozen)

    async def taken_over() -> bool:
        return set((await owners()).values()) == {steady.pid}

    await eventually(taken_over, "the other worker to take the account over", steady)
    await answer  # the new owner sent the reply that was in doubt
    frozen.signal(signal.SIGCONT)
    account = mine.removeprefix("sip:").split("@")[0]
    dropped = re.compile(rf"\b{account}: worker \S+ stops serving it")

    async def resumed_and_dropped() -> bool:
        return dropped.search(frozen.output()) is not None

    await eventually(resumed_and_dropped, "the resumed worker to drop the account", frozen)
    await eventually(one_each, "one account each again", steady, frozen)
    await asyncio.gather(*(c.say(2) for c in callers))  # everyone carries on
    for proc in (steady, frozen):
        proc.signal(signal.SIGTERM)
    for proc in (steady, frozen):
        assert await proc.wait() == 0, proc.tail()

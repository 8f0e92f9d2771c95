"""Waiting for the mailboxes to drain (:meth:`Mailboxes.drained`): what a durable engine
does after handing over each event batch, before it commits.

Each waiter waits on a future of its own: several may wait at once, cancelling one leaves
the others (and what :meth:`Mailboxes.running` handed out) alone, and with nothing queued
the wait returns without giving up its turn.
"""

from __future__ import annotations

import asyncio

import pytest

from ucwa_flow.runtime.mailboxes import Job, Mailboxes
from ucwa_flow.runtime.runner import Runner


def _gated(seen: list[str], name: str, gate: asyncio.Event) -> Job:
    async def run() -> None:
        await gate.wait()
        seen.append(name)

    return run


async def test_with_nothing_queued_it_returns_at_once() -> None:
    boxes = Mailboxes(lambda href: None, Runner())
    waiting = boxes.drained()
    with pytest.raises(StopIteration):
        waiting.send(None)  # done without suspending once


async def test_several_waiters_all_wake_once_every_job_has_run() -> None:
    seen: list[str] = []
    gate = asyncio.Event()
    boxes = Mailboxes(lambda href: None, Runner())
    boxes.post("a", _gated(seen, "a", gate))
    boxes.post("b", _gated(seen, "b", gate))
    waiters = [asyncio.create_task(boxes.drained()) for _ in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    gate.set()
    await asyncio.gather(*waiters)
    assert sorted(seen) == ["a", "b"]
    assert not boxes.busy


async def test_it_waits_for_the_jobs_the_jobs_post() -> None:
    seen: list[str] = []
    gate = asyncio.Event()
    boxes = Mailboxes(lambda href: None, Runner())

    async def first() -> None:
        seen.append("first")
        boxes.post("other", _gated(seen, "posted", gate))

    boxes.post("a", first)
    waiter = asyncio.create_task(boxes.drained())
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen == ["first"]
    assert not waiter.done()
    gate.set()
    await waiter
    assert seen == ["first", "posted"]


async def test_a_cancelled_waiter_leaves_the_others_waiting() -> None:
    seen: list[str] = []
    gate = asyncio.Event()
    boxes = Mailboxes(lambda href: None, Runner())
    boxes.post("a", _gated(seen, "a", gate))
    [running] = boxes.running()  # what Engine.idle waits on
    cancelled = asyncio.create_task(boxes.drained())
    kept = asyncio.create_task(boxes.drained())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert not kept.done()
    assert not running.done()
    gate.set()
    await kept
    assert running.done()
    assert not running.cancelled()
    assert seen == ["a"]


async def test_cancelling_the_runner_wakes_the_waiters() -> None:
    gate = asyncio.Event()
    runner = Runner()
    boxes = Mailboxes(lambda href: None, runner)
    boxes.post("a", _gated([], "a", gate))
    waiter = asyncio.create_task(boxes.drained())
    await asyncio.sleep(0)
    assert not waiter.done()
    runner.cancel()  # the engine closes: nothing is left to wait for
    await waiter
    assert not boxes.busy
    await asyncio.gather(*runner.tasks, return_exceptions=True)

"""The runner (:mod:`ucwa_flow.runtime.runner`): conversations' steps and sends in turns.

One task runs the steps that never wait; what the engine promised with a task per step
still holds: posting only queues, each conversation's jobs run in order, a step that waits
holds up nobody else (and keeps one task throughout: timeouts and cancellation reach it),
a failing job is logged and the next one runs, and sends stay in order per conversation
while different conversations' sends are in flight at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from ucwa_flow.runtime.mailboxes import Mailboxes
from ucwa_flow.runtime.outbox import Outgoing, Sender, Sent
from ucwa_flow.runtime.runner import ROUND, Runner

Job = Callable[[], Coroutine[Any, Any, None]]


def _job(seen: list[str], name: str, gate: asyncio.Event | None = None) -> Job:
    async def run() -> None:
        seen.append(f"{name} start")
        if gate is not None:
            await gate.wait()
        seen.append(f"{name} end")

    return run


async def test_posting_only_queues_and_each_conversation_keeps_its_order() -> None:
    seen: list[str] = []
    after: list[str] = []
    boxes = Mailboxes(after.append, Runner())
    for n in range(3):
        for href in ("a", "b", "c"):
            boxes.post(href, _job(seen, f"{href}{n}"))
    assert seen == []  # nothing runs before the poster's next await
    assert boxes.running()
    await boxes.drained()
    assert not boxes.busy
    for href in ("a", "b", "c"):
        mine = [entry for entry in seen if entry.startswith(href)]
        assert mine == [f"{href}{n} {part}" for n in range(3) for part in ("start", "end")]
    assert sorted(after) == sorted(["a", "b", "c"] * 3)


async def test_a_step_that_waits_holds_up_its_own_conversation_only() -> None:
    seen: list[str] = []
    gate = asyncio.Event()
    runner = Runner()
    boxes = Mailboxes(lambda href: None, runner)
    boxes.post("slow", _job(seen, "slow1", gate))
    boxes.post("slow", _job(seen, "slow2"))
    boxes.post("fast", _job(seen, "fast1"))
    boxes.post("fast", _job(seen, "fast2"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen == ["slow1 start", "fast1 start", "fast1 end", "fast2 start", "fast2 end"]
    boxes.post("fast", _job(seen, "fast3"))  # posted while the slow step waits
    boxes.post("slow", _job(seen, "slow3"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen[-2:] == ["fast3 start", "fast3 end"]
    assert "slow2 start" not in seen
    assert boxes.running()
    gate.set()
    await boxes.drained()
    slow = [entry for entry in seen if entry.startswith("slow")]
    assert slow == [f"slow{n} {part}" for n in (1, 2, 3) for part in ("start", "end")]
    assert not runner.tasks


async def test_a_step_that_waits_keeps_one_task_so_a_timeout_reaches_it() -> None:
    tasks: list[asyncio.Task[object] | None] = []
    outcome: list[str] = []
    boxes = Mailboxes(lambda href: None, Runner())

    async def step() -> None:
        tasks.append(asyncio.current_task())
        try:
            async with asyncio.timeout(0):  # cancels the step's task at the next round
                await asyncio.Event().wait()
        except TimeoutError:
            outcome.append("timed out")
        tasks.append(asyncio.current_task())

    boxes.post("a", step)
    boxes.post("b", _job(outcome, "b"))
    await boxes.drained()
    assert outcome == ["b start", "b end", "timed out"]
    assert tasks[0] is not None
    assert tasks[0] is tasks[1]


async def test_a_failing_job_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    boxes = Mailboxes(lambda href: None, Runner())

    async def broken() -> None:
        raise RuntimeError("a bug in a step")

    boxes.post("a", broken)
    boxes.post("a", _job(seen, "a2"))
    with caplog.at_level(logging.ERROR, "ucwa_flow.runtime"):
        await boxes.drained()
    assert seen == ["a2 start", "a2 end"]
    assert "a: unexpected error in the flow runtime" in caplog.text
    assert "a bug in a step" in caplog.text


async def test_a_long_queue_lets_the_event_loop_go_round() -> None:
    rounds = 0
    stop = False

    async def ticker() -> None:
        nonlocal rounds
        while not stop:
            rounds += 1
            await asyncio.sleep(0)

    seen: list[str] = []
    boxes = Mailboxes(lambda href: None, Runner())
    for n in range(3 * ROUND):
        boxes.post(f"c{n}", _job(seen, f"c{n}"))
    tick = asyncio.create_task(ticker())
    await boxes.drained()
    stop = True
    await tick
    assert len(seen) == 6 * ROUND
    assert rounds >= 3  # other tasks ran between the runner's turns


class _Port:
    """Sends that wait until the test lets them go; the order of requests is noted."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.go = asyncio.Event()

    async def send_message(
        self, href: str, text: str, html: str | None, *, operation_context: str | None = None
    ) -> str:
        self.requests.append(text)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.go.wait()
        self.in_flight -= 1
        return f"{href}/m/{text}"


async def test_sends_keep_their_order_per_conversation_and_run_side_by_side() -> None:
    port = _Port()
    reports: list[Sent] = []
    runner = Runner()
    sender = Sender(port, lambda *sent: reports.append(Sent(*sent)), runner)  # type: ignore[arg-type]
    items = [
        Outgoing(conv, "message", f"/{conv}/send", f"{conv}{n}")
        for n in range(3)
        for conv in ("a", "b")
    ]
    sender.send(items)
    assert port.requests == []  # queued, not started
    for _ in range(5):
        await asyncio.sleep(0)
    assert port.requests == ["a0", "b0"]  # one request per conversation at a time
    assert port.most_in_flight == 2
    port.go.set()
    while sender.running():
        await asyncio.wait(sender.running())
    assert [sent.item.text for sent in reports if sent.item.conversation == "a"] == [
        "a0",
        "a1",
        "a2",
    ]
    assert [r.message for r in reports if r.item.conversation == "b"] == [
        "/b/send/m/b0",
        "/b/send/m/b1",
        "/b/send/m/b2",
    ]
    assert not sender.busy
    assert not runner.tasks


async def test_an_idle_runner_task_is_woken_for_new_work_and_cancelled_with_the_runner() -> None:
    seen: list[str] = []
    runner = Runner()
    boxes = Mailboxes(lambda href: None, runner)
    boxes.post("a", _job(seen, "a1"))
    await boxes.drained()
    await asyncio.sleep(0)  # the runner task goes round once more and waits for work
    assert not runner.tasks  # waiting for work is not work
    (idle,) = runner._tasks  # the one task, kept
    boxes.post("b", _job(seen, "b1"))
    await boxes.drained()
    assert seen == ["a1 start", "a1 end", "b1 start", "b1 end"]
    assert runner._tasks == {idle}  # woken, not replaced by a new task

    runner.cancel()  # the engine closes while its runner task waits for work
    await asyncio.gather(idle, return_exceptions=True)
    await asyncio.sleep(0)  # its done callbacks run
    assert idle.cancelled()
    assert not runner._tasks
    boxes.post("c", _job(seen, "c1"))  # a later start gets a new task
    await boxes.drained()
    assert seen[-2:] == ["c1 start", "c1 end"]


async def test_jobs_started_after_a_cancel_from_inside_a_job_get_a_new_task() -> None:
    # the serving task, cancelled by its own job, went on serving the queue: a job started
    # later in the same step ran on it, and its first wait raised its task's cancellation
    runner = Runner()
    ran: list[tuple[str, asyncio.Task[Any] | None]] = []
    later_done = asyncio.Event()

    async def later() -> None:
        ran.append(("later", asyncio.current_task()))
        await asyncio.sleep(0)
        later_done.set()

    async def closing() -> None:
        ran.append(("closing", asyncio.current_task()))
        runner.cancel()  # the engine closes from within a step
        runner.start(later())

    runner.start(closing())
    while runner.tasks:  # (the one serving, then the one later carries on in)
        await asyncio.gather(*runner.tasks, return_exceptions=True)
    assert later_done.is_set(), ran
    (_, cancelled), (_, serving) = ran
    assert serving is not None
    assert serving is not cancelled
    assert cancelled is not None
    assert cancelled.cancelled()

"""The runner (:mod:`ucwa_flow.runtime.runner`) when things go wrong: a coroutine's own
cancellation, a cancelled runner, a failing ``after`` or send. Nothing queued is stranded,
nobody waits for what was dropped, and what fails is logged under its own conversation.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.guards import WAIT
from tests.runtime.conftest import load
from tests.runtime.test_engine_lost import RecordingPort
from tests.runtime.test_runner import _job
from ucwa_flow import logcontext
from ucwa_flow.clock import ManualClock
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.mailboxes import Mailboxes
from ucwa_flow.runtime.outbox import Outgoing, Sender, Sent
from ucwa_flow.runtime.runner import Runner


async def _rounds(n: int = 10) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def _waiting_mailbox() -> tuple[list[str], Runner, Mailboxes]:
    """Mailboxes whose conversation ``slow`` has a job that waits for ever, in a task of its
    own; what the jobs do is noted in ``seen``."""
    seen: list[str] = []
    runner = Runner()
    boxes = Mailboxes(lambda href: None, runner)
    boxes.post("slow", _job(seen, "slow", asyncio.Event()))
    await _rounds()
    return seen, runner, boxes


async def _cancelled_at_once() -> None:
    """Raises CancelledError in its first part: it awaits a future already cancelled."""
    future = asyncio.get_running_loop().create_future()
    future.cancel()
    await future


async def test_a_coroutine_s_own_cancellation_is_logged_and_the_queue_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    runner = Runner()
    runner.start(_cancelled_at_once())
    runner.start(_job(seen, "b")())
    with caplog.at_level(logging.ERROR, "ucwa_flow.runtime"):
        await _rounds()
    assert seen == ["b start", "b end"]
    assert not runner.tasks
    assert "unexpected error in the flow runtime" in caplog.text
    assert "CancelledError" in caplog.text


async def test_a_mailbox_job_s_own_cancellation_is_logged_and_its_mailbox_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    boxes = Mailboxes(lambda href: None, Runner())
    boxes.post("a", _cancelled_at_once)
    boxes.post("a", _job(seen, "a2"))
    boxes.post("b", _job(seen, "b"))
    with caplog.at_level(logging.ERROR, "ucwa_flow.runtime"):
        await _rounds()
    assert sorted(seen) == ["a2 end", "a2 start", "b end", "b start"]
    assert not boxes.busy
    assert boxes.running() == []
    assert "a: unexpected error in the flow runtime" in caplog.text


async def test_when_a_coroutine_cancels_the_runner_task_a_new_task_serves_the_rest() -> None:
    seen: list[str] = []
    runner = Runner()
    tasks: list[asyncio.Task[object] | None] = []

    async def cancels_its_task() -> None:
        task = asyncio.current_task()
        tasks.append(task)
        assert task is not None
        task.cancel()
        await _cancelled_at_once()  # the task's own cancellation: the runner task ends

    runner.start(cancels_its_task())
    runner.start(_job(seen, "b")())
    await _rounds()
    assert seen == ["b start", "b end"]
    assert tasks[0] is not None
    assert tasks[0].cancelled()
    assert not runner.tasks


async def test_a_failure_is_logged_in_the_context_of_the_coroutine_that_failed() -> None:
    logged: list[dict[str, str]] = []

    class Note(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(logcontext.fields())

    handler = Note(logging.ERROR)
    logger = logging.getLogger("ucwa_flow.runtime")
    logger.addHandler(handler)
    try:
        runner = Runner()
        gate = asyncio.Event()
        with logcontext.bind(conversation="A"):  # the runner task copies this context
            runner.start(gate.wait())  # type: ignore[arg-type]

        async def fails(bound: str | None) -> None:
            if bound is not None:
                logcontext.bind_one("conversation", bound)
            raise RuntimeError("a bug")

        with logcontext.bind(conversation="C"):
            runner.start(fails(None))
        runner.start(fails("B"))
        await _rounds()
        assert logged == [{"conversation": "C"}, {"conversation": "B"}]
        gate.set()
        await _rounds()
    finally:
        logger.removeHandler(handler)


async def test_after_a_cancel_nothing_is_waited_for_and_a_new_post_runs() -> None:
    seen, runner, boxes = await _waiting_mailbox()
    boxes.post("slow", _job(seen, "slow2"))
    boxes.post("a", _job(seen, "a"))  # queued: a new runner task, not started yet
    runner.cancel()
    assert not boxes.busy
    assert boxes.running() == []
    await asyncio.gather(*runner.tasks, return_exceptions=True)
    assert seen == ["slow start"]
    assert not runner.tasks
    boxes.post("a", _job(seen, "a again"))  # the engine may still be handed work
    boxes.post("slow", _job(seen, "slow again"))
    async with asyncio.timeout(WAIT):
        await boxes.drained()
    assert seen[1:] == ["a again start", "a again end", "slow again start", "slow again end"]
    assert not boxes.busy


async def test_a_start_right_after_a_cancel_gets_a_task_that_runs_it() -> None:
    seen: list[str] = []
    runner = Runner()
    runner.start(_job(seen, "dropped")())
    runner.cancel()  # its task is cancelled before its first step
    runner.start(_job(seen, "kept")())
    await _rounds()
    assert seen == ["kept start", "kept end"]
    assert not runner.tasks


async def test_after_a_failing_after_the_mailbox_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def after(href: str) -> None:
        raise RuntimeError("a bug in after")

    boxes = Mailboxes(after, Runner())
    boxes.post("a", _job(seen, "a1"))
    boxes.post("a", _job(seen, "a2"))
    with caplog.at_level(logging.ERROR, "ucwa_flow.runtime"):
        await _rounds()
    assert seen == ["a1 start", "a1 end", "a2 start", "a2 end"]
    assert not boxes.busy
    assert "a bug in after" in caplog.text


class _Port:
    """Sends that wait for ``go``; ``broken`` texts fail with an unexpected error."""

    def __init__(self, *broken: str) -> None:
        self.requests: list[str] = []
        self.broken = broken
        self.go = asyncio.Event()

    async def send_message(
        self, href: str, text: str, html: str | None, *, operation_context: str | None = None
    ) -> str:
        self.requests.append(text)
        if text in self.broken:
            raise ValueError(f"a bug sending {text}")
        await self.go.wait()
        return f"{href}/m/{text}"


async def test_a_cancelled_runner_leaves_no_send_to_wait_for() -> None:
    port = _Port()
    reports: list[Sent] = []
    runner = Runner()
    sender = Sender(port, lambda *sent: reports.append(Sent(*sent)), runner)  # type: ignore[arg-type]
    sender.send([Outgoing("a", "message", "/a/send", "a0")])
    await _rounds()  # a0 is under way, in a task of its own
    sender.send([Outgoing(c, "message", f"/{c}/send", f"{c}1") for c in ("a", "b")])
    runner.cancel()
    assert not sender.busy
    assert sender.running() == []
    await asyncio.gather(*runner.tasks, return_exceptions=True)
    assert port.requests == ["a0"]
    assert reports == []
    port.go.set()
    sender.send([Outgoing("a", "message", "/a/send", "a2")])
    async with asyncio.timeout(WAIT):
        while sender.running():
            await asyncio.wait(sender.running())
    assert [r.message for r in reports] == ["/a/send/m/a2"]


async def test_an_unexpected_send_failure_is_reported_and_the_rest_go_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _Port("a0")
    port.go.set()
    reports: list[Sent] = []
    sender = Sender(port, lambda *sent: reports.append(Sent(*sent)), Runner())  # type: ignore[arg-type]
    sender.send([Outgoing("a", "message", "/a/send", f"a{n}") for n in range(2)])
    with caplog.at_level(logging.ERROR, "ucwa_flow.runtime"):
        async with asyncio.timeout(WAIT):
            while sender.running():
                await asyncio.wait(sender.running())
    assert port.requests == ["a0", "a1"]
    assert isinstance(reports[0].error, ValueError)
    assert reports[1].message == "/a/send/m/a1"
    assert "a: unexpected error sending a message" in caplog.text


async def test_a_job_dropped_as_the_engine_closes_leaves_it_idle_and_closable_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A durable bot closes with ``aclose(stop=False)``, and again if its last commit
    fails (:meth:`Bot._close_durable`): a job posted during the first one is dropped, and
    the second must not wait for it."""
    seen: list[str] = []
    engine = Engine(load("echo"), RecordingPort(), ManualClock())

    async def withdraw_outbound() -> None:  # an input arrives while the engine closes
        engine.post("/late", _job(seen, "late"))

    monkeypatch.setattr(engine.invitations, "withdraw_outbound", withdraw_outbound)
    await engine.aclose(stop=False)
    assert not engine.busy
    async with asyncio.timeout(WAIT):
        await engine.aclose(stop=False)
        await engine.idle()
    assert seen == []


async def test_jobs_left_by_a_cancelled_drain_run_in_order_at_the_next_post() -> None:
    seen, runner, boxes = await _waiting_mailbox()
    (carrier,) = runner.tasks
    boxes.post("slow", _job(seen, "slow2"))
    boxes.post("slow", _job(seen, "slow3"))
    carrier.cancel()  # the task, not the job: the drain ends with two jobs left
    await asyncio.gather(carrier, return_exceptions=True)
    assert seen == ["slow start"]
    assert not boxes.busy
    assert boxes.running() == []
    boxes.post("other", _job(seen, "other"))
    await _rounds()
    assert seen == ["slow start", "other start", "other end"]  # the jobs left wait
    boxes.post("slow", _job(seen, "slow4"))  # and run, first, with the next one
    async with asyncio.timeout(WAIT):
        await boxes.drained()
    assert seen[3:] == [f"slow{n} {part}" for n in (2, 3, 4) for part in ("start", "end")]
    assert not boxes.busy
    boxes.post("slow", _job(seen, "slow5"))  # an idle conversation's mailbox starts again
    async with asyncio.timeout(WAIT):
        await boxes.drained()
    assert seen[-2:] == ["slow5 start", "slow5 end"]


async def test_a_flooded_mailbox_cancelled_midway_keeps_the_jobs_not_run_in_order() -> None:
    """A conversation flooded with jobs: its mailbox becomes a deque once it is long (so
    that each job is taken from the front in O(1)); cancelled midway, its drain leaves
    exactly the jobs not run yet, for the next post."""
    seen: list[str] = []
    started = asyncio.Event()

    async def waits() -> None:
        seen.append("j70 start")
        started.set()
        await asyncio.Event().wait()

    runner = Runner()
    boxes = Mailboxes(lambda href: None, runner)
    for n in range(100):
        boxes.post("flood", waits if n == 70 else _job(seen, f"j{n}"))
    await asyncio.wait_for(started.wait(), WAIT)
    (carrier,) = runner.tasks
    carrier.cancel()
    await asyncio.gather(carrier, return_exceptions=True)
    assert seen[-1] == "j70 start"
    assert not boxes.busy
    boxes.post("flood", _job(seen, "j100"))
    async with asyncio.timeout(WAIT):
        await boxes.drained()
    ran = [entry.removesuffix(" start") for entry in seen if entry.endswith(" start")]
    assert ran == [f"j{n}" for n in range(101)]
    assert "j70 end" not in seen

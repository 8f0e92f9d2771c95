"""What tests/e2e/test_kill.py found, each reproduced in-process at its exact crash point.

* A chat accepted but not connected at the crash: the batch with the invitation is
  committed (the conversation is stored in no state yet, ``(new)``: it starts when messaging
  connects), the batch that connects it is not. The restarted bot must wait for the
  connection again (the server hands that batch out again), then enter the start state (or
  the one an invitation rule named) and handle the invitation's first message, instead of
  ending the conversation as if its state had left the flow.
* A message committed but not sent at the crash is *in doubt* after the restart, and waits
  until the bot knows whether it went out; what the same conversation says meanwhile (its
  silence timer, overdue, fires at once) must wait behind it, not overtake it.
* A message sent, its event read and that batch committed, but its answer not committed when
  the process dies: after the restart the channel goes on after that event, so the message
  must be known as sent already (the batch that reported it says so), not sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.harness import BOT, pass_markers, stage
from tests.guards import WAIT
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.runtime.flowmachine import FlowMachine
from ucwa_flow.store import Changes, CommitResult, Snapshot, Store, open_store

FLOW = """\
version: 1
name: opening
start: chat
invitation:
  rules:
    - from: "sip:adrianag@contoso.com"
      action: accept
      goto: vip
states:
  chat:
    enter:
      - say: Hi!
    messages:
      - any: true
        say: "You said: {{ message }}"
  vip:
    enter:
      - say: Welcome back!
    messages:
      - any: true
        say: "Noted: {{ message }}"
"""


def _flow() -> Flow:
    result = load_flow_text(FLOW, "opening.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


ORDER_FLOW = """\
version: 1
name: order
start: chat
states:
  chat:
    messages:
      - any: true
        goto: quiet
  quiet:
    enter:
      - say: waiting
    timeouts:
      - after: 30s
        do:
          - say: timer
          - goto: chat
"""


async def _until_stored(store: Store, ready: Callable[[Snapshot], bool], what: str) -> None:
    """Wait until the store's snapshot of the bot is ``ready``: a commit follows what it
    commits in the bot's own task (and a batch is committed after it was handled)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not ready(await store.load(BOT)):
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _until_stored_new(store: Store) -> None:
    """Wait until the store has the conversation, accepted and not started."""

    def new(snapshot: Snapshot) -> bool:
        return [record.state for record in snapshot.conversations] == [FlowMachine.NEW]

    await _until_stored(store, new, "the invitation's commit")


def _outbox(snapshot: Snapshot) -> list[str]:
    return [e.payload["text"] for e in snapshot.outbox]


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("sip:lenea@contoso.com", ["Hi!", "You said: hello"]),
        ("sip:adrianag@contoso.com", ["Welcome back!", "Noted: hello"]),
    ],
)
async def test_a_chat_accepted_but_not_connected_at_the_crash_starts_after_the_restart(
    tmp_path: Path, caller: str, expected: list[str]
) -> None:
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    try:
        async with stage(_flow(), store=store) as s:
            person = await s.person(caller)
            await s.committed()  # its poll parked: the fault below is for the next one
            # the bot's next event-channel GET (after the invitation's batch) fails, and
            # the bot waits to try again on the test's clock, which stands still
            (app,) = [a for a in s.sim.applications if a.user.uri == BOT]
            s.sim.faults.inject(method="GET", path=rf"/{app.id}/events$", status=503)
            await person.say("hello")
            await _until_stored_new(store)
            await s.crash()
            s.sim.faults.clear()
            await s.restart()
            assert await person.hear(2) == expected
            await person.say("again")
            assert (await person.hear())[0].endswith("again")
            await person.silence()
    finally:
        await store.aclose()


async def test_a_timer_overdue_at_the_restart_speaks_after_the_message_in_doubt(
    tmp_path: Path,
) -> None:
    result = load_flow_text(ORDER_FLOW, "order.flow.yaml")
    assert result.flow is not None
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    try:
        async with stage(result.flow, store=store) as s:
            lene = await s.person()
            await s.idle()
            sender = s.bot.engine.sender
            sender.send = lambda items: None  # type: ignore[method-assign]  # dies first
            await lene.say("hello")
            await s.until(lambda: "waiting" in s.said(), "the message decided")
            # decided, then committed with its batch: only then is it lost with the process
            await _until_stored(store, lambda got: _outbox(got) == ["waiting"], "its commit")
            await s.idle()
            await s.crash()
            snapshot = await store.load(BOT)
            assert _outbox(snapshot) == ["waiting"]
            await s.clock.advance(31)  # the timer falls due while the bot is down
            await s.restart()
            await pass_markers(s)
            assert await lene.hear(2) == ["waiting", "timer"]
            await lene.silence()
    finally:
        await store.aclose()


ECHO_FLOW = """\
version: 1
name: echo
start: chat
states:
  chat:
    messages:
      - any: true
        say: "You said: {{ message }}"
"""


async def test_a_reply_reported_in_a_committed_batch_is_not_sent_again(tmp_path: Path) -> None:
    result = load_flow_text(ECHO_FLOW, "echo.flow.yaml")
    assert result.flow is not None
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    try:
        async with stage(result.flow, store=store) as s:
            lene = await s.person()
            await lene.say("zero")
            assert await lene.hear() == ["You said: zero"]
            await s.idle()
            sender = s.bot.engine.sender
            sender._report = lambda result: None  # the answers never reach the journal
            await lene.say("one")
            assert await lene.hear() == ["You said: one"]
            # the batch with the message's event comes on the bot's own poll, and is committed
            # once handled: wait for that commit (it empties the outbox), not for a moment
            await _until_stored(store, lambda got: _outbox(got) == [], "the event's commit")
            await s.idle()
            await s.crash()
            await s.restart()
            await pass_markers(s)
            await lene.say("two")
            assert await lene.hear() == ["You said: two"]
            await lene.silence()
    finally:
        await store.aclose()


async def test_a_stop_that_interrupts_a_commit_keeps_what_it_wrote(tmp_path: Path) -> None:
    """Ctrl-C cancels the bot wherever it is, perhaps in the middle of a commit: the stop
    waits for that commit (the answers of sends in it), instead of dropping it."""
    result = load_flow_text(ECHO_FLOW, "echo.flow.yaml")
    assert result.flow is not None
    store = await open_store(str(tmp_path / "bot.sqlite3"))
    try:
        async with stage(result.flow, store=store) as s:
            lene = await s.person()
            await lene.say("zero")
            assert await lene.hear() == ["You said: zero"]
            await s.idle()
            real, entered, release = store.commit, asyncio.Event(), asyncio.Event()

            async def slow_commit(account: str, changes: Changes) -> CommitResult:
                if changes.sent and not release.is_set():  # the reply's answer
                    entered.set()
                    await release.wait()
                return await real(account, changes)

            store.commit = slow_commit  # type: ignore[method-assign]
            # every commit through commit() (a small one would go on the loop's thread)
            store.commit_now = lambda account, changes: None  # type: ignore[method-assign]
            await lene.say("one")
            assert await lene.hear() == ["You said: one"]
            await asyncio.wait_for(entered.wait(), WAIT)
            assert s.task is not None
            s.task.cancel()  # what asyncio.run does on Ctrl-C, then the bot's aclose
            closing = asyncio.create_task(s.bot.aclose())
            await asyncio.sleep(0.05)
            release.set()
            await asyncio.wait_for(closing, WAIT)
            snapshot = await store.load(BOT)
            assert snapshot.outbox == ()
    finally:
        await store.aclose()

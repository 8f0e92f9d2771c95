"""Several accounts in one Service, on the real simulator: each serves its callers, and
one that cannot sign in is retried with back-off while the others serve."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guards import WAIT
from tests.service.world import ADRIANA, HELPDESK, HR, LENE, advance_until, until, world
from ucwa_flow.service import StoreNotOpened
from ucwa_flow.service._stores import StoreHub, store_target
from ucwa_flow.store import ConversationQuery, Store, open_store

pytestmark = pytest.mark.asyncio


async def test_two_accounts_serve_their_callers(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        service = await w.service(
            w.deployment(w.account("helpdesk", HELPDESK), w.account("hr", HR))
        )
        await until(lambda: service.readiness().ready, "both accounts signed in")
        lene, adriana = await w.greeted()
        await lene.say("Lene")
        await adriana.say("Adriana")
        assert await lene.hear() == ["v1 thanks Lene"]
        assert await adriana.hear() == ["v1 thanks Adriana"]
        readiness = service.readiness()
        assert readiness.store
        assert [(a.id, a.signed_in, a.channel_live, a.error) for a in readiness.accounts] == [
            ("helpdesk", True, True, None),
            ("hr", True, True, None),
        ]


async def test_a_wrong_password_is_retried_while_the_other_account_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ucwa_flow.service")
    async with world(tmp_path) as w:
        wrong = "not-the-pass@word-42"
        hr = w.account("hr", HR, password=wrong)
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK), hr))
        runner = service.runners["hr"]

        def failures() -> list[str]:
            return [m for r in caplog.records if "hr: cannot sign in" in (m := r.getMessage())]

        # the line comes once the failed attempt's client is closed, after the count and
        # the error: wait for it (then the runner sleeps out its back-off on the clock)
        await until(failures, "hr's failed sign-in logged")
        await until(lambda: service.runners["helpdesk"].signed_in, "helpdesk signed in")

        readiness = service.readiness()
        assert not readiness.ready
        down = {a.id: a for a in readiness.accounts}["hr"]
        assert not down.signed_in
        assert down.error
        assert wrong not in down.error
        assert all(len(line.splitlines()) == 1 and wrong not in line for line in failures())
        assert all(r.exc_info is None for r in caplog.records)

        lene = await w.person(LENE, HELPDESK)  # the other account serves meanwhile
        await lene.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]

        # tried again after the back-off (1 s, 2 s, ... on the clock); fixed, it signs in
        before = runner.failures
        await w.clock.advance(1.0)
        await until(lambda: runner.failures > before, "a second attempt")
        assert hr.password.file is not None
        hr.password.file.write_text("pass@word1\n", encoding="utf-8")
        await advance_until(w.clock, lambda: runner.signed_in, "hr signed in")
        await until(lambda: service.readiness().ready, "every account ready")
        adriana = await w.person(ADRIANA, HR)
        await adriana.say("hello")
        assert await adriana.hear() == ["hr v1: your name?"]


async def test_accounts_share_one_postgresql_store(tmp_path: Path, pg_store: str) -> None:
    async with world(tmp_path) as w:
        accounts = (w.account("helpdesk", HELPDESK), w.account("hr", HR))
        service = await w.service(w.deployment(*accounts, store=pg_store))
        await until(lambda: service.readiness().ready, "both accounts signed in")
        await w.greeted()
        store = await open_store(pg_store)
        try:
            for account, caller in ((HELPDESK, LENE), (HR, ADRIANA)):
                rows = await store.conversations(ConversationQuery(account=account))
                assert [(r.flow, r.caller_uri) for r in rows] == [
                    (account[4:].split("@")[0], caller)
                ]
        finally:
            await store.aclose()


async def test_a_server_that_is_down_is_one_line_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # bound and never listening: a connection is refused, and no other socket of the run (a
    # server on port 0 of the other xdist worker, say) can take the port meanwhile
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with world(tmp_path) as w:
            w.url = closed
            service = await w.service(w.deployment(w.account("helpdesk", HELPDESK)))
            runner = service.runners["helpdesk"]

            def lines() -> list[str]:
                return [m for r in caplog.records if "cannot sign in" in (m := r.getMessage())]

            # each line comes after its attempt is counted and its client closed: wait for it
            await advance_until(w.clock, lambda: len(lines()) >= 2, "two failed sign-ins logged")
            assert runner.failures >= 2
            assert runner.error is not None
            assert "\n" not in runner.error
            assert not service.readiness().ready
            assert all(r.exc_info is None for r in caplog.records)


async def test_an_event_channel_that_keeps_failing_makes_its_account_not_ready(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK)))
        await until(lambda: service.readiness().ready, "signed in")
        events = r"/applications/\d+/events$"
        w.sim.faults.inject(method="GET", path=events, status=503, times=None)
        await advance_until(w.clock, lambda: not service.readiness().ready, "not ready", step=10)
        (health,) = service.readiness().accounts
        assert health.signed_in
        assert not health.channel_live
        assert health.error is not None
        assert health.error.startswith("the event channel failed ")
        w.sim.faults.clear()  # the server answers again: ready again, nothing restarted
        bot = service.runners["helpdesk"].bot
        await advance_until(w.clock, lambda: service.readiness().ready, "ready again", step=10)
        assert service.runners["helpdesk"].bot is bot


async def test_a_store_that_can_never_open_refuses_the_start(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    state = tmp_path / "a-file" / "state"  # its folder can never be made
    async with world(tmp_path) as w:
        deployment = w.deployment(w.account("helpdesk", HELPDESK), store=str(state))
        with pytest.raises(StoreNotOpened) as refused:
            await w.service(deployment)
        assert not refused.value.retryable
        message = str(refused.value)
        assert message.startswith(f"cannot open the conversation store: the store {state}/")
        assert len(message.splitlines()) == 1
        assert w.services[0].runners == {}  # no account was started: nothing signs in


ROOT = Path(__file__).resolve().parents[2]
# another process serving the file: holds the store until its stdin closes
_HOLDER = """\
import asyncio, sys
from ucwa_flow.store import open_store

async def main() -> None:
    store = await open_store(sys.argv[1], exclusive=True)
    print("held", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await store.aclose()

asyncio.run(main())
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_a_store_another_process_serves_stops_its_account_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="ucwa_flow.service")

    async def checked(hub: StoreHub, users: list[str]) -> None:
        """The start's check passed: the other process takes the file after it."""

    monkeypatch.setattr(StoreHub, "check", checked)
    async with world(tmp_path) as w:
        deployment = w.deployment(w.account("helpdesk", HELPDESK), w.account("hr", HR))
        path = Path(store_target(deployment.store, HR))
        path.parent.mkdir(parents=True, exist_ok=True)
        holder = _holder(path)
        assert holder.stdin is not None
        assert holder.stdout is not None
        try:
            assert await asyncio.to_thread(holder.stdout.readline) == "held\n"
            service = await w.service(deployment)
            runner = service.runners["hr"]

            def said() -> list[str]:
                return [m for r in caplog.records if (m := r.getMessage()).startswith("hr: ")]

            refusal = (
                f"cannot open the conversation store: the store {path} is in use by another "
                f"ucwa-flow process (pid {holder.pid}); stop it first, or use a PostgreSQL "
                "store to share accounts between workers"
            )
            await until(said, "hr's store refused")
            assert said() == [f"hr: stops serving: {refusal}"]
            await until(lambda: not runner.busy, "hr's runner stopped")
            await until(lambda: service.runners["helpdesk"].signed_in, "helpdesk signed in")
            assert [r.levelname for r in caplog.records if r.getMessage() in said()] == ["ERROR"]
            down = {a.id: a for a in service.readiness().accounts}["hr"]
            assert (down.signed_in, down.error) == (False, refusal)
            assert runner.ready() is False  # ucwa_flow_account_ready reads 0, not nothing
            await w.clock.advance(60)  # no back-off to sleep out: nothing is tried again
            assert said() == [f"hr: stops serving: {refusal}"]
        finally:
            holder.stdin.close()
            await asyncio.to_thread(holder.wait, WAIT)


async def test_a_store_that_may_yet_open_is_retried_and_worded_as_the_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="ucwa_flow.service")
    opening = StoreHub.open
    calls = []

    async def open_later(hub: StoreHub, user: str) -> Store:
        calls.append(user)
        if len(calls) <= 2:  # the check at the start, then the runner's first attempt
            raise StoreNotOpened("cannot open the conversation store: locked", retryable=True)
        return await opening(hub, user)

    monkeypatch.setattr(StoreHub, "open", open_later)
    async with world(tmp_path) as w:
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK)))
        runner = service.runners["helpdesk"]
        await advance_until(w.clock, lambda: runner.signed_in, "signed in once the store opens")
    # the check at the start left it to the runner, which says what failed: the store
    lines = [m for r in caplog.records if "locked" in (m := r.getMessage())]
    assert lines == ["helpdesk: cannot open the conversation store: locked; trying again in 1 s"]

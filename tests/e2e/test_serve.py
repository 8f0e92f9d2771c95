"""``ucwa-flow serve`` as a separate OS process, on a simulator in this process (issue 12).

* three accounts, one with a wrong password: the other two serve their callers, ``/readyz``
  says which account is down, ``/metrics`` parses with ``prometheus_client``'s parser and
  its counters match the conversations driven, and nothing the process printed holds the
  password or the admin's bearer token;
* hot reload with 50 conversations mid-flow: a compatible edit (the running conversations
  move to it), an incompatible one (they keep their version, new ones get the new one), a
  broken file (refused with its location, nothing changes); no conversation dropped;
* SIGTERM: the process exits within its bound, and the next start carries the
  conversations on;
* overload: 2,000 invitations within a few seconds to an account limited to 500: 500 are
  served, every other caller hears the busy message.

Every wait is on a condition, bounded by ``WAIT``; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.serving import ServeProcess, Talker, eventually, until, until_each
from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users
from ucwa_flow.simulator.server import serve

PASSWORD = "s3rve-Pa55word!"
WRONG = "not-the-Pa55word"
TOKEN = "admin-T0ken-0123456789abcdef"
BUSY = "All agents are busy, please call again."

FLOW = """\
version: 1
name: desk
start: talk
settings:
  idle_timeout: 1h
variables:
  n: null
states:
  talk:
    enter:
      - say: hello
    messages:
      - match: '^ping (?P<n>\\d+)$'
        say: "v1 pong {{ n }}"
      - match: '^bye$'
        say: bye
        do: [stop]
"""


def _desk(version: str, state: str = "talk") -> str:
    return (
        FLOW.replace("v1 pong", f"{version} pong")
        .replace("start: talk", f"start: {state}")
        .replace("  talk:", f"  {state}:")
    )


BROKEN = FLOW.replace("say: bye\n", "say: bye\n        goto: nowhere\n")


@dataclass
class Scene:
    sim: Simulator
    url: str
    folder: Path

    def bots(self, *names: str) -> list[SimulatorUser]:
        return [SimulatorUser(f"sip:{n}@contoso.com", n, PASSWORD) for n in names]

    def talkers(self, prefix: str, count: int, bot: str) -> list[Talker]:
        return [
            Talker(
                self.sim.virtual_user(f"sip:{prefix}{i:04d}@contoso.com"), f"sip:{bot}@contoso.com"
            )
            for i in range(count)
        ]


@contextlib.asynccontextmanager
async def _scene(tmp_path: Path, bots: list[str], callers: dict[str, int]) -> AsyncIterator[Scene]:
    users = [
        *default_users(),
        *(SimulatorUser(f"sip:{b}@contoso.com", b, PASSWORD) for b in bots),
        *(
            SimulatorUser(f"sip:{prefix}{i:04d}@contoso.com", f"{prefix} {i}")
            for prefix, count in callers.items()
            for i in range(count)
        ),
    ]
    sim = Simulator(SimulatorConfig(users=users, invitation_timeout=120.0), SystemClock())
    try:
        async with serve(sim) as url:
            yield Scene(sim, url, tmp_path)
    finally:
        sim.close()


def _deploy(folder: Path, accounts: list[str], *, extra: str = "", account_extra: str = "") -> Path:
    lines = [
        "store: state",
        "stop_timeout: 5s",
        "admin:",
        '  listen: "127.0.0.1:0"',
        "  token_env: ADMIN_TOKEN",
        "logging:",
        "  format: json",
        "  level: info",
        extra,
        "accounts:",
    ]
    for name in accounts:
        env = "WRONG_PASSWORD" if name.endswith("-wrong") else "DESK_PASSWORD"
        lines += [
            f"  - id: {name.removesuffix('-wrong')}",
            f"    user: sip:{name.removesuffix('-wrong')}@contoso.com",
            f"    password_env: {env}",
            "    flow: desk.flow.yaml",
            account_extra,
        ]
    path = folder / "deploy.yaml"
    path.write_text("\n".join(line for line in lines if line) + "\n", encoding="utf-8")
    if not (folder / "desk.flow.yaml").exists():
        (folder / "desk.flow.yaml").write_text(FLOW, encoding="utf-8")
    return path


def _process(scene: Scene, deploy: Path, name: str = "serve") -> ServeProcess:
    env = {"DESK_PASSWORD": PASSWORD, "WRONG_PASSWORD": WRONG, "ADMIN_TOKEN": TOKEN}
    return ServeProcess(
        [str(deploy), "--server", scene.url], scene.folder / f"{name}.log", env, token=TOKEN
    )


async def _ready(proc: ServeProcess, accounts: list[str]) -> dict[str, dict[str, object]]:
    """Wait until each of ``accounts`` is signed in with its channel live; /readyz's body."""
    seen: dict[str, dict[str, object]] = {}
    async with proc.admin() as admin:

        async def check() -> bool:
            answer = await admin.get("/readyz")
            body = answer.json()
            seen.clear()
            seen.update({a["id"]: a for a in body["accounts"]})
            return all(
                seen.get(a, {}).get("signed_in") and seen[a].get("channel_live") for a in accounts
            )

        await eventually(check, f"accounts {accounts} signed in", proc)
    return seen


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _by_account(text: str, name: str, **only: str) -> dict[str, float]:
    """``name``'s samples summed by account, of those whose labels include ``only``."""
    totals: dict[str, float] = {}
    for labels, value in _samples(text, name).items():
        if not only.items() <= dict(labels).items():
            continue
        account = dict(labels).get("account", "")
        totals[account] = totals.get(account, 0.0) + value
    return totals


# -- three accounts, one with a wrong password ----------------------------------------------


async def test_three_accounts_one_down_two_serve_ready_and_metrics_tell(tmp_path: Path) -> None:
    async with _scene(tmp_path, ["desk1", "desk2", "desk3"], {"c": 10}) as scene:
        deploy = _deploy(tmp_path, ["desk1", "desk2", "desk3-wrong"])
        proc = _process(scene, deploy)
        proc.start()
        try:
            await proc.listening()
            await _ready(proc, ["desk1", "desk2"])
            talkers = scene.talkers("c", 10, "desk1")
            for t in talkers[6:]:
                t.bot = "sip:desk2@contoso.com"

            async def converse(t: Talker) -> None:
                assert await t.say("ping 0", 2) == ["hello", "v1 pong 0"]
                assert await t.say("ping 1") == ["v1 pong 1"]
                assert await t.say("bye") == ["bye"]

            await asyncio.gather(*(converse(t) for t in talkers))
            async with proc.admin() as admin:

                async def refused() -> bool:  # desk3's sign-in fails on its own schedule
                    body = (await admin.get("/readyz")).json()
                    return bool({a["id"]: a for a in body["accounts"]}["desk3"]["error"])

                await eventually(refused, "desk3's sign-in refused", proc)
                ready = await admin.get("/readyz")
                assert ready.status_code == 503, ready.text
                accounts = {a["id"]: a for a in ready.json()["accounts"]}
                assert accounts["desk3"]["signed_in"] is False
                assert accounts["desk3"]["error"], accounts["desk3"]
                assert accounts["desk1"]["signed_in"]
                assert accounts["desk2"]["signed_in"]
                assert (await admin.get("/healthz")).status_code == 200
                unauthorised = await admin.get("/metrics", headers={"Authorization": ""})
                assert unauthorised.status_code == 401

                async def counted() -> bool:
                    text = (await admin.get("/metrics")).text
                    return _by_account(text, "ucwa_flow_messages_total", direction="in") == {
                        "desk1": 18.0,
                        "desk2": 12.0,
                    }

                await eventually(counted, "every message counted", proc)  # "bye" may lag
                text = (await admin.get("/metrics")).text
            assert _by_account(text, "ucwa_flow_messages_total", direction="in") == {
                "desk1": 18.0,
                "desk2": 12.0,
            }, text
            assert _by_account(text, "ucwa_flow_messages_total", direction="out") == {
                "desk1": 24.0,
                "desk2": 16.0,
            }, text
            # what start-up made was moved out of the collector's way (ucwa_flow._heap)
            assert _samples(text, "ucwa_flow_heap_frozen_objects")[()] > 10_000, text
            proc.signal(signal.SIGTERM)
            assert await proc.wait() == 0, proc.tail()
        finally:
            await proc.close()
        output = proc.output()
        for secret in (PASSWORD, WRONG, TOKEN):
            assert secret not in output, f"{secret!r} in serve's output"
        lines = [line for line in output.splitlines() if line.strip()]
        for line in lines:  # --log-format json from the file's logging section
            json.loads(line)


# -- hot reload -----------------------------------------------------------------------------


async def test_hot_reload_moves_compatible_keeps_incompatible_refuses_broken(
    tmp_path: Path,
) -> None:
    async with _scene(tmp_path, ["desk1"], {"r": 50, "n": 3}) as scene:
        deploy = _deploy(tmp_path, ["desk1"])
        flow = tmp_path / "desk.flow.yaml"
        proc = _process(scene, deploy)
        proc.start()
        try:
            await proc.listening()
            await _ready(proc, ["desk1"])
            running = scene.talkers("r", 50, "desk1")
            newcomers = scene.talkers("n", 3, "desk1")
            replies = await asyncio.gather(*(t.say("ping 0", 2) for t in running))
            assert all(r == ["hello", "v1 pong 0"] for r in replies)

            async def everyone(text: str, expected: str) -> None:
                heard = await asyncio.gather(*(t.say(text) for t in running))
                assert all(h == [expected] for h in heard), heard

            async with proc.admin() as admin:
                # a compatible edit, by SIGHUP: everyone moves on to it
                flow.write_text(_desk("v2"), encoding="utf-8")
                proc.signal(signal.SIGHUP)
                await until(lambda: _moved(proc) == 1, "the SIGHUP reload")
                await everyone("ping 1", "v2 pong 1")
                assert await newcomers[0].say("ping 0", 2) == ["hello", "v2 pong 0"]

                # an incompatible edit (the state is renamed): running ones keep v2
                flow.write_text(_desk("v3", state="chat"), encoding="utf-8")
                answer = await admin.post("/reload")
                assert answer.status_code == 200, answer.text
                await everyone("ping 2", "v2 pong 2")
                assert await newcomers[1].say("ping 0", 2) == ["hello", "v3 pong 0"]

                # a broken file: refused with its location; nothing changes
                flow.write_text(BROKEN, encoding="utf-8")
                answer = await admin.post("/reload")
                assert answer.status_code == 422, answer.text
                assert f"{flow}:" in answer.text, answer.text
                assert "nowhere" in answer.text, answer.text
                await everyone("ping 3", "v2 pong 3")
                assert await newcomers[2].say("ping 0", 2) == ["hello", "v3 pong 0"]
                assert await newcomers[0].say("ping 1") == ["v2 pong 1"]
                # the metric tells which version each conversation runs: v2 (the 50 and the
                # first newcomer) and v3 (the other two)
                text = (await admin.get("/metrics")).text
                versions = _samples(text, "ucwa_flow_conversations_by_version")
                assert sorted(versions.values()) == [2.0, 51.0], versions
            assert all(t.vu.state(t.conv) == "connected" for t in [*running, *newcomers])
            assert f"{flow}:" in proc.output()  # the refused file, logged with its location
            proc.signal(signal.SIGTERM)
            assert await proc.wait() == 0, proc.tail()
        finally:
            await proc.close()


def _moved(proc: ServeProcess) -> int:
    """How many reloads the process reported having moved conversations for."""
    return sum("conversation(s) moved to it" in line for line in proc.output().splitlines())


# -- SIGTERM --------------------------------------------------------------------------------


async def test_sigterm_stops_within_bound_and_next_start_carries_on(tmp_path: Path) -> None:
    async with _scene(tmp_path, ["desk1"], {"s": 20}) as scene:
        deploy = _deploy(tmp_path, ["desk1"])
        talkers = scene.talkers("s", 20, "desk1")
        first = _process(scene, deploy, "first")
        first.start()
        try:
            await first.listening()
            await _ready(first, ["desk1"])
            replies = await asyncio.gather(*(t.say("ping 0", 2) for t in talkers))
            assert all(r == ["hello", "v1 pong 0"] for r in replies)
            first.signal(signal.SIGTERM)
            assert await first.wait() == 0, first.tail()
        finally:
            await first.close()
        second = _process(scene, deploy, "second")
        second.start()
        try:
            await second.listening()
            await _ready(second, ["desk1"])
            heard = await asyncio.gather(*(t.say("ping 1") for t in talkers))
            assert all(h == ["v1 pong 1"] for h in heard), heard
            assert all(t.vu.state(t.conv) == "connected" for t in talkers)
            second.signal(signal.SIGTERM)
            assert await second.wait() == 0, second.tail()
        finally:
            await second.close()


# -- overload -------------------------------------------------------------------------------

INVITATIONS = 2000
LIMIT = 500


async def test_overload_serves_the_limit_and_tells_the_rest_they_wait(tmp_path: Path) -> None:
    async with _scene(tmp_path, ["desk1"], {"o": INVITATIONS}) as scene:
        limits = (
            "    limits:\n"
            f"      max_conversations: {LIMIT}\n"
            "      when_full: decline\n"
            f"      busy_message: {BUSY}"
        )
        deploy = _deploy(tmp_path, ["desk1"], account_extra=limits)
        proc = _process(scene, deploy)
        proc.start()
        try:
            await proc.listening()
            await _ready(proc, ["desk1"])
            talkers = scene.talkers("o", INVITATIONS, "desk1")
            for t in talkers:  # all within a moment: no one waits for an answer first
                t.conv = await t.vu.start_conversation(t.bot, "ping 0")

            def settled(t: Talker) -> bool:
                heard = t.heard()
                return heard == ["hello", "v1 pong 0"] or (
                    heard == [BUSY] and t.vu.state(t.conv) in ("ended", "failed")
                )

            # a burst: bounded by WAIT without progress, not in all (a loaded machine is slow)
            await until_each(talkers, settled, "every invitation answered")
            served = [t for t in talkers if t.heard() == ["hello", "v1 pong 0"]]
            assert len(served) == LIMIT
            async with proc.admin() as admin:
                text = (await admin.get("/metrics")).text
            shed = sum(_by_account(text, "ucwa_flow_invitations_total", decision="busy").values())
            assert shed == INVITATIONS - LIMIT, text
            proc.signal(signal.SIGTERM)
            assert await proc.wait() == 0, proc.tail()
        finally:
            await proc.close()


# -- a stop past its bound ------------------------------------------------------------------


async def test_a_stop_past_its_bound_exits_3(tmp_path: Path) -> None:
    """A commit that cannot finish (another process holds the store's SQLite file locked)
    holds the stop past ``stop_timeout``: the process cancels what is left and says so with
    exit status 3, for the service manager."""
    async with _scene(tmp_path, ["desk1"], {"w": 1}) as scene:
        deploy = _deploy(tmp_path, ["desk1"])
        text = deploy.read_text(encoding="utf-8").replace("stop_timeout: 5s", "stop_timeout: 1s")
        deploy.write_text(text, encoding="utf-8")
        (talker,) = scene.talkers("w", 1, "desk1")
        proc = _process(scene, deploy)
        proc.start()
        try:
            await proc.listening()
            await _ready(proc, ["desk1"])
            assert await talker.say("ping 1", 2) == ["hello", "v1 pong 1"]
            (app,) = [a for a in scene.sim.applications if a.user.uri.startswith("sip:desk1")]
            # parked in its next P-GET, which follows the commit of the batch before
            await until(lambda: app.channel.held and not app.channel.pending_count, "a quiet bot")
            (database,) = (tmp_path / "state").glob("*.sqlite3")
            lock = sqlite3.connect(database, isolation_level=None)
            try:
                lock.execute("BEGIN EXCLUSIVE")  # every commit of the bot now waits (5 s)
                talker.vu.send("ping 2", talker.conv)
                # served to the bot: its commit (before the reply) now waits for the lock
                await until(lambda: app.channel.pending_count == 0, "the bot to read ping 2")
                proc.signal(signal.SIGTERM)
                assert await proc.wait() == 3, proc.tail()
            finally:
                lock.close()
            assert "not done after 1 s; cancelled what was left" in proc.output()
        finally:
            await proc.close()

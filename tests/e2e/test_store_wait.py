"""``ucwa-flow serve`` started before its PostgreSQL store can be reached (the database comes
up after the bot, as on a container platform at boot) waits for it instead of exiting.

The store's URL points at a port of the test's own: a socket bound but not listening (the
server refuses every connection), which :class:`Gate` later turns into a proxy to the real
server. Meanwhile the process says so once per attempt, with its back-off, and its admin
endpoint answers (``/healthz`` 200, ``/readyz`` 503 and why, ``/metrics``); once the proxy
forwards, the worker joins and the account signs in and answers. SIGTERM during the wait
exits 0 at once; a database that does not exist is refused at once with one line. Every
wait is on a condition, bounded by ``WAIT``; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.e2e.serving import ROOT, ServeProcess, Talker, eventually, until
from tests.guards import WAIT
from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users
from ucwa_flow.simulator.server import serve
from ucwa_flow.store import SCHEMA_VERSION, open_store

PASSWORD = "st0re-wait-Pa55word!"

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
    messages:
      - match: '^ping (?P<n>\\d+)$'
        say: "pong {{ n }}"
"""

#: a log line of a failed attempt, and the back-off it announces
_ATTEMPT = re.compile(
    r"cannot open the conversation store: the store (\S+) cannot be reached \(.*\); "
    r"trying again in (\d+) s$",
    re.MULTILINE,
)


class Gate:
    """A port of the test's own in front of the real PostgreSQL server: refusing (bound,
    not listening) until :meth:`open`, then forwarding every connection to it."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._forward, sock=self.sock)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(_pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        self.sock.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except OSError:
        pass
    finally:
        sink.close()


@contextlib.contextmanager
def _schema() -> Iterator[tuple[dict[str, str], str]]:
    """(the test server's connection parameters, a schema of the test's own)."""
    from tests.store.conftest import postgres_url

    base = postgres_url()
    schema = f"w_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield {k: str(v) for k, v in conninfo_to_dict(base).items()}, schema
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _upstream(params: dict[str, str]) -> tuple[str, int]:
    """Where the server listens on TCP (the local socket's server: 127.0.0.1)."""
    host = params.get("host", "")
    if not host or host.startswith("/"):
        host = "127.0.0.1"
    return host, int(params.get("port", "5432"))


def _url(params: dict[str, str], port: int, schema: str, *, database: str | None = None) -> str:
    """A URL of the test server's user and database through 127.0.0.1:``port``."""
    user = quote(params.get("user", "postgres"))
    if params.get("password"):
        user += ":" + quote(params["password"])
    name = database or params.get("dbname", "test")
    return f"postgresql://{user}@127.0.0.1:{port}/{name}?options=-csearch_path%3D{schema}"


def _deploy(folder: Path, store: str) -> Path:
    (folder / "desk.flow.yaml").write_text(FLOW, encoding="utf-8")
    path = folder / "deploy.yaml"
    path.write_text(
        "\n".join(
            [
                f"store: {store}",
                "stop_timeout: 5s",
                "admin:",
                '  listen: "127.0.0.1:0"',
                "accounts:",
                "  - id: desk",
                "    user: sip:desk@contoso.com",
                "    password_env: DESK_PASSWORD",
                "    flow: desk.flow.yaml",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


@contextlib.asynccontextmanager
async def _simulator() -> AsyncIterator[tuple[Simulator, str]]:
    users = [
        *default_users(),
        SimulatorUser("sip:desk@contoso.com", "Desk", PASSWORD),
        SimulatorUser("sip:caller@contoso.com", "Caller"),
    ]
    sim = Simulator(SimulatorConfig(users=users, invitation_timeout=120.0), SystemClock())
    try:
        async with serve(sim) as url:
            yield sim, url
    finally:
        sim.close()


def _attempts(proc: ServeProcess) -> list[tuple[str, int]]:
    """The attempts logged so far: (the store's URL, the back-off in seconds)."""
    return [(m.group(1), int(m.group(2))) for m in _ATTEMPT.finditer(proc.output())]


def _waited(proc: ServeProcess, attempts: int) -> bool:
    """``attempts`` attempts logged, the process still waiting (it must not have ended)."""
    assert proc.proc is not None
    assert proc.proc.poll() is None, f"serve ended instead of waiting:\n{proc.tail()}"
    return len(_attempts(proc)) >= attempts


async def test_serve_waits_for_an_unreachable_store_then_serves(tmp_path: Path) -> None:
    with _schema() as (params, schema):
        gate = Gate(_upstream(params))
        url = _url(params, gate.port, schema)
        async with _simulator() as (sim, server):
            proc = ServeProcess(
                [str(_deploy(tmp_path, url)), "--server", server],
                tmp_path / "serve.log",
                {"DESK_PASSWORD": PASSWORD},
            )
            proc.start()
            try:
                await proc.listening()
                # two attempts refused, each with its line and its back-off (1 s, then 2 s)
                await until(lambda: _waited(proc, 2), "two attempts logged")
                assert _attempts(proc)[:2] == [(url, 1), (url, 2)], proc.tail()
                async with proc.admin() as admin:
                    await _check_waiting(proc, admin, url)

                    await gate.open()  # the database is up

                    async def ready_now() -> bool:
                        return (await admin.get("/readyz")).status_code == 200

                    await eventually(ready_now, "/readyz 200 once the store answers", proc)
                talker = Talker(sim.virtual_user("sip:caller@contoso.com"), "sip:desk@contoso.com")
                assert await talker.say("ping 1") == ["pong 1"]
                output = proc.output()
                assert f"the conversation store {url} answers; starting" in output
                assert "desk: signed in as sip:desk@contoso.com" in output
                proc.signal(signal.SIGTERM)
                assert await proc.wait() == 0, proc.tail()
            finally:
                await proc.close()
                await gate.close()
        assert "Traceback" not in proc.output()


async def _check_waiting(proc: ServeProcess, admin: httpx.AsyncClient, url: str) -> None:
    """The process waits for the store at ``url``: alive, its admin endpoint answering."""
    assert _waited(proc, 2)
    assert (await admin.get("/healthz")).status_code == 200
    ready = await admin.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False
    assert body["store"] is False
    [desk] = body["accounts"]
    assert (desk["id"], desk["signed_in"]) == ("desk", False)
    assert desk["error"].startswith(
        f"waiting for the conversation store: the store {url} cannot be reached ("
    )
    # and why, as data: a code, a sentence, since when
    assert (desk["code"], desk["reason"]) == ("waiting_for_store", desk["error"])
    [why, account] = body["reasons"]
    assert (why["code"], why["reason"]) == ("waiting_for_store", desk["error"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", why["since"])
    assert account == {"code": "waiting_for_store", "account": "desk", "reason": desk["error"]}
    assert body["elsewhere"] == []
    metrics = await admin.get("/metrics")
    assert metrics.status_code == 200
    assert "ucwa_flow_" in metrics.text
    assert "signed in" not in proc.output()


async def test_a_store_lost_while_serving_is_why_readyz_says_not_ready(tmp_path: Path) -> None:
    # it answered {"ready": false, "store": false, "accounts": []} and nothing more
    with _schema() as (params, schema):
        gate = Gate(_upstream(params))
        url = _url(params, gate.port, schema)
        await gate.open()
        async with _simulator() as (_sim, server):
            proc = ServeProcess(
                [str(_deploy(tmp_path, url)), "--server", server],
                tmp_path / "serve.log",
                {"DESK_PASSWORD": PASSWORD},
            )
            proc.start()
            try:
                await proc.listening()
                async with proc.admin() as admin:

                    async def ready_now() -> bool:
                        return (await admin.get("/readyz")).status_code == 200

                    await eventually(ready_now, "/readyz 200", proc)
                    await gate.close()  # PostgreSQL is gone: every connection cut, refused

                    async def lost() -> bool:
                        body = (await admin.get("/readyz")).json()
                        return not body["accounts"] and [a["code"] for a in body["elsewhere"]] == [
                            "lease_lost"
                        ]

                    await eventually(lost, "the lease lost", proc)
                    ready = await admin.get("/readyz")
                body = ready.json()
                assert ready.status_code == 503, body
                # "store" is the accounts' stores' last probe (every 15 s): it may not know yet
                assert (body["ready"], body["accounts"]) == (False, [])
                codes = [why["code"] for why in body["reasons"]]
                assert codes[0] == "store_unreachable", body
                why = body["reasons"][0]
                assert why["reason"].startswith(
                    f"worker {_worker(proc)} cannot reach the store since"
                )
                assert url.split("?")[0] in why["reason"]
                [desk] = body["elsewhere"]
                assert (desk["id"], desk["user"]) == ("desk", "sip:desk@contoso.com")
                assert desk["reason"].startswith(f"worker {_worker(proc)} lost its lease at ")
                proc.signal(signal.SIGTERM)
                assert await proc.wait() == 0, proc.tail()
            finally:
                await proc.close()
                await gate.close()
        assert "Traceback" not in proc.output()


def _worker(proc: ServeProcess) -> str:
    """The id of ``proc``'s worker, as its log names it."""
    found = re.search(r"worker (\S+): sharing", proc.output())
    assert found is not None, proc.tail()
    return found.group(1)


async def test_sigterm_while_waiting_for_the_store_exits_0(tmp_path: Path) -> None:
    with socket.socket() as refusing:  # bound, never listening: every connection refused
        refusing.bind(("127.0.0.1", 0))
        url = f"postgresql://bot@127.0.0.1:{refusing.getsockname()[1]}/ucwa"
        proc = ServeProcess(
            [str(_deploy(tmp_path, url)), "--server", "http://127.0.0.1:1/"],
            tmp_path / "serve.log",
            {"DESK_PASSWORD": PASSWORD},
        )
        proc.start()
        try:
            await proc.listening()
            await until(lambda: _waited(proc, 1), "an attempt logged")
            proc.signal(signal.SIGTERM)
            assert await proc.wait() == 0, proc.tail()
        finally:
            await proc.close()
    output = proc.output()
    assert "stopped while waiting for the conversation store: the store" in output
    assert "serving desk" not in output
    assert "Traceback" not in output


def _refused(folder: Path, url: str) -> str:
    """``serve`` with its store at ``url`` ended at once with status 1: its last line."""
    env = ServeProcess([], folder / "unused.log", {"DESK_PASSWORD": PASSWORD}).env
    args = [str(_deploy(folder, url)), "--server", "http://127.0.0.1:1/"]
    done = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "serve", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=WAIT,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "trying again" not in done.stderr
    # nothing was started: no stop of accounts is told (it said "stopping: new invitations
    # ring; finishing the steps under way" and "stopped" before the error line)
    assert "finishing the steps under way" not in done.stderr
    assert "INFO ucwa_flow.service: stopped" not in done.stderr
    return done.stderr.splitlines()[-1]


def test_a_database_that_does_not_exist_is_refused_at_once(tmp_path: Path) -> None:
    with _schema() as (params, schema):
        host, port = _upstream(params)
        missing = f"nosuch_{uuid.uuid4().hex[:12]}"
        url = _url(params, port, schema, database=missing).replace("127.0.0.1", host)
        last = _refused(tmp_path, url)
    assert last.startswith(
        f"ucwa-flow: error: cannot open the conversation store: the store {url} refused the "
        "connection ("
    ), last
    assert f'database "{missing}" does not exist' in last


async def test_a_store_of_a_newer_ucwa_flow_is_refused_at_once(tmp_path: Path) -> None:
    with _schema() as (params, schema):
        host, port = _upstream(params)
        url = _url(params, port, schema).replace("127.0.0.1", host)
        store = await open_store(url)
        await store.aclose()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) "
                "VALUES (%s, 'from the future', 0)",
                (SCHEMA_VERSION + 40,),
            )
        last = await asyncio.to_thread(_refused, tmp_path, url)
    assert last == (
        f"ucwa-flow: error: cannot open the conversation store: the store {url} was written "
        f"by a newer ucwa-flow (schema version {SCHEMA_VERSION + 40}; this version knows up to "
        f"{SCHEMA_VERSION}): upgrade ucwa-flow to use it"
    )

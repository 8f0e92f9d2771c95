"""Tools for killing a bot that runs as an OS process: the process, a watch on its requests,
and a ticket system that keeps its promises about ``Idempotency-Key``.

:class:`BotProcess` runs ``python -m ucwa_flow run FLOW --server URL ...``. A restart must
not cost a second of imports each time (twenty kills would take the test's whole budget), so
the next process is started ahead, while the current one serves: it imports what ``run``
imports and waits for a line on its stdin; :meth:`BotProcess.start` writes that line and the
process goes on exactly as ``python -m ucwa_flow`` (``runpy`` runs ``ucwa_flow.__main__``
with the same arguments). Its stdout and stderr go to a log file of its own
(``bot-<n>.log``), quoted by :meth:`BotProcess.tail` when a test fails.

:class:`Watch` is an ASGI layer in front of the simulator: it sees every request the bot
makes (told apart from the callers' by its token; a restarted bot signs in again, so each
process has a token of its own) and the answer the simulator gives. A test arms a
:class:`Trigger` on it: when the current process's ``n``-th request of a kind arrives
(``send-in-flight``: a sendMessage, before the simulator reads its body) or is answered
(``send-answered``: after the simulator performed the sendMessage, before its answer leaves;
``invite-answered``: a messagingInvitations POST, the invitation now ringing;
``batch-answered``: an event-channel answer, after it left), the watch calls its ``kill``
callback. An answer held for a kill leaves only once the process is dead, so the bot cannot
have seen it.

:class:`TicketDesk` is the webhook's server: one ticket per ``Idempotency-Key`` however many
times the key is sent, the same answer each time; a key it sees again must come with the same
body. For the callers it is told are slow it holds the first answer until a kill happened
(the call is pending across the kill) and answers the retry at once.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.guards import WAIT
from ucwa_flow.simulator import Simulator

__all__ = ["BotProcess", "TicketDesk", "Trigger", "Watch"]

ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    """``ucwa-flow run`` as a chain of OS processes: one serving, the next one ready.

    ``args`` are the arguments after ``ucwa-flow``; ``logs`` the folder of the log files.
    """

    def __init__(self, args: list[str], logs: Path) -> None:
        self.args = args
        self.logs = logs
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("UCWA_FLOW_")} | {
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
        }
        self.started = 0  # processes started so far
        self.current: subprocess.Popen[bytes] | None = None
        self._next: subprocess.Popen[bytes] | None = None
        self._counter = itertools.count(1)

    def _spawn(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"bot-{next(self._counter)}.log").open("wb")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.ready_bot", *self.args],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=self.env,
            )
        finally:
            log.close()

    def start(self) -> int:
        """Let the waiting process go (starting one if none waits); start the next one."""
        assert self.current is None, "a bot process is still running"
        proc, self._next = self._next or self._spawn(), None
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        self.current = proc
        self.started += 1
        return proc.pid

    def prepare(self) -> None:
        """Start the next process, which imports and waits (call it once the running one is
        up: started at once, it would take the CPU the running one signs in with)."""
        if self._next is None:
            self._next = self._spawn()

    def kill(self) -> None:
        """SIGKILL the running process (nothing of it runs after this returns but the kernel's
        clean-up); :meth:`reap` waits for it."""
        assert self.current is not None
        os.kill(self.current.pid, signal.SIGKILL)

    async def reap(self) -> int:
        """Wait until the running process is gone; its exit status."""
        proc, self.current = self.current, None
        assert proc is not None
        return await asyncio.wait_for(asyncio.to_thread(proc.wait), WAIT)

    async def stop(self) -> int:
        """Ctrl-C for the running process (it commits what is pending); its exit status."""
        assert self.current is not None
        self.current.send_signal(signal.SIGINT)
        return await self.reap()

    async def close(self) -> None:
        """End whatever is still running or waiting (the waiting one gets end-of-file)."""
        if self.current is not None:
            self.kill()
            await self.reap()
        if self._next is not None:
            proc, self._next = self._next, None
            assert proc.stdin is not None
            proc.stdin.close()
            await asyncio.wait_for(asyncio.to_thread(proc.wait), WAIT)

    def tail(self, lines: int = 15) -> str:
        """The last lines of the last three processes' logs (for a failure message)."""
        parts = []
        for path in sorted(self.logs.glob("bot-*.log"), key=lambda p: int(p.stem[4:]))[-4:-1]:
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()
            kept = [line for line in text if not line.startswith("[")][-lines:]
            parts.append(f"--- {path.name} ---\n" + "\n".join(kept))
        return "\n".join(parts)


@dataclass
class Trigger:
    """Kill when the current process's ``n``-th request of ``kind`` arrives or is answered."""

    kind: str  # send-in-flight | send-answered | invite-answered | batch-answered
    n: int
    seen: int = 0
    fired: bool = False


def _kind_of(method: str, path: str) -> str | None:
    path = path.rstrip("/").lower()
    if method == "POST" and path.endswith("/messaging/messages"):
        return "send"
    if method == "POST" and path.endswith("/communication/messaginginvitations"):
        return "invite"
    if method == "GET" and path.endswith("/events"):
        return "batch"
    return None


class Watch:
    """The simulator's ASGI app with the bot's requests watched (see the module docstring).

    ``user`` is the bot's SIP URI; ``kill`` is called (at most once per armed trigger) to
    kill the current process and returns an event set once it is dead.
    """

    def __init__(self, sim: Simulator, user: str, kill: Callable[[str], asyncio.Event]) -> None:
        self.sim = sim
        self.app: ASGIApp = sim.app
        self.user = user.lower()
        self.kill = kill
        self.trigger: Trigger | None = None
        self.tokens: list[str] = []  # each process's token, in order
        self.polls: collections.Counter[str] = collections.Counter()  # event GETs by token
        self.counts: collections.Counter[str] = collections.Counter()  # the bot's requests
        #: each message performed: (process number, OperationContext, text)
        self.sent: list[tuple[int, str, str]] = []

        self._mark = 0  # tokens seen before the current process started

    def started(self) -> None:
        """A new process is starting: :attr:`ready` waits for its token."""
        self._mark = len(self.tokens)

    @property
    def ready(self) -> bool:
        """The process started last has signed in and is reading its event channel."""
        return len(self.tokens) > self._mark and self.polls[self.tokens[-1]] > 0

    @property
    def progressed(self) -> bool:
        """The process started last has committed a batch: it asked for the next one (a
        durable bot acknowledges a batch only once it is committed)."""
        return len(self.tokens) > self._mark and self.polls[self.tokens[-1]] > 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode()
        token = self.sim.token_of(authorization)
        if token is None or token.user.uri.lower() != self.user:
            await self.app(scope, receive, send)
            return
        if token.value not in self.tokens:
            self.tokens.append(token.value)
        kind = _kind_of(scope["method"], scope["path"])
        current = token.value == self.tokens[-1]
        if kind == "send":
            receive, send = self._record(scope, receive, send, self.tokens.index(token.value) + 1)
        if kind is None or not current:
            await self.app(scope, receive, send)
            return
        self.counts[kind] += 1
        if kind == "batch":
            self.polls[token.value] += 1
        dead: asyncio.Event | None = None
        mark = self._mark
        if self._fires(f"{kind}-in-flight"):
            dead = self.kill(f"{kind}-in-flight")
        after = self._fires(f"{kind}-answered")

        async def forward(message: Message) -> None:
            nonlocal dead, after
            after = after and mark == self._mark  # else the process is gone already
            if after and kind != "batch" and message["type"] == "http.response.start":
                dead = self.kill(f"{kind}-answered")
            if dead is not None and kind != "batch":
                await asyncio.wait_for(dead.wait(), WAIT)  # the bot never sees this answer
            await send(message)
            last = message["type"] == "http.response.body" and not message.get("more_body")
            if after and kind == "batch" and last:
                self.kill(f"{kind}-answered")

        await self.app(scope, receive, forward)

    def _record(
        self, scope: Scope, receive: Receive, send: Send, process: int
    ) -> tuple[Receive, Send]:
        """Note each message the simulator performs: which process, its text and
        OperationContext (:attr:`sent`), to tell a double's origin."""
        query = scope.get("query_string", b"").decode()
        context = query.partition("OperationContext=")[2].partition("&")[0]
        body = bytearray()

        async def receiving() -> Message:
            message = await receive()
            body.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 201:
                self.sent.append((process, context, body.decode(errors="replace").strip()))
            await send(message)

        return receiving, sending

    def _fires(self, kind: str) -> bool:
        trigger = self.trigger
        if trigger is None or trigger.fired or trigger.kind != kind:
            return False
        trigger.seen += 1
        if trigger.seen < trigger.n:
            return False
        trigger.fired = True
        return True


@dataclass
class TicketDesk:
    """The webhook's server (see the module docstring); an ASGI app.

    ``slow(body)`` says whether the first answer for this body waits for a kill;
    ``kills()`` is how many kills happened so far; ``released`` ends every wait (set it when
    the killing is over). :attr:`crossed` holds the keys whose call was pending at a kill.
    """

    slow: Callable[[Any], bool]
    kills: Callable[[], int]
    tickets: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> ticket id
    bodies: dict[str, Any] = field(default_factory=dict)
    deliveries: collections.Counter[str] = field(default_factory=collections.Counter)
    mismatched: list[str] = field(default_factory=list)
    held: int = 0  # answers waiting for a kill now
    released: asyncio.Event = field(default_factory=asyncio.Event)
    crossed: set[str] = field(default_factory=set)  # keys whose first answer waited for a kill

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the bot died while sending it: not a request
            raw += message.get("body", b"")
            if not message.get("more_body", False):
                break
        body = json.loads(raw) if raw else None
        key = dict(scope["headers"]).get(b"idempotency-key", b"").decode()
        self.deliveries[key] += 1
        if key not in self.tickets:
            self.tickets[key] = f"T{len(self.tickets) + 1:04d}"
            self.bodies[key] = body
        elif self.bodies[key] != body:
            self.mismatched.append(f"{key}: {self.bodies[key]} then {body}")
        if self.deliveries[key] == 1 and self.slow(body) and await self._hold():
            self.crossed.add(key)
        answer = json.dumps({"id": self.tickets[key]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    async def _hold(self) -> bool:
        """Wait until the next kill (True) or the release (False)."""
        before = self.kills()
        self.held += 1
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT
            while self.kills() == before and not self.released.is_set():
                assert loop.time() < deadline, "a held ticket waited for a kill in vain"
                await asyncio.sleep(0.01)
        finally:
            self.held -= 1
        return self.kills() != before

    @property
    def retried(self) -> list[str]:
        """Keys sent more than once."""
        return [key for key, count in self.deliveries.items() if count > 1]

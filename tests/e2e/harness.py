"""End-to-end stage: the simulator on a loopback socket, a real bot, real callers, one clock.

:func:`stage` serves a :class:`~ucwa_flow.simulator.Simulator` with :func:`serve` (real
uvicorn, real sockets), signs a :class:`~ucwa_flow.runtime.Bot` in as tosh through a real
:class:`~ucwa_flow.ucwa.UcwaClient` and runs it. The simulator, every client and the bot
share one :class:`~ucwa_flow.clock.ManualClock`, so protocol and flow timeouts are virtual:
a test moves time with ``await stage.clock.advance(seconds)``.

:meth:`Stage.person` signs a real caller in (a :class:`~ucwa_flow.runtime.Caller` over its
own ``UcwaClient``), wrapped in :class:`Person`, which waits for what the caller sees.
Waits use real time only as a guard: ``WAIT`` seconds are reached only when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import json
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.quiet import WatchedClock, until_quiet
from tests.guards import WAIT
from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import Flow, load_flow, load_flow_text
from ucwa_flow.lifecycle import ConversationEnded, InvitationReceived, LifecycleTracker
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.runtime.caller import Caller, Heard
from ucwa_flow.runtime.limits import Limits
from ucwa_flow.runtime.routing import Catalog
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users, serve
from ucwa_flow.store import Store
from ucwa_flow.ucwa import EventChannel, UcwaClient
from ucwa_flow.ucwa.events import EventBatch

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
BOT = "sip:toshm@contoso.com"
LENE = "sip:lenea@contoso.com"
PASSWORD = "pass@word1"

#: People the flows in flows/ invite, added to the simulator's directory.
EXTRA_USERS = [
    SimulatorUser("sip:helpdesk-agents@contoso.com", "Helpdesk Agents"),
    SimulatorUser("sip:service-desk@contoso.com", "Service Desk"),
    SimulatorUser("sip:marco@contoso.com", "Marco Rossi"),
    SimulatorUser("sip:guest@fabrikam.com", "Fabrikam Guest"),
]


def load(name: str, **variables: str) -> Flow:
    """Load ``flows/<name>.flow.yaml``, with some variable defaults replaced.

    A replaced variable is changed in a copy of the file's text (``name: value`` on its
    line), so the flow goes through the same loader and checks as the original.
    """
    text = (FLOWS / f"{name}.flow.yaml").read_text(encoding="utf-8")
    for variable, value in variables.items():
        lines = text.splitlines()
        hits = [i for i, line in enumerate(lines) if line.startswith(f"  {variable}:")]
        assert len(hits) == 1, f"{name} has no variable line for {variable}"
        lines[hits[0]] = f"  {variable}: {json.dumps(value)}"
        text = "\n".join(lines) + "\n"
    path = FLOWS / f"{name}.flow.yaml"
    result = load_flow_text(text, str(path)) if variables else load_flow(path)
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


class Person:
    """A real caller (``Caller`` over a ``UcwaClient``) and what it has seen so far."""

    def __init__(self, caller: Caller, quiet: Callable[[], Awaitable[None]] | None = None) -> None:
        self.caller = caller
        self.seen: list[Heard] = []
        self._quiet = quiet or settle

    @property
    def uri(self) -> str:
        return self.caller.client.user

    async def say(self, text: str) -> None:
        await self.caller.chat(text)

    async def hear(self, count: int = 1) -> list[str]:
        """The next ``count`` messages the bot sent (fails on an end or after ``WAIT``)."""
        texts: list[str] = []
        for _ in range(count):
            item = await self._next()
            assert item.text is not None, f"{self.uri} expected a message, the chat ended: {item}"
            texts.append(item.text)
        return texts

    async def hear_end(self) -> str:
        """Wait for the end of the conversation; returns why it ended."""
        item = await self._next()
        assert item.ended is not None, f"{self.uri} expected the end, heard {item.text!r}"
        return item.ended

    async def silence(self) -> None:
        """Assert that nothing more arrived (once the stage is quiet, when it has one)."""
        await self._quiet()
        more = self.caller.heard[len(self.seen) :]
        assert not more, f"{self.uri} heard {more[0]}"

    async def _next(self) -> Heard:
        item = await asyncio.wait_for(self.caller.wait_heard(len(self.seen) + 1), WAIT)
        self.seen.append(item)
        return item


class Agent:
    """A second real client that answers the bot's invitations by hand (accept/decline).

    It reads its own event channel through a :class:`LifecycleTracker`, like the bot does;
    :attr:`invitations` collects what it was offered and :attr:`ended` the conversations
    that ended on its side.
    """

    def __init__(self, client: UcwaClient, clock: ManualClock) -> None:
        self.client = client
        self.invitations: asyncio.Queue[InvitationReceived] = asyncio.Queue()
        self.ended: list[str] = []
        self._tracker = LifecycleTracker()
        self._channel = EventChannel(client, clock=clock)
        self._task: asyncio.Task[None] | None = None

    @property
    def channel(self) -> EventChannel:
        return self._channel

    async def start(self) -> None:
        await self.client.sign_in()
        await self.client.make_me_available()
        self._task = asyncio.create_task(self._read())

    async def invited(self) -> InvitationReceived:
        """The next invitation (fails after ``WAIT`` real seconds)."""
        return await asyncio.wait_for(self.invitations.get(), WAIT)

    async def aclose(self) -> None:
        await self._channel.aclose()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.client.delete_application()
        await self.client.aclose()

    async def _read(self) -> None:
        async for item in self._channel:
            if not isinstance(item, EventBatch):
                continue
            for record in item.events:
                for change in self._tracker.apply(record):
                    if isinstance(change, InvitationReceived):
                        self.invitations.put_nowait(change)
                    elif isinstance(change, ConversationEnded):
                        self.ended.append(change.conversation)


@dataclass
class Stage:
    """A running simulator and bot; ``traces`` is everything the bot did, in order."""

    sim: Simulator
    clock: WatchedClock
    url: str
    bot: Bot
    traces: list[t.Trace] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)
    flow: Flow | Catalog | None = None
    store: Store | None = None
    task: asyncio.Task[None] | None = None
    limits: Limits = field(default_factory=Limits)
    _quiet: asyncio.Future[None] | None = field(default=None, repr=False)

    async def crash(self) -> None:
        """Kill the bot as SIGKILL would: nothing more is committed, sent or deleted.

        Its tasks are cancelled, its timers dropped and its connections closed; the UCWA
        application stays on the server with the events the bot had not acknowledged.
        """
        bot = self.bot
        durable = bot.durable
        assert durable is not None, "crash() needs a durable bot (stage(store=...))"
        tasks = [self.task, bot._committer, bot._keep_alive]
        for task in tasks:
            if task is not None:
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        durable.journal.take()  # decided, never committed: lost with the process
        engine = bot.engine
        engine._runner.cancel()  # the steps queued or under way die with the process
        for task in list(engine._tasks):
            task.cancel()
        for instance in engine.instances.values():
            instance.close()
        if bot._channel is not None:
            await bot._channel.aclose()
        await bot.client.aclose()
        self.task = None

    async def restart(self, flow: Flow | Catalog | None = None) -> Bot:
        """Start a new durable bot on the same store and account (after :meth:`crash`),
        running ``flow`` (what the crashed bot ran, by default)."""
        self.flow = flow or self.flow
        assert self.flow is not None
        assert self.store is not None
        client = UcwaClient(BOT, PASSWORD, server_url=self.url, clock=self.clock)
        self.bot = Bot(
            self.flow,
            client,
            clock=self.clock,
            sink=self.traces.append,
            store=self.store,
            limits=self.limits,
        )
        await self.bot.start()
        self.task = asyncio.create_task(self.bot.run())
        return self.bot

    async def person(self, uri: str = LENE, formats: tuple[str, ...] | None = None) -> Person:
        """Sign a real caller in as ``uri`` (its event channel is read from now on).

        ``formats`` are the message formats its makeMeAvailable offers (``("Plain",)`` for
        a plain-text-only client); by default both.
        """
        client = UcwaClient(
            uri, PASSWORD, server_url=self.url, clock=self.clock, transport=transport()
        )
        if formats is not None:  # the caller's own makeMeAvailable then changes nothing
            await client.sign_in()
            await client.make_me_available(formats)
        caller = Caller(client, BOT, clock=self.clock)
        person = Person(caller, self.idle)
        self.people.append(person)
        await caller.start()
        return person

    async def agent(self, uri: str) -> Agent:
        """Sign a second real client in as ``uri``; it answers invitations by hand."""
        agent = Agent(UcwaClient(uri, PASSWORD, server_url=self.url, clock=self.clock), self.clock)
        self.agents.append(agent)
        await agent.start()
        return agent

    def said(self) -> list[str]:
        return [r.text for r in self.traces if isinstance(r, t.MessageOut)]

    def states(self) -> list[str]:
        return [r.state for r in self.traces if isinstance(r, t.StateEntered)]

    def of(self, kind: type[t.Trace]) -> list[Any]:
        return [r for r in self.traces if isinstance(r, kind)]

    async def until(
        self, ready: Callable[[], object], what: str = "the condition", *, idle: bool = True
    ) -> None:
        """Poll ``ready`` (real time, ``WAIT`` at most) while loopback traffic lands.

        Then, with ``idle``, wait for the bot's mailboxes to drain; without it, return at
        once (the bot may be waiting on the clock, which only the test can move).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while not ready():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)
        if idle:
            await self.idle()

    async def idle(self) -> None:
        """Wait until in-flight HTTP exchanges have landed and the bot's mailboxes are
        drained: until nothing moves without the test (:mod:`tests.e2e.quiet`). Callers
        waiting at once (every person's :meth:`Person.silence`) share one wait."""
        if self._quiet is None or self._quiet.done():
            self._quiet = asyncio.ensure_future(until_quiet(self))
        await asyncio.shield(self._quiet)

    async def committed(self) -> None:
        """Wait until a durable bot has committed every batch it has read: its next poll is
        parked on the server (it polls again only once the batch before is committed); then
        :meth:`idle`. The commit runs in the bot's own task, which :meth:`idle` does not wait
        for: a crash that must find the last batch in the store waits here first."""
        assert self.bot.durable is not None, "committed() needs a durable bot"
        app = [a for a in self.sim.applications if a.user.uri == BOT][-1]
        await self.until(lambda: app.channel.held, "the bot's next poll (its batch committed)")


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def transport() -> httpx.AsyncHTTPTransport:
    """A caller's own connection pool, with the one TLS context every caller shares.

    Without it each ``UcwaClient`` builds two TLS contexts (about 27 ms of CPU each to load
    the CA bundle, even for http:// URLs): 11 of the 200-caller test's seconds.
    """
    return httpx.AsyncHTTPTransport(verify=_tls(), limits=httpx.Limits(max_connections=12))


async def settle(seconds: float = 0.05) -> None:
    """Give loopback round trips a moment of real time (never used to wait for time-outs)."""
    await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def stage(
    flow: Flow | Catalog,
    *,
    start: datetime | None = None,
    users: list[SimulatorUser] | None = None,
    before_bot: list[str] | None = None,
    invitation_timeout: float = 30.0,
    store: Store | None = None,
    limits: Limits | None = None,
) -> AsyncIterator[Stage]:
    """Run ``flow`` (or a catalog of flows) as tosh on a fresh simulator (see the module
    docstring), within ``limits``.

    ``before_bot`` names people signed in before the bot starts (an outbound flow invites
    them as soon as it is up): a caller (:attr:`Stage.people`), or with an ``agent:``
    prefix an :class:`Agent` who answers by hand (:attr:`Stage.agents`).
    ``invitation_timeout`` is when the simulator fails an unanswered invitation.
    With ``store`` the bot is durable; :meth:`Stage.crash` and :meth:`Stage.restart`
    kill it and start another one on the same store.
    """
    clock = WatchedClock(start)
    config = SimulatorConfig(
        users=users or [*default_users(), *EXTRA_USERS],
        invitation_timeout=invitation_timeout,
        seed=11,
    )
    sim = Simulator(config, clock=clock)
    async with serve(sim, host="127.0.0.1", port=0) as url:
        client = UcwaClient(BOT, PASSWORD, server_url=url, clock=clock)
        traces: list[t.Trace] = []
        limits = limits or Limits()
        bot = Bot(flow, client, clock=clock, sink=traces.append, store=store, limits=limits)
        running = Stage(sim, clock, url, bot, traces, flow=flow, store=store, limits=limits)
        task: asyncio.Task[None] | None = None
        try:
            for uri in before_bot or []:
                if uri.startswith("agent:"):
                    await running.agent(uri.removeprefix("agent:"))
                else:
                    await running.person(uri)
            await bot.start()
            task = running.task = asyncio.create_task(bot.run())
            yield running
        finally:
            # a failed test may leave the bot sleeping on the clock: a guard, not a hang
            if running._quiet is not None:  # an idle() whose waiters were all cancelled
                running._quiet.cancel()
            bot, task = running.bot, running.task
            await asyncio.wait_for(bot.aclose(), WAIT)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if bot.client is not client:
                await bot.client.aclose()
            for agent in running.agents:
                await agent.aclose()
            for person in running.people:
                await person.caller.aclose()
                await person.caller.client.aclose()
            await client.aclose()


# -- a small real HTTP server for webhooks (ticket system, survey, call-backs) --------------


@dataclass
class Hooks:
    """What the webhook server received, and how it answers (``status``, ``reply``).

    ``headers`` are the request headers, in order; while ``hold`` is set, requests are
    received but not answered (never: a crash; or, with ``answer_held``, once ``released``
    is set, as it stands then).
    """

    url: str
    status: int = 201
    reply: Any = field(default_factory=lambda: {"id": "INC0042"})
    received: list[tuple[str, str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    answer_held: bool = False


@contextlib.contextmanager
def webhook_server() -> Iterator[Hooks]:
    """An HTTP/1.1 server on 127.0.0.1 (a thread) that records JSON requests."""
    hooks = Hooks(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            hooks.headers.append(dict(self.headers.items()))
            hooks.received.append((self.command, self.path, json.loads(raw) if raw else None))
            if hooks.hold.is_set():
                hooks.released.wait(WAIT)
                if not hooks.answer_held:
                    return
            body = json.dumps(hooks.reply).encode()
            self.send_response(hooks.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hooks.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hooks
    finally:
        hooks.released.set()
        server.shutdown()
        server.server_close()


async def assert_released(s: Stage) -> None:
    """Nothing of a finished conversation is left: instances, tracker, machine models.

    The bot forgets a conversation when its own event channel says it ended, on its own
    poll: a caller may have heard the end before. That is waited for (``WAIT`` at most: a
    conversation never forgotten fails here), then the rest is checked.
    """
    engine = s.bot.engine
    await s.until(
        lambda: not engine.instances and len(engine.tracker) == 0, "the bot to forget them"
    )
    assert engine.instances == {}
    assert len(engine.tracker) == 0
    for flow_machine in engine.versions.machines():
        assert len(flow_machine.models) == 0, flow_machine.name
    tracker = engine.tracker
    for machine in (
        tracker.conversation_machine,
        tracker.messaging_machine,
        tracker.invitation_machine,
    ):
        assert len(machine.models) == 0, machine.name
    assert not engine.busy


async def pass_markers(s: Stage) -> None:
    """Let a restarted durable bot read its markers: each is a medium-priority event (held
    5 s), one put at the start and one once the first batch is read.

    The second one is put after that batch is handled and committed, in the bot's own task
    (which :meth:`Stage.idle` does not wait for): the clock moves on only once it is on the
    server, or its hold would end past the second move, and never.
    """
    durable = s.bot.durable
    assert durable is not None, "pass_markers() needs a durable bot"
    doubt, marker = durable.doubt, durable.marker
    calls = [0, 0]  # marker calls begun, ended

    async def counted() -> bool:
        assert marker is not None
        calls[0] += 1
        try:
            return await marker()
        finally:
            calls[1] += 1

    marked = durable.marked  # a bot sure of what it did puts none
    if marker is not None:
        durable.marker = counted
    try:
        await s.clock.advance(6)
        # the first batch read (a marker, if any, is put in the same step) and that put done
        await s.until(
            lambda: (
                not marked
                or not doubt.restarting
                or (doubt.since_restart >= 1 and calls[0] == calls[1])
            ),
            "the first batch after the restart read, and the next marker put",
        )
    finally:
        durable.marker = marker
    await s.clock.advance(6)

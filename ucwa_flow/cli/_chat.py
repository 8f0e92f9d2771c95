"""``ucwa-flow run`` on the embedded simulator: the person at the terminal is the caller.

:func:`chat` starts the simulator on loopback with what the flow needs around it (a demo
ticket service and simulated agents, see :mod:`ucwa_flow.cli._demo`), signs the bot in
as ``sip:toshm@contoso.com`` and the caller (any address; one the simulator does not know
is added to its users) and relays lines between the terminal and the caller's UCWA client.

From a terminal the chat is interactive; from a pipe each line of stdin is one caller
message, the transcript goes to stdout (what is simulated goes to stderr), and each line
waits until the bot has reacted. When a conversation ends, the next line starts a new one;
end of input (Ctrl-D) leaves once the bot is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import click
import httpx

from ucwa_flow.clock import SystemClock
from ucwa_flow.errors import OperationalError
from ucwa_flow.flow import Flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.runtime.caller import Caller, Heard
from ucwa_flow.runtime.transcript import describe
from ucwa_flow.store import Store
from ucwa_flow.ucwa import UcwaClient

if TYPE_CHECKING:
    from ucwa_flow.live import LiveBoard
    from ucwa_flow.simulator.demo import Answer

__all__ = ["SIM_BOT", "ChatOptions", "Output", "chat"]

SIM_BOT = "sip:toshm@contoso.com"
_SETTLE_LIMIT = 60.0  # seconds to wait for the bot's reaction to one line
_ENDED_HINT = "  (the conversation has ended: type a line to start a new one, Ctrl-D to leave)"


@dataclass(frozen=True)
class ChatOptions:
    """How ``run`` on the simulator was asked to behave."""

    caller: str
    verbose: bool
    interactive: bool
    set_by_user: frozenset[str]  # variables ``--var`` set: never simulated
    agent_delay: float
    agent_answer: Answer
    ca_bundle: str | None = None
    insecure: bool = False
    subject: str = ""


async def chat(
    flow: Flow,
    options: ChatOptions,
    stdin: TextIO,
    webhooks: httpx.AsyncClient | None,
    store: Store | None = None,
    board: LiveBoard | None = None,
) -> None:
    """Run ``flow`` on the embedded simulator and chat with it through ``stdin`` (a
    durable bot when ``store`` is given; ``board`` is fed the bot's trace records)."""
    from ucwa_flow.cli._demo import extra_users, plan, serve_world
    from ucwa_flow.simulator import DEFAULT_PASSWORD, Simulator, SimulatorConfig, serve

    clock = SystemClock()
    out = Output(options.interactive)
    traces: list[t.Trace] = []

    def sink(record: t.Trace) -> None:
        traces.append(record)
        if board is not None:
            board(record)
        if isinstance(record, t.MessageOut | t.Ended):
            return  # the caller's side reports these, as the caller saw them
        line = describe(record, verbose=options.verbose)
        if line is not None:
            out.line(line)

    demo = plan(flow, set_by_user=set(options.set_by_user), caller=options.caller, bot=SIM_BOT)
    config = SimulatorConfig()
    added = extra_users(config.users, [options.caller, *demo.agents])
    config.users += added
    simulated = []
    if any(user.uri.lower() == options.caller.lower() for user in added):
        simulated.append(f"  {options.caller}: you, added to the simulator's users")
    sim = Simulator(config, clock=clock)

    def client(user: str, url: str) -> UcwaClient:
        return UcwaClient(
            user,
            DEFAULT_PASSWORD,
            server_url=url,
            ca_bundle=options.ca_bundle,
            insecure=options.insecure,
        )

    async with (
        serve(sim, host="127.0.0.1", port=0) as url,
        serve_world(
            demo, sim, report=out.line, delay=options.agent_delay, answer=options.agent_answer
        ) as world,
    ):
        bot = Bot(
            world.apply(flow),
            client(SIM_BOT, url),
            clock=clock,
            sink=sink,
            http=webhooks,
            store=store,
        )
        if board is not None:
            board.attach(bot.engine)
        session: _Session | None = None
        bot_task: asyncio.Task[None] | None = None

        def settled() -> bool:
            assert session is not None
            assert bot_task is not None
            if bot_task.done():
                bot_task.result()  # raises what stopped the bot
                raise OperationalError("the bot stopped")
            person = session.person
            if person.ended is not None:
                return True
            answers = bool(world.agents) and options.agent_answer != "ignore"
            if world.answering or (answers and _ringing(traces)):
                return False  # a simulated agent is about to answer the bot
            heard_in = sum(1 for r in traces if isinstance(r, t.MessageIn)) - session.base_in
            if (
                flow.settings.first_message == "route_only"
                and _started(traces) > session.base_started
            ):
                # the invitation's text only routed it: no MessageIn for it; heard once the
                # conversation has started (a durable bot accepts once the decision is stored)
                heard_in += 1
            sent = _said_to_callers(traces) - session.base_out
            return heard_in >= person.sent and not bot.engine.busy and person.received >= sent

        try:
            session = await _Session.start(client(options.caller, url), traces, out)
            await bot.start()
            bot_task = asyncio.create_task(bot.run())
            if flow.outbound is not None and not await session.person.wait_invited(10.0):
                out.line(f"* the bot did not invite {options.caller}")
            await _settle(settled)
            _banner(flow, options, [*simulated, *world.banner()], out)
            async for line in _lines(stdin, out if options.interactive else None):
                settled()  # a bot that stopped ends the chat with its error
                if not line.strip():
                    continue
                if session.person.ended is not None:
                    await session.aclose()
                    session = await _Session.start(client(options.caller, url), traces, out)
                if not options.interactive:
                    out.line(f"you: {line}")
                await session.person.chat(line, subject=options.subject)
                if not options.interactive:
                    await _settle(settled)
            await _settle(settled)
            await session.stop_printing()  # what shutting down does is not the chat's
        finally:
            await bot.aclose(keep=False)  # the simulator ends with the run
            if session is not None:
                await session.aclose()
            if bot_task is not None:
                bot_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bot_task
            await bot.client.aclose()


def _banner(flow: Flow, options: ChatOptions, simulated: list[str], out: Output) -> None:
    lines = []
    if options.interactive:
        first = (  # an outbound flow's bot invites the caller and speaks first
            "The bot invites you: answer it"
            if flow.outbound is not None
            else "Type a line to start the conversation (the bot answers your first message)"
        )
        lines.append(
            f"Chatting with the {flow.name!r} bot as {options.caller} on the embedded "
            f"simulator. {first}; Ctrl-D or Ctrl-C to leave."
        )
    if simulated:
        lines.append("Simulated for this run:")
        lines += simulated
    for text in lines:
        if options.interactive:
            out.line(text)
        else:
            click.echo(text, err=True)


class _Session:
    """One conversation of the person at the terminal: a caller client and its printer."""

    def __init__(self, person: Caller, traces: list[t.Trace], out: Output) -> None:
        self.person = person
        self.out = out
        # trace counts when it started: the messages of earlier conversations are not its own
        self.base_in = sum(1 for r in traces if isinstance(r, t.MessageIn))
        self.base_out = _said_to_callers(traces)
        self.base_started = _started(traces)
        self.printer: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, client: UcwaClient, traces: list[t.Trace], out: Output) -> _Session:
        # a terminal shows text: offered only Plain, the bot sends a flow's text: part
        person = Caller(client, SIM_BOT, clock=SystemClock(), formats=("Plain",))
        session = cls(person, traces, out)
        out.shown = 0
        # first: an outbound flow invites the caller as soon as the bot starts
        await session.person.start()
        session.printer = asyncio.create_task(_print_heard(session.person, out))
        return session

    async def stop_printing(self) -> None:
        """Write what the person heard so far, and nothing after."""
        if self.printer is not None:
            self.printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.printer
            self.printer = None
            self.out.catch_up(self.person)

    async def aclose(self) -> None:
        await self.stop_printing()
        await self.person.aclose()
        await self.person.client.aclose()


def _ringing(traces: list[t.Trace]) -> bool:
    """An ``invite`` action of a live conversation waits for its outcome."""
    waiting: dict[str, int] = {}
    for record in traces:
        if isinstance(record, t.ActionDone) and record.action == "invite":
            waiting[record.conversation] = waiting.get(record.conversation, 0) + 1
        elif isinstance(record, t.OutcomeReceived) and record.action == "invite":
            waiting[record.conversation] = waiting.get(record.conversation, 0) - 1
        elif isinstance(record, t.Ended):
            waiting.pop(record.conversation, None)
    return any(count > 0 for count in waiting.values())


def _started(traces: list[t.Trace]) -> int:
    """Conversations of callers the bot accepted that have entered their first state."""
    accepted = {
        r.conversation
        for r in traces
        if isinstance(r, t.InvitationDecided) and r.decision == "accept"
    }
    return len({r.conversation for r in traces if isinstance(r, t.StateEntered)} & accepted)


def _said_to_callers(traces: list[t.Trace]) -> int:
    """Messages the bot sent to callers (not those a handoff relays to an agent: the bot
    started those conversations, no invitation of the bot's was decided in them)."""
    callers = {
        r.conversation for r in traces if isinstance(r, t.InvitationDecided | t.StateEntered)
    }
    return sum(1 for r in traces if isinstance(r, t.MessageOut) and r.conversation in callers)


async def _settle(settled: Callable[[], bool]) -> None:
    """Wait until ``settled()`` has held a little while (the bot handled every line and
    its replies reached the caller), at most :data:`_SETTLE_LIMIT` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SETTLE_LIMIT
    quiet = 0
    while quiet < 3 and loop.time() < deadline:
        await asyncio.sleep(0.02)
        quiet = quiet + 1 if settled() else 0


async def _print_heard(person: Caller, out: Output) -> None:
    while True:
        await person.wait_heard(out.shown + 1)
        out.catch_up(person)


class Output:
    """Writes transcript lines; in a terminal it keeps the ``you>`` prompt tidy."""

    PROMPT = "you> "

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive
        self.shown = 0  # how many of the caller's heard items are written
        self.prompting = False  # the prompt is on screen, waiting for the person's input

    def line(self, text: str) -> None:
        if self.interactive:
            sys.stdout.write(f"\r\x1b[K{text}\n{self.PROMPT}")
            self.prompting = True
        else:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def catch_up(self, person: Caller) -> None:
        """Write what ``person`` heard since the last call."""
        for item in person.heard[self.shown :]:
            self.heard(item)
        self.shown = len(person.heard)

    def heard(self, item: Heard) -> None:
        if item.text is not None:
            self.line("bot: " + item.text.replace("\n", "\n     "))
            return
        self.line(f"* {item.ended}")
        if self.interactive:
            self.line(_ENDED_HINT)

    def prompt(self) -> None:
        """Show the prompt, unless it is already there."""
        if not self.prompting:
            sys.stdout.write(self.PROMPT)
            sys.stdout.flush()
            self.prompting = True

    def entered(self) -> None:
        """The person pressed Enter: the prompt scrolled up; show a fresh one."""
        self.prompting = False
        self.prompt()


async def _lines(stdin: TextIO, prompt: Output | None) -> AsyncIterator[str]:
    """stdin lines, read by a daemon thread so that Ctrl-C never waits for Enter."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for raw in stdin:
            loop.call_soon_threadsafe(queue.put_nowait, raw.rstrip("\r\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    if prompt is not None:
        prompt.prompt()
    while (line := await queue.get()) is not None:
        if prompt is not None:
            prompt.entered()
        yield line
    if prompt is not None:
        sys.stdout.write("\n")

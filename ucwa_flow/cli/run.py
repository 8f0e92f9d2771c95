"""``ucwa-flow run FLOW``: run a flow as a bot.

Without ``--server`` it starts the embedded simulator on loopback, signs the bot in as
``sip:toshm@contoso.com`` through UCWA, signs a caller in (``--caller``, default
``sip:lenea@contoso.com``) and lets the person at the terminal chat with the bot as that
caller. From a terminal the chat is interactive; from a pipe each line of stdin is one
caller message, the transcript goes to stdout, and the command ends at end of input once
the bot is idle or the conversation has ended.

With ``--server URL`` (or ``UCWA_FLOW_SERVER``) and ``--user``/``--password`` (or
``UCWA_FLOW_USER``/``UCWA_FLOW_PASSWORD``) it runs the bot against a real Skype for
Business server and serves every caller who invites it until Ctrl-C. Ctrl-C always ends
cleanly: open conversations are stopped and the UCWA application is deleted.

TLS certificates are always verified; ``--ca-bundle FILE`` (or ``UCWA_FLOW_CA_BUNDLE``)
trusts a private CA as well, such as a corporate one or the one ``ucwa-flow simulate
--tls`` prints. ``--insecure`` turns verification off and says so loudly on every start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import TextIO

import click
import httpx

from ucwa_flow.clock import SystemClock
from ucwa_flow.errors import OperationalError
from ucwa_flow.flow import Flow, FlowFileError, load_flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.runtime.caller import Caller, Heard
from ucwa_flow.runtime.transcript import Labels, describe
from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa._tls import client_context

__all__ = ["command"]

SIM_BOT = "sip:toshm@contoso.com"
_INSECURE_WARNING = (
    "WARNING: --insecure: TLS certificates are NOT verified. Anyone on the network path can "
    "impersonate the server and read the bot's password and messages. Use --ca-bundle FILE "
    "instead."
)
_SETTLE_LIMIT = 60.0  # seconds to wait for the bot's reaction to one line


@click.command("run")
@click.argument("flow_file", metavar="FLOW")
@click.option(
    "--server",
    envvar="UCWA_FLOW_SERVER",
    metavar="URL",
    help="A real UCWA server's discovery URL (env UCWA_FLOW_SERVER). "
    "Default: the embedded simulator.",
)
@click.option(
    "--user",
    envvar="UCWA_FLOW_USER",
    metavar="SIP",
    help="The bot's sign-in, e.g. sip:helpdesk@contoso.com (env UCWA_FLOW_USER).",
)
@click.option(
    "--password", envvar="UCWA_FLOW_PASSWORD", help="The bot's password (env UCWA_FLOW_PASSWORD)."
)
@click.option(
    "--caller",
    default="sip:lenea@contoso.com",
    show_default=True,
    metavar="SIP",
    help="Who you chat as on the embedded simulator.",
)
@click.option(
    "--ca-bundle",
    envvar="UCWA_FLOW_CA_BUNDLE",
    metavar="FILE",
    help="Also trust the CA certificates in this PEM file, for the server and for webhooks, "
    "e.g. a corporate CA or the one `ucwa-flow simulate --tls` prints (env UCWA_FLOW_CA_BUNDLE).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Do not verify the server's TLS certificate. Unsafe; never the default.",
)
@click.option(
    "--var",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a flow variable's starting value (repeatable), e.g. --var "
    "ticket_url=https://tickets.contoso.com/api; VALUE is read as JSON when it parses "
    "(3, true, null), else as text.",
)
@click.option(
    "--verbose", "-v", is_flag=True, help="Show lifecycle and flow transitions as well as messages."
)
def command(
    flow_file: str,
    server: str | None,
    user: str | None,
    password: str | None,
    caller: str,
    ca_bundle: str | None,
    insecure: bool,
    overrides: tuple[str, ...],
    verbose: bool,
) -> None:
    """Run FLOW as a bot; chat with it on the embedded simulator by default.

    FLOW may be written X.yaml for X.flow.yaml.
    """
    flow = _with_variables(_load(flow_file), overrides)
    _configure_logging(verbose)
    if insecure:
        click.secho(_INSECURE_WARNING, err=True, fg="red", bold=True)
    tls = _Tls(ca_bundle or None, insecure)
    if server is not None and (not user or not password):
        raise click.UsageError(
            "--server needs --user and --password (or UCWA_FLOW_USER and UCWA_FLOW_PASSWORD)"
        )
    main = (
        _serve(flow, server, user or "", password or "", verbose, tls)
        if server is not None
        else _chat(flow, caller, verbose, sys.stdin, tls, interactive=sys.stdin.isatty())
    )
    try:
        asyncio.run(main)
    except KeyboardInterrupt:
        click.echo("stopped.", err=True)


@dataclass(frozen=True)
class _Tls:
    """How every UcwaClient of this run treats certificates (``--ca-bundle``, ``--insecure``)."""

    ca_bundle: str | None
    insecure: bool

    def webhook_client(self) -> httpx.AsyncClient | None:
        """Webhooks trust ``--ca-bundle`` too (a ticket system behind the same corporate CA);
        ``--insecure`` is about the UCWA server only. ``None``: the engine's default client."""
        if self.ca_bundle is None:
            return None
        return httpx.AsyncClient(verify=client_context(self.ca_bundle), follow_redirects=False)


def _configure_logging(verbose: bool) -> None:
    # Flow errors and `log` actions are already in the transcript (as "!" and [log] lines);
    # the log shows protocol-level trouble, and with --verbose what was skipped and why.
    logging.basicConfig(
        level=logging.WARNING if verbose else logging.ERROR,
        format="ucwa-flow: %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("ucwa_flow.runtime").setLevel(logging.ERROR)


def _with_variables(flow: Flow, overrides: tuple[str, ...]) -> Flow:
    """``flow`` with the starting values that ``--var NAME=VALUE`` options give."""
    values = dict(flow.variables)
    for item in overrides:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--var")
        if name not in values:
            known = ", ".join(sorted(values)) or "none"
            raise click.BadParameter(
                f"{flow.name} has no variable {name!r} (its variables: {known})",
                param_hint="--var",
            )
        try:
            values[name] = json.loads(raw)
        except ValueError:
            values[name] = raw
    return replace(flow, variables=values) if overrides else flow


def _load(path: str) -> Flow:
    try:
        result = load_flow(path)
    except FlowFileError as exc:
        raise click.ClickException(str(exc)) from None
    for diagnostic in result.diagnostics:
        click.echo(str(diagnostic), err=True)
    if result.flow is None:
        click.echo(f"ucwa-flow: error: {path} has errors; nothing was run", err=True)
        sys.exit(1)
    return result.flow


# -- embedded simulator: the person at the terminal is the caller ----------------------------


async def _chat(
    flow: Flow, caller_uri: str, verbose: bool, stdin: TextIO, tls: _Tls, *, interactive: bool
) -> None:
    from ucwa_flow.simulator import DEFAULT_PASSWORD, Simulator, SimulatorConfig, serve

    clock = SystemClock()
    out = _Output(interactive)
    traces: list[t.Trace] = []

    def sink(record: t.Trace) -> None:
        traces.append(record)
        if isinstance(record, t.MessageOut | t.Ended):
            return  # the caller's side reports these, as the caller saw them
        line = describe(record, verbose=verbose)
        if line is not None:
            out.line(line)

    sim = Simulator(SimulatorConfig(), clock=clock)
    webhooks = tls.webhook_client()
    async with serve(sim, host="127.0.0.1", port=0) as url:
        bot = Bot(
            flow,
            UcwaClient(
                SIM_BOT,
                DEFAULT_PASSWORD,
                server_url=url,
                ca_bundle=tls.ca_bundle,
                insecure=tls.insecure,
            ),
            clock=clock,
            sink=sink,
            http=webhooks,
        )
        person = Caller(
            UcwaClient(
                caller_uri,
                DEFAULT_PASSWORD,
                server_url=url,
                ca_bundle=tls.ca_bundle,
                insecure=tls.insecure,
            ),
            SIM_BOT,
            clock=clock,
        )
        try:
            await person.start()  # first: an outbound flow invites the caller at once
            await bot.start()
            bot_task = asyncio.create_task(bot.run())
            printer = asyncio.create_task(_print_heard(person, out))
            if flow.outbound is not None and not await person.wait_invited(10.0):
                out.line(f"* the bot did not invite {caller_uri}")
            await _settle(bot, person, traces, bot_task)
            if interactive:
                out.line(
                    f"Chatting with the {flow.name!r} bot as {caller_uri} on the embedded "
                    "simulator. Ctrl-D or Ctrl-C to leave."
                )
            async for line in _lines(stdin, out if interactive else None):
                if bot_task.done():
                    bot_task.result()  # raises what stopped the bot
                    raise OperationalError("the bot stopped")
                if person.ended is not None:
                    break
                if not line.strip():
                    continue
                if not interactive:
                    out.line(f"you: {line}")
                await person.chat(line)
                if not interactive:
                    await _settle(bot, person, traces, bot_task)
            await _settle(bot, person, traces, bot_task)
            printer.cancel()
            out.catch_up(person)
        finally:
            await bot.aclose()
            await person.aclose()
            if "bot_task" in locals():
                bot_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bot_task
            await bot.client.aclose()
            await person.client.aclose()
            if webhooks is not None:
                await webhooks.aclose()


async def _settle(
    bot: Bot, person: Caller, traces: list[t.Trace], bot_task: asyncio.Task[None]
) -> None:
    """Wait until the bot has handled every line and its replies reached the caller.

    A bot that stopped (its event channel failed) ends the chat with its error at once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SETTLE_LIMIT
    quiet = 0
    while quiet < 3 and loop.time() < deadline:
        await asyncio.sleep(0.02)
        if bot_task.done():
            bot_task.result()  # raises what stopped the bot
            raise OperationalError("the bot stopped")
        heard_in = sum(1 for r in traces if isinstance(r, t.MessageIn))
        sent = sum(1 for r in traces if isinstance(r, t.MessageOut))
        done = person.ended is not None or (
            heard_in >= person.sent and not bot.engine.busy and person.received >= sent
        )
        quiet = quiet + 1 if done else 0


async def _print_heard(person: Caller, out: _Output) -> None:
    while True:
        await person.wait_heard(out.shown + 1)
        out.catch_up(person)


class _Output:
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
        else:
            self.line(f"* {item.ended}")

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


async def _lines(stdin: TextIO, prompt: _Output | None) -> AsyncIterator[str]:
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


# -- a real server: serve every caller ------------------------------------------------------


async def _serve(
    flow: Flow, server: str, user: str, password: str, verbose: bool, tls: _Tls
) -> None:
    clock = SystemClock()
    labels = Labels()
    callers: dict[str, str] = {}

    def sink(record: t.Trace) -> None:
        who = labels(record.conversation) if record.conversation else "-"
        if isinstance(record, t.InvitationDecided) and record.caller:
            callers[record.conversation] = record.caller
        if isinstance(record, t.MessageIn):
            click.echo(f"[{who}] {callers.get(record.conversation, 'caller')}: {record.text}")
            return
        line = describe(record, verbose=verbose)
        if line is not None:
            click.echo(f"[{who}] {line}")
        if isinstance(record, t.Ended):
            labels.forget(record.conversation)
            callers.pop(record.conversation, None)

    client = UcwaClient(
        user, password, server_url=server, ca_bundle=tls.ca_bundle, insecure=tls.insecure
    )
    webhooks = tls.webhook_client()
    bot = Bot(flow, client, clock=clock, sink=sink, http=webhooks)
    try:
        await bot.start()
        click.echo(f"{flow.name}: serving as {user} on {server}. Ctrl-C to stop.", err=True)
        await bot.run()
    finally:
        await bot.aclose()
        await bot.client.aclose()
        if webhooks is not None:
            await webhooks.aclose()

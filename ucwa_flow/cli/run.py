"""``ucwa-flow run FLOW``: run a flow as a bot.

Without ``--server`` it starts the embedded simulator on loopback, signs the bot in as
``sip:toshm@contoso.com`` through UCWA, signs a caller in (``--caller``, default
``sip:lenea@contoso.com``, any address) and lets the person at the terminal chat with the
bot as that caller (:mod:`ucwa_flow.cli._chat`). What the flow reaches outside (webhooks
to this machine, people it invites) is simulated (:mod:`ucwa_flow.cli._demo`).

With ``--server URL`` (or ``UCWA_FLOW_SERVER``) and ``--user``/``--password`` (or
``UCWA_FLOW_USER``/``UCWA_FLOW_PASSWORD``) it runs the bot against a real Skype for
Business server and serves every caller who invites it until Ctrl-C.

Conversations are durable (:mod:`ucwa_flow.store`): on a real server they are kept in
``--state PATH`` (SQLite), ``--store postgresql://...`` or ``UCWA_FLOW_STORE``, by default
in the account's file under the user's state directory. Ctrl-C (or SIGTERM) commits what is
pending and leaves the conversations and the UCWA application on the server: started again
within about 15 minutes, the bot carries on every conversation where it was. On the
embedded simulator the store is a temporary file unless ``--state`` or ``--store`` names
one (``UCWA_FLOW_STORE`` is not used there, so a demo never writes into a production
store), and Ctrl-C stops the open conversations, as the simulator ends with the run.

``--review [HOST:PORT]`` also serves ``ucwa-flow review`` of FLOW with this bot's live
conversations (:mod:`ucwa_flow.cli._review_run`) and prints its URL on stderr.

TLS certificates are always verified; ``--ca-bundle FILE`` (or ``UCWA_FLOW_CA_BUNDLE``)
trusts a private CA as well, such as a corporate one or the one ``ucwa-flow simulate
--tls`` prints. ``--insecure`` turns verification off and says so loudly on every start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx

from ucwa_flow._heap import settle
from ucwa_flow.cli._chat import ChatOptions, chat
from ucwa_flow.cli._review_run import DEFAULT_REVIEW, parse_review, serving_review
from ucwa_flow.cli._store_target import STORE_ENV, resolve_store_target
from ucwa_flow.cli._times import Duration
from ucwa_flow.clock import SystemClock
from ucwa_flow.errors import OperationalError
from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.runtime.transcript import Labels, describe
from ucwa_flow.store import Store, StoreError, describe_target, open_store, run_retention
from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa._tls import client_context

if TYPE_CHECKING:
    from ucwa_flow.live import LiveBoard
    from ucwa_flow.simulator.demo import Answer

__all__ = ["command"]

_INSECURE_WARNING = (
    "WARNING: --insecure: TLS certificates are NOT verified. Anyone on the network path can "
    "impersonate the server and read the bot's password and messages. Use --ca-bundle FILE "
    "instead."
)


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
    help="Who you chat as on the embedded simulator: any address, e.g. sip:someone@fabrikam.com.",
)
@click.option(
    "--subject",
    default="",
    metavar="TEXT",
    help="The subject of the chats you start on the embedded simulator (conversation.subject).",
)
@click.option(
    "--agent-delay",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="On the simulator: how long a simulated agent takes to answer the bot's invitation.",
)
@click.option(
    "--agent-answer",
    type=click.Choice(["accept", "decline", "ignore"]),
    default="accept",
    show_default=True,
    help="On the simulator: how simulated agents answer the bot's invitations.",
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
    "--state",
    metavar="PATH",
    help="Keep conversations in this SQLite file (default on a real server: the account's "
    "file under $XDG_STATE_HOME/ucwa-flow; on the simulator: a temporary file).",
)
@click.option(
    "--store",
    metavar="URL",
    help="Keep conversations in PostgreSQL, e.g. postgresql://bot@db/ucwa "
    f"(env {STORE_ENV}, used on a real server only).",
)
@click.option(
    "--retention",
    type=Duration(),
    default="30d",
    show_default=True,
    metavar="DURATION",
    help="Keep ended conversations and their transcripts this long (pruned in the "
    "background, e.g. 90d).",
)
@click.option(
    "--review",
    is_flag=False,
    flag_value=DEFAULT_REVIEW,
    default=None,
    metavar="[HOST:PORT]",
    help=f"Also serve `ucwa-flow review` of FLOW with this bot's live conversations "
    f"(default {DEFAULT_REVIEW}; port 0: any free port); the URL is printed.",
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
    subject: str,
    agent_delay: float,
    agent_answer: Answer,
    ca_bundle: str | None,
    insecure: bool,
    overrides: tuple[str, ...],
    state: str | None,
    store: str | None,
    retention: float,
    review: str | None,
    verbose: bool,
) -> None:
    """Run FLOW as a bot; chat with it on the embedded simulator by default.

    FLOW may be written X.yaml for X.flow.yaml.
    """
    flow = _with_variables(_load(flow_file), overrides)
    review_at = parse_review(review)
    _configure_logging(verbose)
    if insecure:
        click.secho(_INSECURE_WARNING, err=True, fg="red", bold=True)
    tls = _Tls(ca_bundle or None, insecure)
    if server is not None and (not user or not password):
        raise click.UsageError(
            "--server needs --user and --password (or UCWA_FLOW_USER and UCWA_FLOW_PASSWORD)"
        )
    if server is not None:
        target = resolve_store_target(state, store, os.environ, user)
        keep = _Keep(target, retention)
        main = _serve(flow, server, user or "", password or "", verbose, tls, keep)
    else:
        chosen = None  # a temporary file, removed after the run
        if state is not None or store is not None:
            chosen = resolve_store_target(state, store, {}, None)
        options = ChatOptions(
            caller=_sip(caller),
            subject=subject,
            verbose=verbose,
            interactive=sys.stdin.isatty(),
            set_by_user=frozenset(item.partition("=")[0] for item in overrides),
            agent_delay=agent_delay,
            agent_answer=agent_answer,
            ca_bundle=tls.ca_bundle,
            insecure=tls.insecure,
        )
        main = _chat(flow, options, tls, chosen)
    try:
        stopped = asyncio.run(_until_terminated(_reviewed(flow_file, review_at, main)))
    except KeyboardInterrupt:
        stopped = True
    if stopped:
        click.echo("stopped.", err=True)


async def _reviewed(
    flow_file: str,
    address: tuple[str, int] | None,
    main: Callable[[LiveBoard | None], Coroutine[Any, Any, None]],
) -> None:
    """Run ``main`` with the review of ``flow_file`` served on ``address`` (if given)."""
    async with serving_review(flow_file, address) as board:
        await main(board)


async def _until_terminated(main: Coroutine[Any, Any, None]) -> bool:
    """Run ``main``; SIGTERM (``systemctl stop``, ``docker stop``) stops it as Ctrl-C does,
    through its clean-up. ``True`` when a signal stopped it."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals: not on Unix
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
        return True
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
    return False


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


def _sip(address: str) -> str:
    uri = address if address.lower().startswith("sip:") else "sip:" + address
    user, at, domain = uri[4:].partition("@")
    if not user or not at or not domain:
        raise click.BadParameter(
            f"{address!r} is not a SIP address like sip:someone@fabrikam.com", param_hint="--caller"
        )
    return uri


def _chat(
    flow: Flow, options: ChatOptions, tls: _Tls, target: str | None
) -> Callable[[LiveBoard | None], Coroutine[Any, Any, None]]:
    async def main(board: LiveBoard | None) -> None:
        await _chat_on(flow, options, tls, target, board)

    return main


async def _chat_on(
    flow: Flow, options: ChatOptions, tls: _Tls, target: str | None, board: LiveBoard | None
) -> None:
    with tempfile.TemporaryDirectory(prefix="ucwa-flow-") as scratch:
        webhooks = tls.webhook_client()
        store = await _open(target or str(Path(scratch) / "simulator.sqlite3"))
        try:
            await chat(flow, options, sys.stdin, webhooks, store, board)
        finally:
            await store.aclose()
            if webhooks is not None:
                await webhooks.aclose()


async def _open(target: str) -> Store:
    try:
        return await open_store(target)
    except StoreError as exc:
        raise OperationalError(f"cannot open the conversation store: {exc}") from None


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
    result = load_flow(path)  # a file that cannot be read: the CLI's one line, status 2
    for diagnostic in result.diagnostics:
        click.echo(str(diagnostic), err=True)
    if result.flow is None:
        click.echo(f"ucwa-flow: error: {path} has errors; nothing was run", err=True)
        sys.exit(1)
    return result.flow


# -- a real server: serve every caller ------------------------------------------------------


def _caller_of(bot: Bot, href: str) -> str:
    """Who the caller of ``href`` is (a conversation carried on after a restart)."""
    instance = bot.engine.instances.get(href)
    return (instance.caller_uri if instance is not None else None) or "caller"


@dataclass(frozen=True)
class _Keep:
    """Where conversations are kept (a file or a URL) and for how long once ended."""

    target: str
    retention: float


def _serve(
    flow: Flow, server: str, user: str, password: str, verbose: bool, tls: _Tls, keep: _Keep
) -> Callable[[LiveBoard | None], Coroutine[Any, Any, None]]:
    async def main(board: LiveBoard | None) -> None:
        await _serve_on(flow, server, user, password, verbose, tls, keep, board)

    return main


async def _serve_on(
    flow: Flow,
    server: str,
    user: str,
    password: str,
    verbose: bool,
    tls: _Tls,
    keep: _Keep,
    board: LiveBoard | None,
) -> None:
    clock = SystemClock()
    labels = Labels()
    callers: dict[str, str] = {}

    def sink(record: t.Trace) -> None:
        if board is not None:
            board(record)
        who = labels(record.conversation) if record.conversation else "-"
        if isinstance(record, t.InvitationDecided) and record.caller:
            callers[record.conversation] = record.caller
        if isinstance(record, t.MessageIn):
            caller = callers.get(record.conversation) or _caller_of(bot, record.conversation)
            click.echo(f"[{who}] {caller}: {record.text}")
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
    store = await _open(keep.target)
    webhooks = tls.webhook_client()
    bot = Bot(flow, client, clock=clock, sink=sink, http=webhooks, store=store)
    if board is not None:
        board.attach(bot.engine)
    pruning = asyncio.create_task(run_retention(store, clock, retention=keep.retention))
    try:
        settle()  # start-up's objects out of the collector's way; before any conversation
        await bot.start()
        where = ""
        if bot.durable is not None and bot.reattached:
            where = f"; {bot.durable.carried} conversation(s) carried on"
        elif bot.lost:
            where = f"; the application had ended, {bot.lost} conversation(s) recorded as ended"
        click.echo(
            f"{flow.name}: serving as {client.user} on {server}, conversations kept in "
            f"{describe_target(keep.target)}{where}. Ctrl-C to stop.",
            err=True,
        )
        await bot.run()
    finally:
        pruning.cancel()
        try:
            await bot.aclose()
        finally:
            await bot.client.aclose()
            await store.aclose()
            if webhooks is not None:
                await webhooks.aclose()

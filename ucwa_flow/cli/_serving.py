"""What ``ucwa-flow run`` runs once its options are checked: the bot at work.

:func:`on_server` serves every caller who invites the bot on a real Skype for Business
server until Ctrl-C, with its conversations kept where :class:`Keep` says (a SQLite file or
a PostgreSQL URL) and ended ones pruned in the background after ``Keep.retention``.
:func:`on_simulator` runs the chat on the embedded simulator
(:func:`ucwa_flow.cli._chat.chat`), with its store in a temporary file unless a target is
given. Each returns the run's main coroutine, given the review's board (``--review``) or
``None``; :class:`Tls` says how every client of the run treats certificates.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx

from ucwa_flow._display import printable
from ucwa_flow._heap import settle
from ucwa_flow.cli._chat import ChatOptions, chat
from ucwa_flow.clock import SystemClock
from ucwa_flow.errors import OperationalError
from ucwa_flow.flow import Flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.runtime.transcript import Labels, describe
from ucwa_flow.store import Store, StoreError, describe_target, open_store, run_retention
from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa._tls import client_context

if TYPE_CHECKING:
    from ucwa_flow.live import LiveBoard

__all__ = ["Keep", "Tls", "on_server", "on_simulator"]


@dataclass(frozen=True)
class Tls:
    """How every UcwaClient of this run treats certificates (``--ca-bundle``, ``--insecure``)."""

    ca_bundle: str | None
    insecure: bool

    def webhook_client(self) -> httpx.AsyncClient | None:
        """Webhooks trust ``--ca-bundle`` too (a ticket system behind the same corporate CA);
        ``--insecure`` is about the UCWA server only. ``None``: the engine's default client."""
        if self.ca_bundle is None:
            return None
        return httpx.AsyncClient(verify=client_context(self.ca_bundle), follow_redirects=False)


@dataclass(frozen=True)
class Keep:
    """Where conversations are kept (a file or a URL) and for how long once ended."""

    target: str
    retention: float


def on_simulator(
    flow: Flow, options: ChatOptions, tls: Tls, target: str | None
) -> Callable[[LiveBoard | None], Coroutine[Any, Any, None]]:
    """The chat with ``flow``'s bot on the embedded simulator, its conversations kept in
    ``target`` (``None``: a temporary file, removed after the run)."""

    async def main(board: LiveBoard | None) -> None:
        await _chat_on(flow, options, tls, target, board)

    return main


async def _chat_on(
    flow: Flow, options: ChatOptions, tls: Tls, target: str | None, board: LiveBoard | None
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
    try:  # a bot's store: a second process on a SQLite file is refused (StoreInUse)
        return await open_store(target, exclusive=True)
    except StoreError as exc:
        raise OperationalError(f"cannot open the conversation store: {exc}") from None


# -- a real server: serve every caller ------------------------------------------------------


def _caller_of(bot: Bot, href: str) -> str:
    """Who the caller of ``href`` is (a conversation carried on after a restart)."""
    instance = bot.engine.instances.get(href)
    return (instance.caller_uri if instance is not None else None) or "caller"


def on_server(
    flow: Flow,
    server: str,
    user: str,
    password: str,
    verbose: bool,
    tls: Tls,
    keep: Keep,
    trusted_hosts: tuple[str, ...] = (),
) -> Callable[[LiveBoard | None], Coroutine[Any, Any, None]]:
    """``flow``'s bot signed in as ``user`` on ``server``, serving every caller who invites
    it until cancelled (Ctrl-C, SIGTERM), its conversations kept as ``keep`` says; its
    password goes to ``server``'s host, its SIP domain and ``trusted_hosts`` only."""

    async def main(board: LiveBoard | None) -> None:
        await _serve_on(flow, server, user, password, verbose, tls, keep, board, trusted_hosts)

    return main


async def _serve_on(
    flow: Flow,
    server: str,
    user: str,
    password: str,
    verbose: bool,
    tls: Tls,
    keep: Keep,
    board: LiveBoard | None,
    trusted_hosts: tuple[str, ...],
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
            # a caller's text (and a reply quoting it) is shown, never obeyed by the terminal
            click.echo(printable(f"[{who}] {caller}: {record.text}", newlines=True))
            return
        line = describe(record, verbose=verbose)
        if line is not None:
            click.echo(printable(f"[{who}] {line}", newlines=True))
        if isinstance(record, t.Ended):
            labels.forget(record.conversation)
            callers.pop(record.conversation, None)

    client = UcwaClient(
        user,
        password,
        server_url=server,
        ca_bundle=tls.ca_bundle,
        insecure=tls.insecure,
        trusted_hosts=trusted_hosts,
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
        if board is not None:  # carried on from the store: no record until their next step
            board.carried(None, bot.engine.instances)
        click.echo(
            f"{flow.name}: serving as {client.user} on {server}, conversations kept in "
            f"{describe_target(keep.target)}{bot.resumed}. Ctrl-C to stop.",
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

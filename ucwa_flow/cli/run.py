"""``ucwa-flow run FLOW``: run a flow as a bot.

Without ``--server`` it starts the embedded simulator on loopback, signs the bot in as
``sip:toshm@contoso.com`` through UCWA, signs a caller in (``--caller``, default
``sip:lenea@contoso.com``, any address) and lets the person at the terminal chat with the
bot as that caller (:mod:`ucwa_flow.cli._chat`). What the flow reaches outside (webhooks
to this machine, people it invites) is simulated (:mod:`ucwa_flow.cli._demo`).

With ``--server URL`` (or ``UCWA_FLOW_SERVER``) and ``--user``/``--password`` (or
``UCWA_FLOW_USER``/``UCWA_FLOW_PASSWORD``) it runs the bot against a real Skype for
Business server and serves every caller who invites it until Ctrl-C. Both are in
:mod:`ucwa_flow.cli._serving`; FLOW and its ``--var`` overrides are read by
:mod:`ucwa_flow.cli._flow_loading`. This module is the command: its options, their checks
and the wiring.

Conversations are durable (:mod:`ucwa_flow.store`): on a real server they are kept in
``--state PATH`` (SQLite), ``--store postgresql://...`` or ``UCWA_FLOW_STORE``, by default
in the account's file under the user's state directory. Ctrl-C (or SIGTERM) commits what is
pending and leaves the conversations and the UCWA application on the server: started again
within about 15 minutes, the bot carries on every conversation where it was. On the
embedded simulator the store is a temporary file unless ``--state`` or ``--store`` names
one (``UCWA_FLOW_STORE`` is not used there, so a demo never writes into a production
store), and Ctrl-C stops the open conversations, as the simulator ends with the run.

``--review [HOST:PORT]`` also serves ``ucwa-flow review`` of FLOW with this bot's live
conversations (:mod:`ucwa_flow.cli._review_run`) and prints its URL on stderr;
``--allow-host NAME`` (repeatable) lets it answer a reverse proxy's name as well.

TLS certificates are always verified; ``--ca-bundle FILE`` (or ``UCWA_FLOW_CA_BUNDLE``)
trusts a private CA as well, such as a corporate one or the one ``ucwa-flow simulate
--tls`` prints. ``--insecure`` turns verification off and says so loudly on every start.

The password goes only to sign-in servers trusted for the account: the ``--server`` host
and the names in the bot's SIP domain; ``--trust-host NAME`` (repeatable) trusts another
(a pool an Autodiscover redirect leads to, a hosting provider's WebTicket service), and
``--trust-host '*.contoso.local'`` every name under ``contoso.local`` (not the name itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import click

from ucwa_flow._host_names import trusted_host_problem
from ucwa_flow.cli import _early_term as early_term
from ucwa_flow.cli._chat import ChatOptions
from ucwa_flow.cli._flow_loading import load_or_exit, with_variables
from ucwa_flow.cli._review_run import DEFAULT_REVIEW, Review, parse_review, serving_review
from ucwa_flow.cli._server_option import check_server_url, given_as
from ucwa_flow.cli._serving import Keep, Tls, on_server, on_simulator
from ucwa_flow.cli._store_target import STORE_ENV, resolve_store_target
from ucwa_flow.cli._times import Duration

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
    "--trust-host",
    "trusted_hosts",
    multiple=True,
    metavar="NAME",
    help="With --server: also sign in to this host, e.g. lyncweb.fabrikam.com, or to every "
    "name under a domain, e.g. *.contoso.local (not contoso.local itself; repeatable). "
    "Without it the password goes only to the --server host and to names in the bot's SIP "
    "domain; Autodiscover redirects and WebTicket services elsewhere are refused.",
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
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="With --review: also answer requests for this host name, e.g. review.example.com "
    "behind a reverse proxy (repeatable). Without it only IP addresses, localhost, dotless "
    "names and this machine's names are answered (a guard against DNS rebinding).",
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
    trusted_hosts: tuple[str, ...],
    overrides: tuple[str, ...],
    state: str | None,
    store: str | None,
    retention: float,
    review: str | None,
    allow_hosts: tuple[str, ...],
    verbose: bool,
) -> None:
    """Run FLOW as a bot; chat with it on the embedded simulator by default.

    FLOW may be written X.yaml for X.flow.yaml.
    """
    flow = with_variables(load_or_exit(flow_file), overrides)
    review_at = parse_review(review, allow_hosts)
    _configure_logging(verbose)
    if insecure:
        click.secho(_INSECURE_WARNING, err=True, fg="red", bold=True)
    tls = Tls(ca_bundle or None, insecure)
    if server is not None and (not user or not password):
        raise click.UsageError(
            f"{given_as('server')} needs --user and --password (or UCWA_FLOW_USER and "
            "UCWA_FLOW_PASSWORD)"
        )
    if server is not None:
        check_server_url(server)
    _check_trusted(server, trusted_hosts)
    if server is not None:
        target = resolve_store_target(state, store, os.environ, user)
        keep = Keep(target, retention)
        main = on_server(
            flow, server, user or "", password or "", verbose, tls, keep, trusted_hosts
        )
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
        main = on_simulator(flow, options, tls, chosen)
    try:
        stopped = asyncio.run(_until_terminated(_reviewed(flow_file, review_at, main)))
    except KeyboardInterrupt:
        stopped = True
    if stopped:
        click.echo("stopped.", err=True)


async def _reviewed(
    flow_file: str,
    review: Review | None,
    main: Callable[[LiveBoard | None], Coroutine[Any, Any, None]],
) -> None:
    """Run ``main`` with the review of ``flow_file`` served as ``review`` says (if given)."""
    async with serving_review(flow_file, review) as board:
        await main(board)


async def _until_terminated(main: Coroutine[Any, Any, None]) -> bool:
    """Run ``main``; SIGTERM (``systemctl stop``, ``docker stop``) stops it as Ctrl-C does,
    through its clean-up. ``True`` when a signal stopped it."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals: not on Unix
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    if early_term.asked():  # during the start: stopped before anything runs
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
        return True
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
        early_term.hold()  # not the default action back: the clean-up goes on
    return False


def _check_trusted(server: str | None, trusted_hosts: tuple[str, ...]) -> None:
    if trusted_hosts and server is None:
        raise click.UsageError(
            "--trust-host is for a real server (--server URL): the embedded simulator "
            "needs no other host"
        )
    for name in trusted_hosts:
        if (why := trusted_host_problem(name)) is not None:
            raise click.BadParameter(f"{name!r} {why}", param_hint="--trust-host")


def _sip(address: str) -> str:
    uri = address if address.lower().startswith("sip:") else "sip:" + address
    user, at, domain = uri[4:].partition("@")
    if not user or not at or not domain:
        raise click.BadParameter(
            f"{address!r} is not a SIP address like sip:someone@fabrikam.com", param_hint="--caller"
        )
    return uri


def _configure_logging(verbose: bool) -> None:
    # Flow errors and `log` actions are already in the transcript (as "!" and [log] lines);
    # the log shows protocol-level trouble, and with --verbose what was skipped and why.
    logging.basicConfig(
        level=logging.WARNING if verbose else logging.ERROR,
        format="ucwa-flow: %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("ucwa_flow.runtime").setLevel(logging.ERROR)

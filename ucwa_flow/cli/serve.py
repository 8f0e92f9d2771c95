"""``ucwa-flow serve DEPLOY.yaml``: every bot account of a deployment file, as a service.

Runs until SIGTERM or SIGINT (Ctrl-C), then stops gracefully within the file's
``stop_timeout`` (:class:`~ucwa_flow.service.Service`); SIGHUP, ``POST /reload`` on the
admin endpoint and, with ``--watch``, a change to a flow file or the deployment file
reload the flows. The server is ``--server URL`` (or ``UCWA_FLOW_SERVER``), else the
file's ``server.url``; with neither, the deployment runs on the embedded simulator
(:mod:`ucwa_flow.service._simulated`) with its conversations in a temporary folder, as
``run`` does, so trying a deployment never writes into its real store.

Errors in the deployment file or its flows are printed as ``file:line:col: CODE message``
lines (exit status 2); a password or admin token that cannot be read is one line per
secret, and other operational errors (a store that can never be opened, a port in use) one
line (status 1); never a traceback. With JSON logs, each of these lines found once the file
is loaded is a JSON log line too. A PostgreSQL store that cannot be reached yet is waited
for, with the admin endpoint up (``/readyz`` 503); SIGTERM or SIGINT meanwhile exits 0.
Nothing starts before the flows and secrets are checked.
A stop exits 0, or 3 when it ran past ``stop_timeout`` and cancelled what was left.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import click

from ucwa_flow._heap import settle
from ucwa_flow.cli import _early_term as early_term
from ucwa_flow.cli._server_option import check_server_url
from ucwa_flow.deploy import Deployment, DeploymentError, load_deployment, parse_listen
from ucwa_flow.errors import UcwaFlowError, UnreadableFileError
from ucwa_flow.observe.logs import configure_logging

__all__ = ["command"]

log = logging.getLogger("ucwa_flow.service")

#: the exit status of a stop that ran past ``stop_timeout`` and cancelled what was left
STOP_CUT_SHORT = 3

_INSECURE_WARNING = (
    "WARNING: server.insecure: TLS certificates are NOT verified. Anyone on the network path "
    "can impersonate the server and read the bots' passwords and messages. Use "
    "server.ca_bundle instead."
)


def _address(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    try:
        return parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--admin") from None


@click.command("serve")
@click.argument("deploy_file", metavar="DEPLOY.yaml")
@click.option(
    "--server",
    envvar="UCWA_FLOW_SERVER",
    metavar="URL",
    help="The UCWA server's discovery URL (env UCWA_FLOW_SERVER); overrides server.url. "
    "Neither: the embedded simulator.",
)
@click.option("--watch", is_flag=True, help="Reload the flows when a file changes.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    help="Log lines as text or JSON (default: logging.format in the file, else text).",
)
@click.option("--admin", metavar="HOST:PORT", help="Serve the admin endpoint here instead.")
def command(
    deploy_file: str, server: str | None, watch: bool, log_format: str | None, admin: str | None
) -> None:
    """Serve every bot account of DEPLOY.yaml until stopped."""
    listen = _address(admin)
    if server is not None:
        check_server_url(server)
    try:
        deployment = load_deployment(deploy_file)
    except DeploymentError as exc:  # every problem located, or one line for an unreadable file
        click.echo(str(exc) if exc.diagnostics else f"ucwa-flow: error: {exc}", err=True)
        sys.exit(2)
    # the service's modules (most of the package) once the file is known to be usable:
    # a missing or broken deployment file is one line without them
    from ucwa_flow.service import FlowsRefused, preflight

    if listen is not None:
        spec = dataclasses.replace(deployment.admin, host=listen[0], port=listen[1], enabled=True)
        deployment = dataclasses.replace(deployment, admin=spec)
    json_lines = (log_format or deployment.logging.format) == "json"
    configure_logging("json" if json_lines else "text", deployment.logging.level)
    with _as_log_lines(json_lines):
        try:  # before anything starts (the simulator, the admin endpoint, a sign-in)
            preflight(deployment)
        except FlowsRefused as exc:
            why = "its flows, or the vars it gives them, have errors"  # D114: no flow's error
            _say(json_lines, f"{exc}\nucwa-flow: error: {deploy_file}: {why}; nothing was run")
            sys.exit(2)
        if deployment.server.insecure:
            if json_lines:
                log.warning("%s", _INSECURE_WARNING)
            else:
                click.secho(_INSECURE_WARNING, err=True, fg="red", bold=True)
        try:
            clean = asyncio.run(_main(deployment, server or deployment.server.url, watch))
        except KeyboardInterrupt:  # a second Ctrl-C during the stop
            clean = False
        if not clean:  # a service manager should know: the next start resumes from the last
            _say(json_lines, "stopped (some steps were cut short).")  # commit
            sys.exit(STOP_CUT_SHORT)


def _say(json_lines: bool, text: str) -> None:
    """``text`` on standard error: its lines as error records in JSON logs, else as is."""
    if not json_lines:
        click.echo(text, err=True)
        return
    for line in text.splitlines():
        log.error("%s", line.removeprefix("ucwa-flow: error: "))


@contextlib.contextmanager
def _as_log_lines(json_lines: bool) -> Iterator[None]:
    """With JSON logs the error that ends the process is a JSON line too: a log pipeline
    would drop, or choke on, the one line that says why the service stopped. In text, it is
    the ``ucwa-flow: error: ...`` line of every command."""
    try:
        yield
    except UcwaFlowError as exc:
        lines = str(exc).splitlines() or [""]  # several: every secret that cannot be read
        _say(json_lines, "\n".join(f"ucwa-flow: error: {line}" for line in lines))
        sys.exit(2 if isinstance(exc, UnreadableFileError) else 1)


async def _main(deployment: Deployment, server: str | None, watch: bool) -> bool:
    from ucwa_flow.service import Service

    async with _target(deployment, server) as (chosen, url):
        service = Service(chosen, server=url, watch=watch)
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[object]] = set()

        def later(work: Coroutine[Any, Any, object]) -> None:
            task = asyncio.ensure_future(work)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        signals = {
            signal.SIGTERM: lambda: later(service.stop()),
            signal.SIGINT: lambda: later(service.stop()),
            signal.SIGHUP: lambda: later(service.reload()),
        }
        for number, handler in signals.items():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(number, handler)
        if early_term.asked():  # a SIGTERM during the start: nothing was started
            log.info("stopped before the start")
            return True
        try:
            # what start-up made stays out of the collector's full collections; before the
            # accounts start, so that no conversation (they end, in cycles) is frozen
            settle()
            await service.start()  # waits for a PostgreSQL store that cannot be reached yet
            if not service.stopping:  # a SIGTERM while it waited: nothing was started
                accounts = ", ".join(a.id for a in chosen.accounts)
                log.info("serving %s on %s, %s", accounts, url, _kept_in(chosen))
            await service.run()
            return await service.stop()
        finally:
            for number in signals:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(number)
            early_term.hold()  # not the default action back: the clean-up goes on


def _kept_in(deployment: Deployment) -> str:
    """Where the conversations are kept, for the start line: what an on-call engineer
    passes to ``ucwa-flow transcripts`` (``--store URL``, ``--state FOLDER/FILE``)."""
    from ucwa_flow.service._stores import store_target
    from ucwa_flow.store import describe_target, is_postgres_url

    store = deployment.store
    if store is not None and is_postgres_url(store):
        return f"conversations kept in {describe_target(store)}"
    folder = Path(store_target(store, deployment.accounts[0].user)).parent
    return f"conversations kept in {folder} (a SQLite file per account, named after its user)"


@contextlib.asynccontextmanager
async def _target(
    deployment: Deployment, server: str | None
) -> AsyncIterator[tuple[Deployment, str]]:
    """The deployment and the server URL to run it on: the given one, or the embedded
    simulator with the conversations in a temporary folder."""
    if server is not None:
        yield deployment, server
        return
    from ucwa_flow.service._simulated import simulated

    with tempfile.TemporaryDirectory(prefix="ucwa-flow-serve-") as scratch:
        async with simulated(deployment) as (url, callers):
            log.info(
                "no server given: on the embedded simulator at %s (callers: %s; control API "
                "%s/_sim/users); conversations kept in a temporary folder",
                url,
                ", ".join(callers) or "none but the accounts",
                url,
            )
            yield dataclasses.replace(deployment, store=scratch), url

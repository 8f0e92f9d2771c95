"""``ucwa-flow simulate``: serve the simulated Skype for Business server.

Prints the discovery URL and the users (URI and password) on start, then serves until
Ctrl-C, which stops it cleanly with exit status 0.

``--tls`` serves HTTPS like a real front end, with a certificate from the local CA of
:mod:`ucwa_flow.simulator.tls` (made on first use, reused afterwards) for loopback and the
``--hostname`` names (default: the Lync discover/web names of the users' domains); it
prints the CA file and how to trust it. ``--cert``/``--key`` serve a certificate of your own.

``--faults 'rate=5%,kinds=5xx,drop,...,seed=N,user=sip:...'`` injects random faults
(:mod:`ucwa_flow.simulator.faultplan`); what was injected is printed every minute it
changed, at ``GET /_sim/faults``, and when the simulator stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import click

from ucwa_flow.simulator import (
    FaultPlan,
    FaultSpecError,
    Simulator,
    SimulatorConfig,
    load_users,
    parse_spec,
    serve,
)
from ucwa_flow.simulator.server import bind
from ucwa_flow.simulator.tls import TlsFiles, default_hostnames, local_certificate, user_certificate

__all__ = ["command"]


async def _run(
    sim: Simulator, host: str, port: int, stop: asyncio.Event, tls: TlsFiles | None
) -> None:
    async with serve(sim, host=host, port=port, tls=tls) as url:
        click.echo(f"Simulated Skype for Business server at {url}/ (discovery)")
        if tls is not None:
            _describe_tls(tls)
        click.echo("Users:")
        for user in sim.users:
            click.echo(f"  {user.uri}  password: {user.password}  ({user.name})")
        plan = sim.faults.plan
        if plan is not None:
            click.echo(f"Injecting random faults into {plan.describe()}")
            click.echo(f"  what was injected: {url}/_sim/faults (and here when it stops)")
        click.echo(f"Control API: {url}/_sim/users   Press Ctrl-C to stop.", nl=True)
        if plan is None:
            await stop.wait()
            return
        shown = 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _REPORT_EVERY)
            if len(plan.injections) != shown and not stop.is_set():
                shown = len(plan.injections)
                click.echo(plan.summary())


#: Seconds between two fault summaries of ``--faults`` (printed only when they changed).
_REPORT_EVERY = 60.0


def _plan(spec: str | None, config: SimulatorConfig) -> FaultPlan | None:
    if spec is None:
        return None
    try:
        plan = parse_spec(spec)
    except FaultSpecError as exc:
        raise click.UsageError(f"--faults: {exc}") from None
    if plan.user is not None and not any(u.uri.lower() == plan.user for u in config.users):
        raise click.UsageError(f"--faults: user {plan.user} is not a user of this simulator")
    return plan


def _describe_tls(tls: TlsFiles) -> None:
    if tls.names:
        click.echo(f"TLS certificate for: {', '.join(tls.names)}")
    if tls.ca_file is None:
        click.echo(f"TLS certificate: {tls.cert_file}")
        return
    ca = str(tls.ca_file)
    click.echo(f"Local CA: {ca}")
    click.echo("  Trust it with:")
    for how, who in (
        (f"ucwa-flow run --ca-bundle {ca}", "(or UCWA_FLOW_CA_BUNDLE)"),
        (f"curl --cacert {ca}", ""),
        (f"export SSL_CERT_FILE={ca}", "(Python, OpenSSL: replaces their default CAs)"),
        (f"export REQUESTS_CA_BUNDLE={ca}", "(Python requests)"),
        (f"export NODE_EXTRA_CA_CERTS={ca}", "(Node.js)"),
    ):
        click.echo(f"    {how}  {who}".rstrip())


def _certificate(
    sim_config: SimulatorConfig,
    tls: bool,
    cert: Path | None,
    key: Path | None,
    hostnames: tuple[str, ...],
) -> TlsFiles | None:
    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    if cert is not None and key is not None:
        if hostnames:
            raise click.UsageError("--hostname applies to the generated certificate, not --cert")
        return user_certificate(cert, key)
    if not tls:
        if hostnames:
            raise click.UsageError("--hostname needs --tls")
        return None
    domains = dict.fromkeys(user.domain.lower() for user in sim_config.users)
    return local_certificate(hostnames or default_hostnames(domains))


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8750, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--users",
    "users_file",
    type=click.Path(path_type=Path),
    default=None,
    help="YAML or JSON users file (default: toshm, lenea, adrianag @contoso.com).",
)
@click.option(
    "--tls", is_flag=True, help="Serve HTTPS with a certificate from a local CA (made once)."
)
@click.option(
    "--cert",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Serve HTTPS with this PEM certificate (chain) instead; needs --key.",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The PEM private key of --cert.",
)
@click.option(
    "--hostname",
    "hostnames",
    multiple=True,
    metavar="NAME",
    help="A name the --tls certificate must cover (repeatable; default: lyncdiscover., "
    "lyncdiscoverinternal. and lyncweb. + each user domain). Loopback is always covered.",
)
@click.option(
    "--faults",
    "faults_spec",
    metavar="SPEC",
    default=None,
    help="Inject random faults, e.g. 'rate=5%,kinds=5xx,drop,slow,pget-replaced,resync,"
    "app-expired,token-expired,duplicate-batch,seed=1,user=sip:toshm@contoso.com' "
    "(kinds default to all; a kind may have a :weight). Printed on exit.",
)
def command(
    host: str,
    port: int,
    users_file: Path | None,
    tls: bool,
    cert: Path | None,
    key: Path | None,
    hostnames: tuple[str, ...],
    faults_spec: str | None,
) -> None:
    """Serve the simulated Skype for Business (UCWA) server."""
    config = (
        SimulatorConfig() if users_file is None else SimulatorConfig(users=load_users(users_file))
    )
    plan = _plan(faults_spec, config)
    bind(host, port).close()  # fail early, with one line, when the port is taken
    files = _certificate(config, tls, cert, key, hostnames)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        sim = Simulator(config)
        sim.faults.plan = plan
        await _run(sim, host, port, stop, files)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    if plan is not None:
        click.echo(plan.summary())
    click.echo("Simulator stopped.")

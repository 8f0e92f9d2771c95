"""``ucwa-flow simulate``: serve the simulated Skype for Business server.

Prints the discovery URL and the users (URI and password) on start, then serves until
Ctrl-C, which stops it cleanly with exit status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import click

from ucwa_flow.simulator import Simulator, SimulatorConfig, load_users, serve
from ucwa_flow.simulator.server import bind

__all__ = ["command"]


async def _run(sim: Simulator, host: str, port: int, stop: asyncio.Event) -> None:
    async with serve(sim, host=host, port=port) as url:
        click.echo(f"Simulated Skype for Business server at {url}/ (discovery)")
        click.echo("Users:")
        for user in sim.users:
            click.echo(f"  {user.uri}  password: {user.password}  ({user.name})")
        click.echo(f"Control API: {url}/_sim/users   Press Ctrl-C to stop.", nl=True)
        await stop.wait()


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8750, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--users",
    "users_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML or JSON users file (default: toshm, lenea, adrianag @contoso.com).",
)
def command(host: str, port: int, users_file: Path | None) -> None:
    """Serve the simulated Skype for Business (UCWA) server."""
    config = (
        SimulatorConfig() if users_file is None else SimulatorConfig(users=load_users(users_file))
    )
    bind(host, port).close()  # fail early, with one line, when the port is taken

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await _run(Simulator(config), host, port, stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    click.echo("Simulator stopped.")

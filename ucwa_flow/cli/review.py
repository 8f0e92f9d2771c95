"""``ucwa-flow review FLOW...``: review flows in the browser (a local web app).

Serves :mod:`ucwa_flow.review` on ``--listen`` (default ``127.0.0.1:8300``; port 0 picks a
free one) and prints the URL to open. Each FLOW gets a page: its graph, its YAML, the
problems ``validate`` reports. A folder stands for its flow files (every ``*.flow.yaml``
below it, :mod:`ucwa_flow.flow._folders`, as ``validate`` and ``test`` read a folder, listed
again on each page load: a flow saved there later is shown, one deleted goes); a
file named twice (a folder and a file in it, ``x.yaml`` and ``x.flow.yaml``) is one
flow, reviewed once. Options add:

* ``--coverage RESULTS.json``: what ``ucwa-flow test --json RESULTS.json`` wrote; edges
  the tests never took are drawn apart, each edge with how often it was taken;
* ``--attach ADMIN_URL``: the live feed of a running ``ucwa-flow serve`` (its admin
  endpoint, with ``--token`` or ``UCWA_FLOW_ADMIN_TOKEN``): live counts per state and
  the conversations, each replayable; the review reconnects by itself;
* ``--store URL``: finished conversations from a store (a ``postgresql://`` URL or a
  SQLite file, as ``ucwa-flow transcripts`` reads), replayed in the same view.

A request is answered only when its ``Host`` is an IP address, a dotless name
(``localhost``), one of this machine's names, the ``--listen`` name or a name
``--allow-host NAME`` gives (repeatable: the name a reverse proxy in front of the review
forwards, ``review.example.com``); any other gets ``403`` (a guard against DNS
rebinding, :mod:`ucwa_flow._local_guard`).

It runs until Ctrl-C. Errors (a flow file or coverage file that cannot be read, a folder
without flows, an address in use) are one line; a flow with problems is shown, not refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import click

from ucwa_flow._display import printable
from ucwa_flow.errors import OperationalError

if TYPE_CHECKING:
    from ucwa_flow.review import CoverageResults, FlowShelf

__all__ = ["TOKEN_ENV", "command"]

#: where --token is read from when not given
TOKEN_ENV = "UCWA_FLOW_ADMIN_TOKEN"


@click.command("review")
@click.argument("flows", nargs=-1, required=True, metavar="FLOW...")
@click.option(
    "--coverage",
    "coverage_file",
    metavar="RESULTS.json",
    help="Coverage written by `ucwa-flow test --json RESULTS.json`.",
)
@click.option(
    "--attach",
    metavar="ADMIN_URL",
    help="Show the live conversations of a running `ucwa-flow serve` (its admin endpoint, "
    "e.g. http://127.0.0.1:8470).",
)
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    metavar="TOKEN",
    help=f"The admin endpoint's bearer token (env {TOKEN_ENV}).",
)
@click.option(
    "--store",
    metavar="URL",
    help="Replay finished conversations from this store: postgresql://... or a SQLite file.",
)
@click.option(
    "--listen",
    default="127.0.0.1:8300",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to serve the review (port 0: any free port).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests for this host name, e.g. review.example.com behind a "
    "reverse proxy (repeatable). Without it only IP addresses, localhost, dotless names and "
    "this machine's names are answered (a guard against DNS rebinding).",
)
def command(
    flows: tuple[str, ...],
    coverage_file: str | None,
    attach: str | None,
    token: str | None,
    store: str | None,
    listen: str,
    allow_hosts: tuple[str, ...],
) -> None:
    """Review FLOW files in the browser: graph, source, problems, coverage, live
    conversations and stored transcripts.

    FLOW may be written X.yaml for X.flow.yaml; a folder means every *.flow.yaml below
    it, as for validate and test. A file named twice is reviewed once.
    """
    from ucwa_flow._listen import parse_listen
    from ucwa_flow._local_guard import host_to_allow

    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    try:
        allowed = [host_to_allow(name) for name in allow_hosts]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-host") from None
    if attach is None and token is not None and _given(click.get_current_context(), "token"):
        # (a token from the environment alone is no mistake: it is there for any --attach)
        raise click.UsageError("--token is for --attach: give --attach ADMIN_URL as well")
    if attach is not None and not _http_url(attach):
        raise click.BadParameter(
            f"{attach!r} is not an http(s) URL such as http://127.0.0.1:8470",
            param_hint="--attach",
        )
    # the review app's modules only once the arguments are known to be usable
    from ucwa_flow.review import FlowShelf, load_coverage

    shelf = FlowShelf.load(flows)
    coverage = load_coverage(coverage_file) if coverage_file is not None else None
    target = _store_target(store) if store is not None else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(shelf, coverage, attach, token or None, target, (host, port), allowed))
    click.echo("stopped.", err=True)


def _given(context: click.Context, name: str) -> bool:
    """Whether option ``name`` was written on the command line."""
    return context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


def _store_target(store: str) -> str:
    from ucwa_flow.cli._store_target import resolve_store_target
    from ucwa_flow.store import is_postgres_url

    if is_postgres_url(store):
        return resolve_store_target(None, store, {}, None)
    return resolve_store_target(store, None, {}, None, must_exist=True)


async def _serve(
    shelf: FlowShelf,
    coverage: CoverageResults | None,
    attach: str | None,
    token: str | None,
    target: str | None,
    address: tuple[str, int],
    allowed: list[str],
) -> None:
    from ucwa_flow.cli.run import _until_terminated
    from ucwa_flow.review import RemoteLive, ReviewServer, StoredConversations, create_app
    from ucwa_flow.store import StoreError, open_store

    remote = RemoteLive(attach, token) if attach is not None else None
    store = None
    if target is not None:
        try:
            store = await open_store(target, read_only=True)
        except StoreError as exc:
            raise OperationalError(f"cannot open the conversation store: {exc}") from None
    stored = StoredConversations(store) if store is not None else None
    host, port = address
    hosts = [host, *allowed]
    app = create_app(shelf, coverage=coverage, live=remote, stored=stored, hosts=hosts)
    server = ReviewServer(app, host, port)
    try:
        if remote is not None:
            await remote.start()
        url = await server.start()
        names = printable(", ".join(flow.name for flow in shelf.all()))  # a file's own words
        click.echo(f"Reviewing {names} at {url} (Ctrl-C to stop)")
        await _until_terminated(_forever())
    finally:
        await server.stop()
        if remote is not None:
            await remote.aclose()
        if store is not None:
            await store.aclose()


async def _forever() -> None:
    await asyncio.Event().wait()


def _http_url(text: str) -> bool:
    """Whether ``text`` is an http(s) URL with a host (and a port that can exist)."""
    import httpx

    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        return False
    port_ok = url.port is None or 0 < url.port <= 65535
    host = url.raw_host.decode("ascii", "replace")  # url.host: an idna error for xn--ab
    from ucwa_flow._host_names import canonical_host

    return url.scheme in ("http", "https") and canonical_host(host) is not None and port_ok

"""``ucwa-flow run FLOW --review [ADDR]``: the review app beside the running bot.

The bot's engine feeds a :class:`~ucwa_flow.live.LiveBoard` (a trace sink, attached to
the engine so it knows each conversation's flow); :func:`serving_review` serves the
review app of FLOW on that board, in the bot's own event loop, for as long as the run
lasts, and prints the URL to open on stderr (stdout is the chat).

As ``ucwa-flow review``, it answers a ``Host`` that is an IP address, a dotless name, one
of the machine's names, the address's name or a name ``--allow-host NAME`` gives
(repeatable: a reverse proxy's ``review.example.com``); any other gets ``403``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported by serving_review: a plain `run` never loads the live board
    from ucwa_flow.live import LiveBoard

__all__ = ["DEFAULT_REVIEW", "Review", "parse_review", "serving_review"]

#: where ``--review`` without an address serves
DEFAULT_REVIEW = "127.0.0.1:8300"


@dataclass(frozen=True)
class Review:
    """Where ``run --review`` serves, and the host names it answers besides its own."""

    host: str
    port: int
    allowed: tuple[str, ...] = ()


def parse_review(value: str | None, allow_hosts: Sequence[str] = ()) -> Review | None:
    """``--review``'s value and the ``--allow-host`` names; a usage error for a bad one
    (or for ``--allow-host`` without ``--review``)."""
    if value is None:  # without --review, `run` never imports the review app
        if allow_hosts:
            raise click.UsageError("--allow-host is for the review: give --review as well")
        return None
    from ucwa_flow._listen import parse_listen
    from ucwa_flow._local_guard import host_to_allow

    try:
        host, port = parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--review") from None
    try:
        allowed = tuple(host_to_allow(name) for name in allow_hosts)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-host") from None
    return Review(host, port, allowed)


@contextlib.asynccontextmanager
async def serving_review(flow_file: str, review: Review | None) -> AsyncIterator[LiveBoard | None]:
    """Serve the review of ``flow_file`` as ``review`` says (nothing when ``None``);
    yields the board the bot's engine must feed."""
    if review is None:
        yield None
        return
    from ucwa_flow.live import LiveBoard
    from ucwa_flow.review import FlowShelf, ReviewServer, create_app

    board = LiveBoard()
    hosts = [review.host, *review.allowed]
    app = create_app(FlowShelf.load([flow_file]), live=board, hosts=hosts)
    server = ReviewServer(app, review.host, review.port)
    url = await server.start()
    click.echo(f"review: {url}", err=True)
    try:
        yield board
    finally:
        await server.stop()

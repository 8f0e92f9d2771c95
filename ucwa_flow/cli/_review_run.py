"""``ucwa-flow run FLOW --review [ADDR]``: the review app beside the running bot.

The bot's engine feeds a :class:`~ucwa_flow.live.LiveBoard` (a trace sink, attached to
the engine so it knows each conversation's flow); :func:`serving_review` serves the
review app of FLOW on that board, in the bot's own event loop, for as long as the run
lasts, and prints the URL to open on stderr (stdout is the chat).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import click

from ucwa_flow.live import LiveBoard

__all__ = ["DEFAULT_REVIEW", "parse_review", "serving_review"]

#: where ``--review`` without an address serves
DEFAULT_REVIEW = "127.0.0.1:8300"


def parse_review(value: str | None) -> tuple[str, int] | None:
    """The ``(host, port)`` of ``--review``'s value; a usage error for a bad one."""
    if value is None:  # without --review, `run` never imports the review app
        return None
    from ucwa_flow._listen import parse_listen

    try:
        return parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--review") from None


@contextlib.asynccontextmanager
async def serving_review(
    flow_file: str, address: tuple[str, int] | None
) -> AsyncIterator[LiveBoard | None]:
    """Serve the review of ``flow_file`` on ``address`` (nothing when ``None``); yields
    the board the bot's engine must feed."""
    if address is None:
        yield None
        return
    from ucwa_flow.review import FlowShelf, ReviewServer, create_app

    board = LiveBoard()
    app = create_app(FlowShelf.load([flow_file]), live=board, hosts=[address[0]])
    server = ReviewServer(app, *address)
    url = await server.start()
    click.echo(f"review: {url}", err=True)
    try:
        yield board
    finally:
        await server.stop()

"""``ucwa-flow replay FLOW [RECORDINGS...]``: what a flow does to the conversations callers had.

Recordings come from files (the JSON lines of ``ucwa-flow transcripts export``, or the
replay format of ``docs/replay.md``; ``-`` reads stdin) and/or straight from a store
(``--state FILE``, ``--store URL``, ``UCWA_FLOW_STORE``, ``--account SIP``, with
``--since``). Each conversation's caller side is played against FLOW on a virtual clock
(:mod:`ucwa_flow.replay`) and what the flow does is compared with what the bot did.

Output: a summary (how many are unchanged and diverged, where they first diverge, grouped
by state), then one block per diverged conversation (``-v``: with the whole conversation
as a diff); ``--json`` prints one JSON document instead. A progress bar (rich) shows on a
terminal only, never when stderr is piped or with ``--json``.

Exit status: 0 when nothing diverged (or ``--allow-changes``), 1 when a conversation
diverged or the store failed, 2 for bad input: a flow with errors, a part of a flow (a
sub-flow, an included file: one line, as ``run`` and ``graph`` word it), a recording that is
not valid (``file:line:col``), a usage mistake.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ucwa_flow._display import printable, short_id
from ucwa_flow.cli._flow_loading import part_of_a_flow
from ucwa_flow.cli._quiet import quiet_flows
from ucwa_flow.cli._store_target import STORE_ENV, resolve_store_target, sip_account
from ucwa_flow.cli._times import Moment
from ucwa_flow.cli._transcript_text import jsonl_objects
from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.replay import (
    Compare,
    Recording,
    Result,
    as_json,
    detail_lines,
    from_export,
    read_lines,
    read_recordings,
    replay,
    summary_lines,
)
from ucwa_flow.store import ConversationQuery, Store, open_store

__all__ = ["command"]


if TYPE_CHECKING:
    _CompareParam = click.ParamType[Compare]
else:  # click before 8.3 has no type parameters
    _CompareParam = click.ParamType


class _CompareType(_CompareParam):
    name = "MODE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Compare):
            return value
        try:
            return Compare.parse(str(value))
        except ValueError as exc:
            self.fail(f"{value!r}: {exc}", param, ctx)


@click.command("replay")
@click.argument("flow_file", metavar="FLOW", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("recordings", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--state",
    type=click.Path(path_type=Path),
    help="A SQLite store file (or a deployment's store folder, with --account).",
)
@click.option("--store", metavar="URL", help=f"A PostgreSQL store (env {STORE_ENV}).")
@click.option(
    "--account",
    metavar="SIP",
    callback=sip_account,
    help="Only this bot's conversations in the store.",
)
@click.option("--since", type=Moment(), help="Store conversations started since (ISO time or 7d).")
@click.option(
    "--compare",
    "how",
    type=_CompareType(),
    default="exact",
    show_default=True,
    help="Replies: exact, loose (whitespace and case ignored), similar[:0.8].",
)
@click.option("--json", "as_json_output", is_flag=True, help="One JSON document (for CI).")
@click.option("--allow-changes", is_flag=True, help="Exit 0 even when conversations diverged.")
@click.option("-v", "--verbose", is_flag=True, help="Show each diverged conversation as a diff.")
def command(
    flow_file: Path,
    recordings: tuple[str, ...],
    state: Path | None,
    store: str | None,
    account: str | None,
    since: float | None,
    how: Compare,
    as_json_output: bool,
    allow_changes: bool,
    verbose: bool,
) -> None:
    """Replay recorded conversations against FLOW and show what it does differently.

    RECORDINGS are JSON-lines files: `ucwa-flow transcripts export` output, or the replay
    format (docs/replay.md). --state/--store (or UCWA_FLOW_STORE with no file given) reads
    the conversations of FLOW's name from a store instead.
    """
    flow = _flow(flow_file)
    found = _recordings(recordings, state, store, account, since, flow.name)
    turned_away = sum(r.declined for r in found)
    if turned_away:
        click.echo(
            f"Skipped {turned_away} invitation(s) the bot turned away (no conversation ran).",
            err=True,
        )
        found = [r for r in found if not r.declined]
    mine = [r for r in found if r.flow is None or r.flow == flow.name]
    if len(mine) < len(found):
        others = len(found) - len(mine)
        name = printable(flow.name)
        click.echo(f"Skipped {others} conversation(s) of other flows than {name}.", err=True)
    with (
        quiet_flows(),
        _progress(len(mine), enabled=not as_json_output and sys.stderr.isatty()) as advance,
    ):
        results = asyncio.run(replay(flow, mine, how, advance))
    _print(results, str(flow_file), how, as_json_output, verbose)
    diverged = any(r.diverged for r in results)
    sys.exit(1 if diverged and not allow_changes else 0)


def _flow(path: Path) -> Flow:
    loaded = load_flow(path)
    if loaded.flow is None:
        for diagnostic in loaded.errors:
            click.echo(str(diagnostic), err=True)
        if not loaded.errors:  # a part of a flow: it loads with no flow and no errors
            click.echo(f"ucwa-flow: error: {part_of_a_flow(str(path), 'replay')}", err=True)
        sys.exit(2)
    return loaded.flow


def _recordings(
    files: tuple[str, ...],
    state: Path | None,
    store: str | None,
    account: str | None,
    since: float | None,
    flow: str,
) -> list[Recording]:
    from_store = state is not None or store is not None or (not files and STORE_ENV in os.environ)
    if not from_store and not files:
        raise click.UsageError("give RECORDINGS files, or a store: --state FILE or --store URL")
    if not from_store and (since is not None or account is not None):  # a store's filters
        option = "--since" if since is not None else "--account"
        raise click.UsageError(
            f"{option} selects the conversations of a store (--state or --store), not of "
            "RECORDINGS files: select with `ucwa-flow transcripts export` instead"
        )
    found: list[Recording] = []
    for name in files:
        if name == "-":
            found.extend(read_lines("<stdin>", sys.stdin))
        else:
            found.extend(read_recordings(name))
    if from_store:
        found.extend(_from_store(state, store, account, since, flow))
    return found


def _from_store(
    state: Path | None, store: str | None, account: str | None, since: float | None, flow: str
) -> list[Recording]:
    target = resolve_store_target(state, store, os.environ, account, must_exist=True, folders=True)
    query = ConversationQuery(account=account, flow=flow, since=since)

    async def read() -> list[Recording]:
        found: list[Recording] = []
        async with await open_store(target, read_only=True) as opened:
            async for record, entries in opened.export(query):
                objects = list(jsonl_objects(record, entries))
                source = f"{opened.target}:{short_id(record.conversation)}"
                found.append(from_export(objects[0], objects[1:], source))
            if not found:
                await _other_flows(opened, ConversationQuery(account=account, since=since), flow)
        return found

    return asyncio.run(read())


async def _other_flows(opened: Store, query: ConversationQuery, flow: str) -> None:
    """Say which flows the store's conversations ran when none ran ``flow``: a flow whose
    ``name:`` changed otherwise replays nothing, silently, and its CI gate passes."""
    query = replace(query, turned_away=False, limit=1000, newest_first=True)
    names = sorted({record.flow for record in await opened.conversations(query)})
    if names:
        click.echo(
            f"The store holds no conversations of the flow {printable(flow)} (FLOW's `name:`), "
            f"only of: {', '.join(map(printable, names))}.",
            err=True,
        )


@contextmanager
def _progress(total: int, *, enabled: bool) -> Iterator[Callable[[Result], None] | None]:
    """A progress bar on stderr while the replay runs (``None``: no bar)."""
    if not enabled or total < 2:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("replay", total=total)
        yield lambda _result: progress.advance(task)


def _print(
    results: list[Result], flow: str, how: Compare, as_json_output: bool, verbose: bool
) -> None:
    if as_json_output:
        click.echo(json.dumps(as_json(results, flow, how), ensure_ascii=False, indent=2))
        return
    if not results:
        click.echo("No conversations to replay.", err=True)
        return
    # what callers wrote, and replies quoting it, are shown, never obeyed by the terminal
    for line in summary_lines(results, flow, how):
        click.echo(printable(line, newlines=True))
    for result in results:
        if result.diverged:
            click.echo("")
            for line in detail_lines(result, verbose=verbose):
                click.echo(printable(line, newlines=True))

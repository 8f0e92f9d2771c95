"""``ucwa-flow transcripts``: read, export and prune the conversation store.

* ``transcripts list [filters]``: one line per conversation, newest first;
* ``transcripts show CONVERSATION [--format text|jsonl]``: one conversation's history;
  CONVERSATION is its href, any unique beginning or end of it, or the beginning of the id
  ``list`` prints (the href's last part);
* ``transcripts export [filters] [--format jsonl|text|replay] [-o FILE]``: every
  conversation the filters select, oldest first, with its history (``replay``: one line
  per conversation in the format ``ucwa-flow replay`` documents);
* ``transcripts prune --older-than 30d``: delete what ended that long ago, and round-robin
  places unused as long (retention by hand; a running bot prunes by itself).

Each opens the store that ``--state PATH`` (SQLite), ``--store URL`` (PostgreSQL),
``UCWA_FLOW_STORE`` or ``--account SIP`` (its default file) names, by the rules of
:mod:`ucwa_flow.cli._store_target`; a SQLite file that does not exist is an error, never a
new empty store, and a store of an older schema version is refused, never migrated (a bot of
that version may still run on it; ``prune`` too: only a bot migrates). ``--account`` also
limits what is shown to that bot's conversations.
Times are printed in UTC and accepted as ISO-8601 or as a duration before now (``2h``).

Errors are one line and a non-zero exit status: 2 for a usage mistake or a missing store
file, 1 for a store that fails (:class:`~ucwa_flow.store.StoreError`) or a conversation
that is not found or not unique. Nothing secret is printed (see
:mod:`ucwa_flow.cli._transcript_text`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from ucwa_flow._display import short_id
from ucwa_flow.cli._store_target import STORE_ENV, resolve_store_target, sip_account
from ucwa_flow.cli._times import EARLIEST, Duration, Moment, format_time
from ucwa_flow.cli._transcript_text import (
    conversation_object,
    dumps,
    jsonl_objects,
    list_rows,
    text_lines,
)
from ucwa_flow.errors import UcwaFlowError, UnreadableFileError
from ucwa_flow.store import ConversationQuery, ConversationRecord, Pruned, Store, open_store

__all__ = ["command"]

#: more conversations than any store holds: a larger --limit is this one
_MOST = 2**62

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class ConversationNotFound(UcwaFlowError):
    """CONVERSATION names no stored conversation, or more than one."""


def _target_options(func: F) -> F:
    for option in reversed(
        (
            click.option(
                "--state",
                type=click.Path(path_type=Path),
                default=None,
                help="The bot's SQLite store file (or a deployment's store folder, with "
                "--account).",
            ),
            click.option(
                "--store",
                metavar="URL",
                default=None,
                help=f"A PostgreSQL store, postgresql://... (env {STORE_ENV}: a URL or a file).",
            ),
            click.option(
                "--account",
                metavar="SIP",
                default=None,
                callback=sip_account,
                help="Only this bot's conversations; without --state/--store, its default file.",
            ),
        )
    ):
        func = option(func)
    return func


def _filter_options(func: F) -> F:
    for option in reversed(
        (
            click.option("--caller", default=None, help="Part of the caller's address or name."),
            click.option("--flow", default=None, help="The flow's name."),
            click.option("--state-name", default=None, help="The state it is (or ended) in."),
            click.option("--since", type=Moment(), help="Started at or after (ISO time or 2h)."),
            click.option("--until", type=Moment(), help="Started before (ISO time or 2h)."),
            click.option("--active", "status", flag_value="active", help="Only active ones."),
            click.option("--ended", "status", flag_value="ended", help="Only ended ones."),
        )
    ):
        func = option(func)
    return func


def _query(options: dict[str, Any], **more: Any) -> ConversationQuery:
    return ConversationQuery(
        account=options["account"],
        caller=options["caller"],
        flow=options["flow"],
        state=options["state_name"],
        status=options["status"],
        since=options["since"],
        until=options["until"],
        **more,
    )


def _with_store(
    options: dict[str, Any], work: Callable[[Store], Awaitable[T]], *, writes: bool = False
) -> T:
    """Open the store the options name, run ``work`` on it, close it. Read-only, unless
    ``work`` ``writes`` (prune): then read-write, but never migrated either."""
    target = resolve_store_target(
        options["state"],
        options["store"],
        os.environ,
        options["account"],
        must_exist=True,
        folders=True,
    )

    async def main() -> T:
        async with await open_store(target, existing=True, read_only=not writes) as store:
            return await work(store)

    return asyncio.run(main())


@click.group("transcripts")
def command() -> None:
    """Read, export and prune the conversation history a bot keeps.

    Times are UTC; --since/--until take an ISO-8601 time (2026-01-05T09:30) or a duration
    before now (90m, 2h, 3d).
    """


@command.command("list")
@_target_options
@_filter_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "jsonl"]),
    default="text",
    help="Aligned text, or one JSON object per conversation (as export's first line, "
    "with its id and message counts).",
)
def list_command(limit: int, output_format: str, **options: Any) -> None:
    """One line per conversation, newest first."""

    async def work(store: Store) -> tuple[list[ConversationRecord], Any, Any]:
        # one more: are there? (an SQLite integer holds at most 2**63 - 1)
        query = _query(options, limit=min(limit, _MOST) + 1, newest_first=True)
        records = await store.conversations(query)
        keys = [(r.account, r.conversation) for r in records]
        ended = [key for key, r in zip(keys, records, strict=True) if r.status == "ended"]
        return records, await store.transcript_counts(keys), await store.endings(ended)

    records, counts, endings = _with_store(options, work)
    if not records:
        click.echo("No conversations match.", err=True)
        return
    if output_format == "jsonl":
        for record in records[:limit]:
            key = (record.account, record.conversation)
            listed = conversation_object(record, endings.get(key))
            listed["id"] = short_id(record.conversation)
            listed["counts"] = dict(counts.get(key, {}))
            click.echo(dumps(listed))
    else:
        for row in list_rows(records[:limit], counts, endings):
            click.echo(row)
    if len(records) > limit:
        click.echo(f"(the newest {limit}; --limit N shows more)", err=True)


@command.command("show")
@click.argument("conversation")
@_target_options
@click.option("--format", "output_format", type=click.Choice(["text", "jsonl"]), default="text")
def show_command(conversation: str, output_format: str, **options: Any) -> None:
    """One conversation's whole history.

    CONVERSATION is the conversation's href, any unique beginning or end of it, or the
    beginning of the id `list` prints.
    """

    async def work(store: Store) -> list[str]:
        record = await _find(store, conversation, options["account"], store.target)
        entries = await store.transcript(record.account, record.conversation)
        return list(_render(record, entries, output_format))

    for line in _with_store(options, work):
        click.echo(line)


@command.command("export")
@_target_options
@_filter_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "text", "replay"]),
    default="jsonl",
    help="JSON lines, text, or one line per conversation in the replay format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of stdout.",
)
def export_command(output_format: str, output: Path | None, **options: Any) -> None:
    """Every matching conversation with its history, oldest first."""

    async def work(store: Store) -> int:
        with _destination(output) as out:
            exported = 0
            async for record, entries in store.export(_query(options)):
                if output_format == "text" and exported:
                    out.write("\n")
                for line in _render(record, entries, output_format):
                    out.write(line + "\n")
                exported += 1
            return exported

    exported = _with_store(options, work)
    where = f" to {output}" if output is not None else ""
    click.echo(f"Exported {exported} conversation(s){where}.", err=True)


@command.command("prune")
@_target_options
@click.option(
    "--older-than",
    "older_than",
    type=Duration(),
    required=True,
    help="Delete conversations that ended longer ago than this (e.g. 30d).",
)
def prune_command(older_than: float, **options: Any) -> None:
    """Delete conversations that ended long ago, with their history (every account in the
    store), finished outbox entries as old, and the round-robin places of agents who have
    not accepted a handoff since (they count as never having accepted)."""
    before = max(time.time() - older_than, EARLIEST)  # 99999999999d: before any date

    async def work(store: Store) -> tuple[Pruned, str]:
        return await store.prune(before=before), store.target

    pruned, target = _with_store(options, work, writes=True)
    click.echo(f"Pruned {pruned.describe(format_time(before))} from {target}.")


# -- pieces ---------------------------------------------------------------------------------


async def _find(store: Store, text: str, account: str | None, where: str) -> ConversationRecord:
    """The one conversation whose href is ``text``, or begins or ends with it, or whose last
    part (the id ``list`` prints) begins with it."""
    found = await store.conversations(
        ConversationQuery(account=account, conversation=text, limit=1000)
    )
    exact = [r for r in found if r.conversation == text]
    candidates = exact or [r for r in found if _names(r.conversation, text.lower())]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ConversationNotFound(f"no conversation in {where} matches {text!r}")
    if exact:
        accounts = ", ".join(sorted({r.account for r in exact}))
        raise ConversationNotFound(
            f"{text!r} is a conversation of several accounts ({accounts}): add --account SIP"
        )
    ids = [short_id(r.conversation) for r in candidates]
    if len(set(ids)) < len(ids):
        ids = [f"{r.conversation} of {r.account}" for r in candidates]
    shown = ", ".join(ids[:3])
    more = f" and {len(candidates) - 3} more" if len(candidates) > 3 else ""
    raise ConversationNotFound(
        f"{text!r} matches {len(candidates)} conversations ({shown}{more}): give more of it"
    )


def _names(href: str, text: str) -> bool:
    """Whether ``text`` (lowered) is a beginning or end of ``href``, or of its last part."""
    href = href.lower()
    return href.startswith(text) or href.endswith(text) or short_id(href).startswith(text)


def _render(record: ConversationRecord, entries: Any, output_format: str) -> Iterator[str]:
    if output_format == "replay":
        from ucwa_flow.replay import from_export, recording_line

        objects = list(jsonl_objects(record, entries))
        recording = from_export(objects[0], objects[1:], record.conversation)
        return iter([dumps(recording_line(recording))])
    if output_format == "jsonl":
        return (dumps(obj) for obj in jsonl_objects(record, entries))
    return text_lines(record, entries)


@contextlib.contextmanager
def _destination(output: Path | None) -> Iterator[IO[str]]:
    """stdout, or ``output`` written in full or not at all (a partial export is removed)."""
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    partial = output.with_name(output.name + ".partial")
    try:
        handle = partial.open("w", encoding="utf-8")
    except OSError as exc:
        raise UnreadableFileError(f"{output}: cannot write: {exc.strerror or exc}") from None
    try:
        with handle:
            yield handle
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UnreadableFileError(f"{output}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise

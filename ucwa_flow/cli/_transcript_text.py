"""Stored conversations as people and tools read them: list rows, text, JSON lines.

The ``transcripts`` command reads :class:`~ucwa_flow.store.ConversationRecord` and
:class:`~ucwa_flow.store.TranscriptEntry` values and prints them three ways:

* :func:`list_rows`: one aligned line per conversation (``transcripts list``), its status
  with why the bot ended it when it did (``ended: bot (stop)``, ``(shutdown)``), from the
  conversation's last ``ended`` entry (:meth:`~ucwa_flow.store.Store.endings`);
* :func:`text_lines`: a conversation as one continuous history, a header and then a line
  per transcript entry: messages both ways with their delivery outcome, state and variable
  changes, errors, the end (``show``, ``export --format text``);
* :func:`jsonl_objects`: the same as JSON objects, one ``"type": "conversation"`` object and
  one ``"type": "entry"`` object per transcript line (``--format jsonl``); the conversation's
  ``ended_why`` is its last ``ended`` entry's ``why``.

The entry kinds it knows and the data it reads from each (anything else is printed as its
kind and its data as JSON, so a new kind is never lost):

=============== ==========================================================================
``message_in``  ``text``
``message_out`` ``text`` (else ``html``); the entry's ``outcome`` is the delivery outcome
``state``       ``to`` (or ``state``) and ``from`` (or ``previous``)
``variable``    ``name``, ``value``
``error``       ``message``, ``location``
``version``     ``flow``, ``from``, ``to``: the flow versions (digests) it moved between
``ended``       ``reason`` (``ended by the bot``); ``why`` (``stop``, ``shutdown``): who ended it
``bridge_*``    ``agent`` or ``agents``, ``by``: a handoff's steps
``declined``    ``decision`` (``decline``, ``busy``), ``by`` (``rule``, ``default``,
                ``limits``), ``location``, ``answer`` (``declined``, ``ringing``),
                ``farewell``: an invitation the bot turned away
=============== ==========================================================================

An invitation the bot turned away is a conversation of its own, ended, in which no flow
ran: no state, no variables, its record's ``extra`` holding the ``declined`` line's data
(:func:`~ucwa_flow.runtime.records.declined_record`). It is listed as ``declined``,
``declined: busy`` or ``not answered: busy``, and shown as its decline.

Secrets: the store redacts secret variables in what it writes, and in the record once a
conversation has ended; an active record still holds the real values. Everything here
passes through :func:`~ucwa_flow.store.redact` with the record's secret names again before
it is shown, and the runtime internals of a record (timers, pending work and its requests,
extras) are never shown at all.

Terminals: what a caller wrote (texts, display name, address) is printed with its control
characters as escapes (:func:`~ucwa_flow._display.printable`; a message's own line breaks
kept), so no escape sequence a caller typed reaches the terminal of whoever reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ucwa_flow._display import c1_escaped, printable, short_id
from ucwa_flow.cli._times import format_time, iso_time
from ucwa_flow.store import REDACTED, ConversationRecord, TranscriptEntry, redact, scrub_variables

__all__ = ["dumps", "jsonl_objects", "list_rows", "short_version", "text_lines"]

_LABEL_WIDTH = 6
_INDENT = " " * (len(format_time(0)) + 2 + _LABEL_WIDTH + 2)


def short_version(version: str, length: int = 8) -> str:
    """``4cea80c1768b...`` (a flow's 64-digit digest, or ``sha256:...``) -> ``4cea80c1``."""
    return version.rpartition(":")[2][:length] or "?"


def list_rows(
    records: Sequence[ConversationRecord],
    counts: Mapping[tuple[str, str], Mapping[str, int]],
    endings: Mapping[tuple[str, str], TranscriptEntry],
) -> list[str]:
    """One aligned line per conversation, under a header line; ``endings``: each one's last
    ``ended`` entry, which says why the bot ended it (``ended: bot (stop)``)."""
    accounts = len({r.account for r in records}) > 1
    header = ["STARTED", "CALLER", "FLOW", "STATE", "STATUS", "MESSAGES", "CONVERSATION"]
    rows = [header if not accounts else ["ACCOUNT", *header]]
    for record in records:
        row = [
            format_time(record.created_at),
            _caller_short(record),
            f"{record.flow}@{short_version(record.flow_version)}",
            record.state or "-",
            _status(record, endings.get((record.account, record.conversation))),
            _messages(counts.get((record.account, record.conversation), {})),
            short_id(record.conversation),
        ]
        row = [printable(cell) for cell in (row if not accounts else [record.account, *row])]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


def text_lines(record: ConversationRecord, entries: Sequence[TranscriptEntry]) -> Iterator[str]:
    """A conversation's header, a blank line, then its history one entry a line."""
    secrets = record.secrets
    caller = record.caller_uri or ""
    if record.caller_name:
        caller = f"{record.caller_name} <{caller}>" if caller else record.caller_name
    declined = _declined(record)
    if declined is not None:
        turned = _turned_away(declined).partition("\n")[0]
        status = f"turned away {format_time(record.updated_at)}: {turned}"
    elif record.status == "ended":
        why = next((_ending(e.data) for e in reversed(entries) if e.kind == "ended"), "")
        reason = why or _by(record.ended_reason or "no reason given")
        status = f"ended {format_time(record.updated_at)}: {reason}"
    else:
        status = f"active (last step {format_time(record.updated_at)})"
    variables = _variables(record)
    yield printable(f"Conversation  {record.conversation}")
    yield printable(f"Account       {record.account}")
    yield printable(f"Caller        {caller or '(unknown)'}")
    # the digest's first 12 digits, as `serve` logs a flow's version (64 in --format jsonl)
    version = short_version(record.flow_version, 12)
    if declined is not None:  # no flow ran: no state, no variables
        yield printable(f"Flow          {record.flow} (version {version})")
        yield printable(f"Invited       {format_time(record.created_at)}")
        yield printable(f"Status        {status}")
    else:
        yield printable(f"Flow          {record.flow} (version {version}), state {record.state}")
        yield printable(f"Started       {format_time(record.created_at)}")
        yield printable(f"Status        {status}")
        yield printable(
            "Variables     "
            + (", ".join(f"{k} = {_value(v)}" for k, v in variables.items()) or "(none)")
        )
    yield ""
    for entry in entries:
        label, text = _describe(entry.kind, redact(entry.data, secrets), entry.outcome)
        # what a caller wrote is shown, never obeyed: no escape sequence reaches the terminal
        body = printable(text, newlines=True).replace("\n", "\n" + _INDENT)
        shown = printable(label).ljust(_LABEL_WIDTH)
        yield f"{format_time(entry.at)}  {shown}  {body}".rstrip()


def jsonl_objects(
    record: ConversationRecord, entries: Sequence[TranscriptEntry]
) -> Iterator[dict[str, Any]]:
    """The conversation, then each transcript entry, as JSON-ready objects (an invitation
    turned away has its decline in ``declined``)."""
    yield conversation_object(
        record, next((e for e in reversed(entries) if e.kind == "ended"), None)
    )
    for entry in entries:
        yield {
            "type": "entry",
            "account": entry.account,
            "conversation": entry.conversation,
            "seq": entry.seq,
            "at": iso_time(entry.at),
            "kind": entry.kind,
            "data": redact(entry.data, record.secrets),
            "outcome": entry.outcome,
            "key": entry.key,
        }


def conversation_object(
    record: ConversationRecord, ended: TranscriptEntry | None
) -> dict[str, Any]:
    """The conversation as a JSON-ready object (``type: conversation``); ``ended``: its last
    ``ended`` entry, which says why the bot ended it."""
    conversation: dict[str, Any] = {
        "type": "conversation",
        "account": record.account,
        "conversation": record.conversation,
        "flow": record.flow,
        "flow_version": record.flow_version,
        "state": record.state,
        "status": record.status,
        "ended_reason": record.ended_reason,
        "caller_uri": record.caller_uri,
        "caller_name": record.caller_name,
        "created_at": iso_time(record.created_at),
        "updated_at": iso_time(record.updated_at),
        "variables": _variables(record),
        "misses": record.misses,
        # why the bot ended it: stop, shutdown...; null while it is active (a conversation
        # invited again keeps its earlier run's ``ended`` entry)
        "ended_why": _why(ended) if record.status == "ended" else None,
    }
    declined = _declined(record)
    if declined is not None:
        conversation["declined"] = dict(declined)
    return conversation


def dumps(obj: Any) -> str:
    """One JSON line (non-ASCII text kept as is, but the C1 controls, which ``json`` leaves
    raw and a terminal may obey: ``\\u009b`` is CSI, as ESC ``[``)."""
    return c1_escaped(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


# -- pieces ---------------------------------------------------------------------------------


def _variables(record: ConversationRecord) -> dict[str, Any]:
    """The record's variables, the secret ones redacted and their values blanked out of the
    others: an active record keeps them in clear (the conversation needs them)."""
    return scrub_variables(record.variables, record.secrets)


def _describe(kind: str, data: Any, outcome: str | None) -> tuple[str, str]:
    """The label and text of one transcript line."""
    fields: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    if kind == "message_in" and "text" in fields:
        return "caller", str(fields["text"])
    if kind == "message_out" and ("text" in fields or "html" in fields):
        text = fields.get("text")
        text = str(text) if text is not None else str(fields.get("html"))
        return "bot", f"{text}  [{_outcome(outcome)}]"
    if kind == "state" and ("to" in fields or "state" in fields):
        before = fields.get("from", fields.get("previous"))
        after = fields.get("to", fields.get("state"))
        return "state", f"{before or '(start)'} -> {after}"
    if kind == "variable" and "name" in fields:
        return "set", f"{fields['name']} = {_value(fields.get('value'))}"
    if kind == "error" and "message" in fields:
        where = f" ({fields['location']})" if fields.get("location") else ""
        return "error", f"{fields['message']}{where}"
    if kind == "version" and "to" in fields:
        before, after = short_version(str(fields.get("from"))), short_version(str(fields["to"]))
        return "flow", f"{fields.get('flow') or ''} {before} -> {after}".strip()
    if kind == "ended":
        return "ended", _ending(fields)
    if kind == "declined" and "decision" in fields:
        return "invite", _turned_away(fields)
    if kind.startswith("bridge_"):  # a handoff: ringing, connected, relay, done, ended
        who = fields.get("agent") or ", ".join(fields.get("agents") or ())
        by = f" (by the {fields['by']})" if fields.get("by") else ""
        return "bridge", f"{kind.removeprefix('bridge_')} {who}{by}".strip()
    detail = "" if data is None else dumps(data)
    return kind, detail + (f"  [{outcome}]" if outcome else "")


def _declined(record: ConversationRecord) -> Mapping[str, Any] | None:
    """The decline of an invitation the bot turned away (``None``: a conversation)."""
    declined = record.extra.get("declined") if record.status == "ended" else None
    return declined if isinstance(declined, Mapping) else None


def _turned_away(fields: Mapping[str, Any]) -> str:
    """A ``declined`` line: why, and the farewell said on a line of its own."""
    location = fields.get("location")
    if fields.get("decision") == "busy":
        how = "left ringing" if fields.get("answer") == "ringing" else "declined"
        text = f"{how}: busy (the account was at its limits)"
    elif fields.get("by") == "rule":
        text = f"declined by the invitation rule at {location}" if location else "declined"
    else:
        where = f" ({location})" if location else ""
        text = f"declined by the invitation policy's default{where}"
    if fields.get("farewell") is not None:
        text += f"\nsaid: {fields['farewell']}"
    return text


def _by(who: str) -> str:
    """``bot`` -> ``by the bot``; a reason of another shape stays as it is."""
    return f"by the {who}" if who in ("bot", "caller", "server") else who


def _ending(data: Any) -> str:
    """An ``ended`` line's reason: ``by the bot (stop)``, ``by the caller``."""
    fields: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    reason = str(fields.get("reason") or "").removeprefix("ended ")
    why = f"({fields['why']})" if fields.get("why") else ""
    return " ".join(part for part in (reason, why) if part)


def _outcome(outcome: str | None) -> str:
    if outcome is None:
        return "delivery not confirmed"
    if outcome.startswith("failed"):
        return "FAILED" + outcome.removeprefix("failed")
    return outcome


def _value(value: Any) -> str:
    return REDACTED if value == REDACTED else dumps(value)


def _caller_short(record: ConversationRecord) -> str:
    if record.caller_uri:
        return record.caller_uri.removeprefix("sip:")
    return record.caller_name or "(unknown)"


def _status(record: ConversationRecord, ended: TranscriptEntry | None) -> str:
    """``active``, ``ended: caller``, ``ended: bot (stop)``, ``ended: bot (shutdown)``."""
    if record.status == "active":
        return "active"
    declined = _declined(record)
    if declined is not None:
        if declined.get("decision") != "busy":
            return "declined"
        return "not answered: busy" if declined.get("answer") == "ringing" else "declined: busy"
    why = _why(ended)
    text = f"ended: {record.ended_reason}" if record.ended_reason else "ended"
    return f"{text} ({why})" if why else text


def _why(ended: TranscriptEntry | None) -> str | None:
    """An ``ended`` entry's ``why`` (``stop``, ``shutdown``...), if it says one."""
    data = ended.data if ended is not None else None
    why = data.get("why") if isinstance(data, Mapping) else None
    return str(why) if why else None


def _messages(counts: Mapping[str, int]) -> str:
    text = f"{counts.get('message_in', 0)} in, {counts.get('message_out', 0)} out"
    errors = counts.get("error", 0)
    return text + (f", {errors} error{'s' if errors != 1 else ''}" if errors else "")

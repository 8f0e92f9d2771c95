"""Reading recordings from JSON lines, in either of the two shapes replay accepts.

* **The replay format**: one conversation per line, an object with ``events`` (documented
  in ``docs/replay.md``; short enough to write by hand). :func:`recording_line` writes it.
* **The export format** of ``ucwa-flow transcripts export --format jsonl``: a
  ``"type": "conversation"`` line followed by its ``"type": "entry"`` lines.
  :func:`from_export` turns one such group into a recording: the caller's messages,
  leaving and the outcomes of invites and webhooks become inputs, the bot's messages,
  states and end become what is compared, and the variables no history line ever set are
  taken as the values the deployment gave them before the conversation began.

A line that is not JSON, or not one of these shapes, is a :class:`RecordingError` located
``file:line:col``. Blank lines are skipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ucwa_flow import bounded_json
from ucwa_flow._display import short_id
from ucwa_flow.errors import UnreadableFileError
from ucwa_flow.replay._recording import KINDS, Event, Recording

__all__ = ["RecordingError", "from_export", "read_lines", "recording_line"]

#: why a bot ends a conversation when its flow decides it (``Ended.why``)
_FLOW_ENDS = frozenset({"stop", "idle timeout", "goto loop"})
_BY = {"ended by the caller": "caller", "ended by the server": "server", "ended by the bot": "bot"}
_DECODER = json.JSONDecoder()


class RecordingError(UnreadableFileError):
    """A recording that cannot be read: ``file:line:col: message`` (exit status 2)."""


class _Bad(Exception):
    """``key``: the key the problem is at; ``event``: in which event (an index), if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.event: int | None = None


def read_lines(name: str, lines: Iterable[str]) -> Iterator[Recording]:
    """The recordings in ``lines`` of the file ``name`` (either shape, mixed as they come)."""
    group: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if number == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark (Windows editors write one)
        if not line.strip():
            continue
        obj = _parse(name, number, line)
        kind = obj.get("type")
        if kind == "entry" and group:
            group.append((number, obj))
            continue
        if group:
            yield _exported(name, group)
            group = []
        try:
            if kind == "entry":
                raise _Bad("an entry line before any conversation line", "type")
            if kind == "conversation":
                group = [(number, obj)]
            elif kind in (None, "replay"):
                yield _from_replay(obj, f"{name}:{number}")
            else:
                raise _Bad(f"unknown line type {kind!r} (conversation, entry or replay)", "type")
        except _Bad as exc:
            column = _column(line, exc.key, exc.event)
            raise RecordingError(f"{name}:{number}:{column}: {exc}") from None
    if group:
        yield _exported(name, group)


def _exported(name: str, group: list[tuple[int, dict[str, Any]]]) -> Recording:
    """The recording of an exported conversation: its line and its entries' (numbered)."""
    number, conversation = group[0]
    try:
        return from_export(conversation, [obj for _, obj in group[1:]], f"{name}:{number}")
    except _Bad as exc:
        raise RecordingError(f"{name}:{number}:1: {exc}") from None


def _parse(name: str, number: int, line: str) -> dict[str, Any]:
    try:  # a line holds variables (as deep as MAX_DEPTH) a few levels down: twice that
        obj = bounded_json.loads(line, depth=2 * bounded_json.MAX_DEPTH)
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{name}:{number}:{exc.colno}: not JSON: {exc.msg}") from None
    except bounded_json.TooDeep as exc:
        raise RecordingError(f"{name}:{number}:1: {exc}") from None
    if not isinstance(obj, dict):
        raise RecordingError(f"{name}:{number}:1: a line must be a JSON object")
    return obj


def _column(line: str, key: str | None, event: int | None = None) -> int:
    """Where ``key`` is in ``line`` (in its event ``event``, if given), counted from 1."""
    start, end = (0, len(line)) if event is None else _event_span(line, event)
    if key is None:
        return start + 1
    found = line.find(json.dumps(key), start, end)
    return found + 1 if found >= 0 else start + 1


def _event_span(line: str, index: int) -> tuple[int, int]:
    """Where event ``index`` of the (valid JSON) line's ``events`` list starts and ends."""
    for key, start, _ in _members(line, 0):
        if key == "events" and line[start] == "[":
            for at, begin, end in _members(line, start):
                if at == index:
                    return begin, end
    return 0, len(line)


def _members(text: str, start: int) -> Iterator[tuple[str | int, int, int]]:
    """The members of the JSON object (the items of the array) at ``text[start]``: each key
    (index) with where its value starts and ends."""
    decode = _DECODER.raw_decode

    def skip(at: int) -> int:  # past white space
        while at < len(text) and text[at] in " \t\n\r":
            at += 1
        return at

    closing = "}" if text[start] == "{" else "]"
    at, index = skip(start + 1), 0
    while at < len(text) and text[at] != closing:
        key: str | int = index
        if closing == "}":
            key, at = decode(text, at)
            at = skip(skip(at) + 1)  # past the ':'
        _, end = decode(text, at)
        yield key, at, end
        at, index = skip(end), index + 1
        if at < len(text) and text[at] == ",":
            at = skip(at + 1)


# -- the replay format ------------------------------------------------------------------------


def _from_replay(obj: Mapping[str, Any], source: str) -> Recording:
    raw = obj.get("events")
    if not isinstance(raw, list):
        raise _Bad('a recording needs "events": a list of events', "events" if raw else None)
    events = []
    for i, item in enumerate(raw):
        try:
            events.append(_event(item, i))
        except _Bad as exc:
            exc.event = i  # located in that event, not at the first such key of the line
            raise
    variables = obj.get("variables")
    start = obj.get("vars", {})
    if variables is not None and not isinstance(variables, dict):
        raise _Bad('"variables" must be an object', "variables")
    if not isinstance(start, dict):
        raise _Bad('"vars" must be an object', "vars")
    return Recording(
        id=_text(obj, "id") or source,
        source=source,
        events=tuple(events),
        caller_uri=_text(obj, "caller"),
        caller_name=_text(obj, "caller_name"),
        subject=_text(obj, "subject"),
        flow=_text(obj, "flow"),
        flow_version=_text(obj, "flow_version"),
        started=_time(obj.get("started"), "started"),
        start_variables=start,
        variables=variables,
        secrets=frozenset(_strings(obj.get("secrets", []), "secrets")),
        declined=obj.get("declined") is True,
    )


#: the outcomes a recording may give an invite or a webhook (docs/replay.md)
_OUTCOMES = {
    "invite": ("accepted", "declined", "no_answer"),
    "webhook": ("success", "failure"),
    "handoff": ("connected", "done", "agent_left", "no_answer"),
}


def _event(item: Any, index: int) -> Event:
    where = f"event {index + 1}"
    if not isinstance(item, dict):
        raise _Bad(f'{where}: an event is an object like {{"at": 1.5, "caller": "hi"}}')
    kinds = [k for k in item if k in KINDS]
    if len(kinds) != 1:
        known = ", ".join(sorted(KINDS))
        raise _Bad(f"{where}: an event has exactly one of {known}")
    kind = kinds[0]
    at = item.get("at", 0)
    if not isinstance(at, int | float) or isinstance(at, bool) or not 0 <= at < math.inf:
        raise _Bad(f'{where}: "at" is seconds since the start, a number >= 0', "at")
    value = item[kind]
    if kind == "left":
        value = "caller" if value is True else value
        if value not in ("caller", "server"):
            raise _Bad(f'{where}: "left" is true (the caller left) or "server"', "left")
    elif kind == "ended":
        value = "bot" if value is True else value
        if value != "bot":
            raise _Bad(f'{where}: "ended" is "bot" (the bot ended the conversation)', "ended")
    elif not isinstance(value, str):
        raise _Bad(f"{where}: {kind!r} must be text", kind)
    elif kind in _OUTCOMES and value not in _OUTCOMES[kind]:
        known = ", ".join(_OUTCOMES[kind])
        raise _Bad(f"{where}: {kind!r} is one of {known}, not {value!r}", kind)
    result = None
    if kind == "webhook":
        result = {k: item[k] for k in ("status", "json", "error") if k in item}
    elif kind == "handoff" and ("uri" in item or "name" in item):  # the agent connected
        result = {k: str(item.get(k) or "") for k in ("uri", "name")}
    return Event(float(at), kind, str(value), result)


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _Bad(f"{key!r} must be text", key)


def _strings(value: Any, key: str) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise _Bad(f"{key!r} must be a list of names", key)


def _time(value: Any, key: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise _Bad(f"{key!r} must be an ISO-8601 time like 2026-01-05T09:00:00Z", key)


# -- the export format ----------------------------------------------------------------------


def from_export(
    conversation: Mapping[str, Any], entries: list[dict[str, Any]], source: str
) -> Recording:
    """The recording of one exported conversation (its ``conversation`` line and its
    ``entry`` lines)."""
    started = _time(conversation.get("created_at"), "created_at")
    origin = started.timestamp() if started is not None else None
    events: list[Event] = []
    assigned: set[str] = set()
    if any(not isinstance(e.get("seq", 0), int) for e in entries):
        raise _Bad('an entry\'s "seq" must be a whole number', "seq")
    bridged = False  # between bridge_connected and its end: messages a handoff relayed
    for entry in sorted(entries, key=lambda e: e.get("seq", 0)):
        data = _mapping(entry.get("data")) or {}
        kind = entry.get("kind")
        if kind in ("bridge_connected", "bridge_done", "bridge_ended"):
            bridged = kind == "bridge_connected"
            handoffs = [i for i, e in enumerate(events) if e.kind == "handoff"]
            if bridged and handoffs:  # the `connected` before it: who (agent.uri, agent.name)
                agent = {"uri": str(data.get("agent", "")), "name": str(data.get("name", ""))}
                last = events[handoffs[-1]]
                events[handoffs[-1]] = Event(last.at, "handoff", last.text, agent)
        if bridged and kind in ("message_in", "message_out"):
            continue
        at_time = _time(entry.get("at"), "at")
        moment = at_time.timestamp() if at_time is not None else None
        if origin is None and moment is not None:
            origin = moment
        at = round(max(0.0, (moment or 0.0) - (origin or 0.0)), 3)
        event = _entry_event(entry.get("kind"), data, at)
        if event is not None:
            events.append(event)
        if entry.get("kind") == "variable" and isinstance(data.get("name"), str):
            assigned.add(data["name"])
    variables = conversation.get("variables")
    variables = variables if isinstance(variables, dict) else None
    start = {k: v for k, v in (variables or {}).items() if k not in assigned}
    href = str(conversation.get("conversation") or source)
    return Recording(
        id=short_id(href),
        source=source,
        events=tuple(events),
        caller_uri=_text(conversation, "caller_uri"),
        caller_name=_text(conversation, "caller_name"),
        subject=_text(conversation, "subject"),
        flow=_text(conversation, "flow"),
        flow_version=_text(conversation, "flow_version"),
        started=started,
        start_variables=start,
        variables=variables,
        declined=isinstance(conversation.get("declined"), Mapping),
    )


def _entry_event(kind: Any, data: Mapping[str, Any], at: float) -> Event | None:
    if kind == "message_in" and isinstance(data.get("text"), str):
        return Event(at, "caller", data["text"])
    if kind == "message_out":
        text = data.get("text") if data.get("text") is not None else data.get("html")
        return Event(at, "bot", str(text or ""))
    if kind == "state":
        name = data.get("state", data.get("to"))
        return Event(at, "state", str(name)) if name else None
    if kind == "outcome" and data.get("action") in ("invite", "webhook", "handoff"):
        result = data.get("result")
        return Event(at, str(data["action"]), str(data.get("branch")), _mapping(result))
    if kind == "ended":
        by = _BY.get(str(data.get("reason")), "caller")
        if by != "bot":
            return Event(at, "left", by)
        # the runtime's endings (shutdown, a lost conversation) are no flow's doing
        return Event(at, "ended", "bot") if data.get("why", "stop") in _FLOW_ENDS else None
    return None


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, dict) else None


def recording_line(recording: Recording) -> dict[str, Any]:
    """``recording`` in the replay format (one JSON object: one line)."""
    line: dict[str, Any] = {"id": recording.id}
    for key, value in (
        ("caller", recording.caller_uri),
        ("caller_name", recording.caller_name),
        ("subject", recording.subject),
        ("flow", recording.flow),
        ("flow_version", recording.flow_version),
    ):
        if value is not None:
            line[key] = value
    if recording.started is not None:
        line["started"] = recording.started.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if recording.start_variables:
        line["vars"] = dict(recording.start_variables)
    events = []
    for event in recording.events:
        shown: Any = True if event.kind == "left" and event.text == "caller" else event.text
        item: dict[str, Any] = {"at": round(event.at, 3), event.kind: shown}
        item.update(event.result or {})
        events.append(item)
    line["events"] = events
    if recording.variables is not None:
        line["variables"] = dict(recording.variables)
    if recording.secrets:
        line["secrets"] = sorted(recording.secrets)
    if recording.declined:
        line["declined"] = True
    return line

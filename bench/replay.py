"""Replay rate: ``python -m bench.replay`` from the repository root.

Generates ``--conversations`` (default 3,000) recordings of the helpdesk flow
(``flows/helpdesk.flow.yaml``) in five kinds, cycled, each with its own caller, times and
employee ID:

1. a password reset: menu entry 1, an employee ID, the ticket webhook answers, "no";
2. hardware by keyword: a description, an ID, the webhook, "yes", an agent who accepts;
3. a message the menu does not understand, then an agent who declines, then the caller
   leaves;
4. the global ``stop`` command;
5. a silent caller: the 2-minute nudge, then the 5-minute close (timeouts on the clock).

The recordings are made the way a store records them: the caller's side is played once
against the flow and what the bot did (replies, states, the end, variables) is written
with it, in the replay format, to a JSON-lines file. Then, ``--runs`` times each:

* **unchanged**: ``read_recordings`` + ``replay`` of the whole file against the flow as it
  is (every conversation must come out unchanged: checked);
* **changed**: the same against the flow with its ticket reply reworded (exactly the
  conversations of kinds 1 and 2 must diverge: checked).

The time covers reading the file, replaying and comparing: what ``ucwa-flow replay`` does
between starting and printing (not the interpreter's start-up). Prints the median rate in
conversations per second and the spread, and one JSON object with every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.replay import (
    Compare,
    Event,
    Recording,
    play,
    read_recordings,
    recording_line,
    replay,
)
from ucwa_flow.runtime import FlowMachine
from ucwa_flow.runtime import trace as t

ROOT = Path(__file__).resolve().parent.parent
HELPDESK = ROOT / "flows" / "helpdesk.flow.yaml"
TICKET = "Ticket {{ ticket.id }} is open."


def inputs(n: int) -> list[Event]:
    """The caller's side (and the outcomes) of generated conversation ``n``."""
    kind = n % 5
    employee = f"E{n % 1_000_000:06d}"
    ticket = {"id": f"T-{n}", "status": "new"}
    if kind == 0:
        return [
            Event(0, "caller", "hello"),
            Event(6, "caller", "1"),
            Event(15, "caller", employee),
            Event(16, "webhook", "success", {"status": 201, "json": ticket}),
            Event(25, "caller", "no"),
        ]
    if kind == 1:
        return [
            Event(0, "caller", "hi"),
            Event(5, "caller", "laptop"),
            Event(20, "caller", f"the screen of laptop {n} flickers"),
            Event(30, "caller", employee),
            Event(31, "webhook", "success", {"status": 201, "json": ticket}),
            Event(40, "caller", "yes"),
            Event(45, "caller", "4"),
            Event(70, "invite", "accepted"),
        ]
    if kind == 2:
        return [
            Event(0, "caller", "hello"),
            Event(4, "caller", "what?"),
            Event(9, "caller", "4"),
            Event(60, "invite", "declined"),
            Event(80, "left", "caller"),
        ]
    if kind == 3:
        return [Event(0, "caller", "hello"), Event(3, "caller", "stop")]
    return [Event(0, "caller", "hello"), Event(301, "left", "caller")]


async def record(flow: Flow, count: int) -> list[Recording]:
    """``count`` recordings, with what the flow did as their recorded outputs."""
    machine = FlowMachine(flow)
    found = []
    for n in range(count):
        given = Recording(
            id=f"gen{n}",
            source="generated",
            events=tuple(inputs(n)),
            caller_uri=f"sip:caller{n}@contoso.com",
            caller_name=f"Caller {n}",
            flow=flow.name,
        )
        played = await play(flow, machine, given)
        outputs = []
        for record in played.traces:
            at = record.at
            if isinstance(record, t.MessageOut):
                outputs.append(Event(at, "bot", record.text))
            elif isinstance(record, t.StateEntered):
                outputs.append(Event(at, "state", record.state))
            elif isinstance(record, t.Ended) and record.by == "bot":
                outputs.append(Event(at, "ended", "bot"))
        events = sorted([*given.events, *outputs], key=lambda e: e.at)  # stable: inputs first
        found.append(
            Recording(
                id=given.id,
                source=given.source,
                events=tuple(events),
                caller_uri=given.caller_uri,
                caller_name=given.caller_name,
                flow=flow.name,
                variables=played.variables,
            )
        )
    return found


async def timed(flow: Flow, path: Path) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    results = await replay(flow, read_recordings(path), Compare())
    return time.perf_counter() - started, results


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replay")
    parser.add_argument("--conversations", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    flow = load_flow(HELPDESK).raise_for_errors()
    with tempfile.TemporaryDirectory() as folder:
        changed_file = Path(folder) / "helpdesk.flow.yaml"
        text = HELPDESK.read_text(encoding="utf-8")
        changed_file.write_text(text.replace(TICKET, "Ticket {{ ticket.id }} is now open."))
        changed = load_flow(changed_file).raise_for_errors()
        path = Path(folder) / "recordings.jsonl"
        recordings = await record(flow, args.conversations)
        with path.open("w", encoding="utf-8") as out:
            for recording in recordings:
                out.write(json.dumps(recording_line(recording)) + "\n")
        rates: dict[str, list[float]] = {"unchanged": [], "changed": []}
        for _ in range(args.runs):
            for name, target in (("unchanged", flow), ("changed", changed)):
                seconds, results = await timed(target, path)
                diverged = {r.recording.id for r in results if r.diverged}
                expected = (
                    set()
                    if name == "unchanged"
                    else {r.id for i, r in enumerate(recordings) if i % 5 in (0, 1)}
                )
                assert diverged == expected, f"{name}: {len(diverged)} diverged"
                rates[name].append(len(results) / seconds)
        size = path.stat().st_size
    print(f"{args.conversations} recordings ({size / 1e6:.1f} MB of JSON lines)")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:<10} {median:>8.0f} conversations/s  ({min(values):.0f}-{max(values):.0f})")
    print(json.dumps({"conversations": args.conversations, "bytes": size, "rates": rates}))


if __name__ == "__main__":
    asyncio.run(main())

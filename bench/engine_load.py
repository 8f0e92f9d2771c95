"""Engine only, no HTTP: (c) records per second and (d) memory per idle conversation.

    python -m bench.engine_load [CONVERSATIONS] [ROUNDS] [SINK]

Feeds an :class:`~ucwa_flow.runtime.Engine` running ``flows/echo.flow.yaml`` with decoded
event batches for CONVERSATIONS (default 10,000) live conversations, through a port that
does no I/O and only counts what it is asked (the engine's UCWA side is the one thing
left out, on purpose). The batches are the Microsoft "Receive an IM" samples
(``tests/fixtures/events/msdocs_ReceiveAnIM_08/15/16.json``: the invitation, the
accept-time events, an incoming message) with the conversation, invitation and message
hrefs made unique per conversation, JSON-parsed and decoded with
:func:`~ucwa_flow.ucwa.events.decode_batch` *before* the clock starts.

1. Set-up, under :mod:`tracemalloc`: every conversation is invited, accepted, connected
   and greeted; then it sits idle in the flow's ``echo`` state with its idle timer
   pending. (d) = traced bytes still allocated after ``gc.collect()``, less the baseline
   taken before the first conversation, divided by CONVERSATIONS.
2. Throughput, without tracemalloc: ROUNDS (default 3) rounds of one incoming-message
   batch per conversation, handed over one at a time as a channel would. ``CHUNK``
   batches are decoded ahead (not timed); the timer then covers, as a whole,
   ``Engine.handle`` for each of them plus the event-loop turn after each (as the
   channel's iterator gives one), and ``await engine.idle()`` at the end of the chunk
   (every mailbox drained: the flow matched, rendered and "sent" each reply). The timer is
   read twice per chunk, not per batch, so that it does not time itself. (c) = records
   fed / timed seconds.

3. The yardstick, in the same process right after: :func:`raw_trigger`, the cost of one
   trigger of a stock ``transitions.Machine`` (two states, two triggers, no callbacks,
   ``TRIGGERS`` triggers on ``MODELS`` models in turns, median of ``REPEATS``), wall and CPU
   time. The engine's time per record over it is ``ratio_to_raw_trigger`` (target: at
   most 1.5): what the whole path (tracker, flow instance, template, outbox, event loop)
   costs per record, in units of the one ``transitions`` call a lifecycle step needs at
   least. CPU-time figures (``time.process_time``) sit beside the wall-clock ones: on a
   shared machine they move less.

   The same yardstick also runs *paired*: right after each timed chunk, ``PAIRED_ROUNDS``
   rounds of it (``2 * PAIRED_ROUNDS * MODELS`` triggers, about as long as the chunk) on a
   machine built before the clock starts. Each pair gives a ratio of two measurements taken
   a few milliseconds apart, so a machine whose speed drifts over the run (another tenant,
   frequency scaling) moves both sides of it alike; ``paired_ratio_to_raw_trigger`` is the
   median of those ratios (with ``paired_ratio_min``/``max``), and
   ``paired_cpu_ratio_to_raw_trigger`` its CPU-time twin. The one-off figure after the run
   stays for comparison with older results.

SINK (default ``none``) is the trace sink the engine is given, to price what one costs on
the hot path: ``none`` (the engine builds no trace record at all), ``noop`` (records built,
dropped), ``metrics`` (the ``serve`` metrics sink), ``live`` (a :class:`~ucwa_flow.live.LiveBoard`
attached to the engine, as ``serve``'s admin endpoint and ``run --review`` use), or
``metrics+live`` (both, as ``serve`` runs).

The counts the port saw are checked (a greeting and an echo of the invitation's
first message per conversation, then one echo per message), so a broken engine cannot
post a good number. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transitions import Machine

from bench._args import arguments, number
from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.runtime import Engine
from ucwa_flow.ucwa.events import EventBatch, MessagingEvent, decode_batch

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "events"
ECHO = ROOT / "flows" / "echo.flow.yaml"
CHUNK = 1_000  # batches decoded ahead of the timed part
MODELS = 1_000  # models of the raw transitions machine
TRIGGERS = 50_000  # triggers per measurement of it
REPEATS = 5
PAIRED_ROUNDS = 2  # rounds of the raw machine timed after each chunk


class Stopwatch:
    """Wall-clock and CPU (``time.process_time``) seconds summed over the stretches timed
    with ``with watch:``."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self._started = self._used = 0.0

    def __enter__(self) -> None:
        self._started, self._used = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._started
        self.cpu += time.process_time() - self._used


class CountingPort:
    """A :class:`~ucwa_flow.runtime.Port` that does no I/O; it counts each operation."""

    def __init__(self) -> None:
        self.accepted = 0
        self.sent = 0

    async def accept(self, accept_href: str) -> None:
        self.accepted += 1

    async def decline(self, decline_href: str) -> None:
        raise AssertionError("the echo flow declines nobody")

    async def send_message(
        self,
        send_message_href: str,
        text: str,
        html: str | None,
        *,
        operation_context: str | None = None,
    ) -> str:
        self.sent += 1
        return f"{send_message_href}/out{self.sent}"

    async def set_typing(self, set_is_typing_href: str) -> None:
        pass

    async def stop_messaging(self, stop_messaging_href: str) -> None:
        pass

    async def leave(self, conversation_href: str) -> None:
        pass

    async def start_messaging(
        self,
        to: str,
        *,
        subject: str | None,
        importance: str,
        message: str | None,
        operation_id: str,
    ) -> str:
        raise AssertionError("the echo flow starts no conversation")

    async def still_open(self, conversations: Sequence[str]) -> list[str]:
        raise AssertionError("the bench never loses track of its conversations")

    async def messaging_now(self, conversation: str) -> MessagingEvent | None:
        raise AssertionError("the bench never loses track of its conversations")


class Samples:
    """The three sample bodies as text, made unique per conversation on request."""

    def __init__(self) -> None:
        self._texts = [
            (FIXTURES / f"msdocs_ReceiveAnIM_{n}.json").read_text("utf-8")
            for n in ("08", "15", "16")
        ]

    def _text(self, text: str, conv: int, message: int = 2) -> str:
        text = text.replace("conversations/eee0", f"conversations/c{conv}")
        text = text.replace("messagingInvitations/6408", f"messagingInvitations/i{conv}")
        text = text.replace("messaging/messages/2", f"messaging/messages/m{message}")
        return text.replace("Hi+Tosh", f"Hi+Tosh+{message}")  # a new text each time

    def _unique(self, text: str, conv: int, message: int = 2) -> EventBatch:
        body: Any = json.loads(self._text(text, conv, message))
        return decode_batch(body)

    def set_up(self, conv: int) -> list[EventBatch]:
        """The invitation batch and the accept-time batch of conversation ``conv``."""
        return [self._unique(self._texts[0], conv), self._unique(self._texts[1], conv)]

    def message(self, conv: int, number: int) -> EventBatch:
        return self._unique(self._texts[2], conv, number)

    def message_body(self, conv: int, number: int) -> dict[str, Any]:
        """The event-channel body :meth:`message` decodes (parsed JSON)."""
        body: dict[str, Any] = json.loads(self._text(self._texts[2], conv, number))
        return body


def _echo() -> Flow:
    result = load_flow(ECHO)
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


SINKS = ("none", "noop", "metrics", "live", "metrics+live")


def _sink(kind: str) -> tuple[Any, Any]:
    """The trace sink ``kind`` names, and the live board in it (to attach), if any."""
    from ucwa_flow.live import LiveBoard
    from ucwa_flow.observe.metrics import Metrics

    if kind == "none":
        return None, None
    if kind == "noop":
        return (lambda record: None), None
    parts, board = [], None
    if "metrics" in kind:
        parts.append(Metrics().sink("bench", lambda href: "echo"))
    if "live" in kind:
        board = LiveBoard()
        parts.append(board)
    if len(parts) == 1:
        return parts[0], board
    first, second = parts

    def both(record: Any) -> None:
        first(record)
        second(record)

    return both, board


async def measure(conversations: int, rounds: int, sink_kind: str = "none") -> dict[str, Any]:
    samples, flow = Samples(), _echo()
    port = CountingPort()
    sink, board = _sink(sink_kind)
    engine = Engine(flow, port, ManualClock(), sink)
    if board is not None:
        board.attach(engine)
    # warm the lazy paths (template compilation, first-use imports) on one conversation
    for batch in [*samples.set_up(-1), samples.message(-1, 3)]:
        engine.handle(batch)
    await engine.idle()

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for conv in range(conversations):
        for batch in samples.set_up(conv):
            engine.handle(batch)
        if conv % 500 == 499:
            await engine.idle()  # as a live channel would: bounded work in flight
    await engine.idle()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    live = len(engine.instances) - 1
    assert live == conversations, f"{live} live conversations, expected {conversations}"
    # each: the greeting, then the echo of the invitation's first message
    assert port.sent == 2 * conversations + 3, f"{port.sent} messages sent in the set-up"

    # one batch at a time, as a channel hands them over (with the event-loop turn its
    # next() gives). CHUNK batches are decoded ahead, untimed; their handling is timed as
    # a whole, up to the engine's mailboxes drained: a timer read per batch would time
    # itself (``time.process_time`` is a system call, about 0.7 us, two per read).
    records = messages = 0
    watch = Stopwatch()
    yardstick = RawMachine()
    pairs: list[tuple[float, float]] = []  # (wall, CPU) ratio of each chunk to its yardstick
    sent_before = port.sent
    for r in range(rounds):
        for first in range(0, conversations, CHUNK):
            chunk = [
                samples.message(c, 10 + r) for c in range(first, min(first + CHUNK, conversations))
            ]
            fed = sum(len(batch.events) for batch in chunk)
            records += fed
            messages += len(chunk)
            wall, used = watch.wall, watch.cpu
            with watch:
                for batch in chunk:
                    engine.handle(batch)
                    await asyncio.sleep(0)  # the event loop turn a channel's next() gives
                await engine.idle()
            per_record = (watch.wall - wall) / fed
            cpu_per_record = (watch.cpu - used) / fed
            raw_wall, raw_cpu = yardstick.run(PAIRED_ROUNDS)
            pairs.append((per_record / raw_wall, cpu_per_record / raw_cpu))
            del chunk, batch
    elapsed, cpu = watch.wall, watch.cpu
    assert port.sent - sent_before == messages, f"{port.sent - sent_before} echoes"
    if board is not None:  # the board saw them all
        live = board.snapshot()["flows"]["echo"]["states"]
        assert live == {"echo": conversations + 1}, live
    raw = raw_trigger()
    per_record, cpu_per_record = elapsed / records, cpu / records
    return {
        "sink": sink_kind,
        "conversations": conversations,
        "bytes_per_idle_conversation": (after - before) / conversations,
        "records": records,
        "seconds": elapsed,
        "records_per_second": records / elapsed,
        "cpu_seconds": cpu,
        "records_per_cpu_second": records / cpu,
        "us_per_record": per_record * 1e6,
        "cpu_us_per_record": cpu_per_record * 1e6,
        "raw_trigger_us": raw["us"],
        "raw_trigger_cpu_us": raw["cpu_us"],
        "ratio_to_raw_trigger": per_record * 1e6 / raw["us"],
        "cpu_ratio_to_raw_trigger": cpu_per_record * 1e6 / raw["cpu_us"],
        "paired_ratio_to_raw_trigger": statistics.median(r for r, _ in pairs),
        "paired_ratio_min": min(r for r, _ in pairs),
        "paired_ratio_max": max(r for r, _ in pairs),
        "paired_cpu_ratio_to_raw_trigger": statistics.median(c for _, c in pairs),
        "pairs": len(pairs),
    }


class _Model:
    """A model of the raw machine (a plain object: the machine binds its triggers on it)."""


class RawMachine:
    """A stock ``transitions.Machine``: two states, a trigger each way, ``MODELS`` models
    added the stock way. :meth:`run` times ``rounds`` rounds of triggering every model
    there and back, and returns seconds per trigger (wall, CPU)."""

    def __init__(self) -> None:
        machine = Machine(
            model=None,
            states=["a", "b"],
            transitions=[
                {"trigger": "go", "source": "a", "dest": "b"},
                {"trigger": "back", "source": "b", "dest": "a"},
            ],
            initial="a",
            auto_transitions=False,
        )
        self.models = [_Model() for _ in range(MODELS)]
        machine.add_model(self.models)
        self.machine = machine

    def run(self, rounds: int) -> tuple[float, float]:
        models = self.models
        started, used = time.perf_counter(), time.process_time()
        for _ in range(rounds):
            for model in models:
                model.go()  # type: ignore[attr-defined]
            for model in models:
                model.back()  # type: ignore[attr-defined]
        wall, cpu = time.perf_counter() - started, time.process_time() - used
        assert all(model.state == "a" for model in models)  # type: ignore[attr-defined]
        triggers = rounds * 2 * len(models)
        return wall / triggers, cpu / triggers


def raw_trigger() -> dict[str, float]:
    """Microseconds per trigger of a :class:`RawMachine` (wall and CPU time, each the
    median of ``REPEATS`` measurements of ``TRIGGERS`` triggers)."""
    machine, rounds = RawMachine(), TRIGGERS // (2 * MODELS)
    walls, cpus = zip(*(machine.run(rounds) for _ in range(REPEATS)), strict=True)
    return {"us": statistics.median(walls) * 1e6, "cpu_us": statistics.median(cpus) * 1e6}


def main() -> None:
    args = arguments(__doc__)
    conversations = number(args, 0, "CONVERSATIONS", 10_000)
    rounds = number(args, 1, "ROUNDS", 3)
    sink = args[2] if len(args) > 2 else "none"
    if sink not in SINKS:
        sys.exit(f"unknown sink {sink!r}: one of {', '.join(SINKS)}")
    print(json.dumps(asyncio.run(measure(conversations, rounds, sink))))


if __name__ == "__main__":
    main()

"""The cost of a trace sink per record: the live board beside the metrics sink.

    python -m bench.live_sink [CONVERSATIONS] [ROUNDS] [REPEATS]

Runs the in-memory engine of :mod:`bench.engine_load` (``flows/echo.flow.yaml``, a port
that does no I/O) with a list as its sink: CONVERSATIONS (default 2,000) conversations are
invited, connected and greeted, then each says ROUNDS (default 5) more messages. The real
trace records it emitted are then fed, in order, to each sink in turn, a fresh one per
repeat (REPEATS, default 5): ``noop`` (a function that does nothing), ``metrics`` (the
``serve`` metrics sink), ``live`` (a :class:`~ucwa_flow.live.LiveBoard` whose lookup knows
the engine's instances) and ``metrics+live``. Prints one JSON object: per sink, the median
and the best nanoseconds per record over the repeats, and the records fed. The engine bench
(``python -m bench.engine_load N ROUNDS SINK``) gives the same comparison inside the engine.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench._args import arguments, number
from bench.engine_load import CountingPort, Samples, _echo
from ucwa_flow.clock import ManualClock
from ucwa_flow.live import LiveBoard
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.instance import FlowInstance


async def _records(conversations: int, rounds: int) -> tuple[list[t.Trace], dict[str, Any]]:
    samples = Samples()
    records: list[t.Trace] = []
    engine = Engine(_echo(), CountingPort(), ManualClock(), records.append)
    for conv in range(conversations):
        for batch in samples.set_up(conv):
            engine.handle(batch)
        if conv % 500 == 499:
            await engine.idle()
    await engine.idle()
    for r in range(rounds):
        for conv in range(conversations):
            engine.handle(samples.message(conv, 10 + r))
        await engine.idle()
    return records, dict(engine.instances)


def _sinks(instances: dict[str, FlowInstance]) -> dict[str, Callable[[], Callable[[Any], None]]]:
    def live() -> Callable[[Any], None]:
        board = LiveBoard()
        board.attach(instances.get)
        return board

    def metrics() -> Callable[[Any], None]:
        return Metrics().sink("bench", lambda href: "echo")

    def both() -> Callable[[Any], None]:
        first, second = metrics(), live()

        def sink(record: Any) -> None:
            first(record)
            second(record)

        return sink

    return {
        "noop": lambda: lambda record: None,
        "metrics": metrics,
        "live": live,
        "metrics+live": both,
    }


def main() -> None:
    args = arguments(__doc__)
    conversations = number(args, 0, "CONVERSATIONS", 2_000)
    rounds = number(args, 1, "ROUNDS", 5)
    repeats = number(args, 2, "REPEATS", 5)
    records, instances = asyncio.run(_records(conversations, rounds))
    timings: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, make in _sinks(instances).items():  # interleaved: noise hits all alike
            sink = make()
            started = time.perf_counter()
            for record in records:
                sink(record)
            elapsed = time.perf_counter() - started
            timings.setdefault(name, []).append(elapsed * 1e9 / len(records))
    result = {
        "records": len(records),
        "conversations": conversations,
        "ns_per_record": {
            name: {"median": round(statistics.median(ns)), "best": round(min(ns))}
            for name, ns in timings.items()
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

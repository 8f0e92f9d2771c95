"""The benchmark harness: ``python -m bench`` from the repository root.

Measures, in one run, ucwa-flow against a minimal hand-written httpx echo bot on the same
simulator (see ``docs/performance.md`` for the method and the recorded numbers):

a. reaction latency p50/p99, one conversation and ``--concurrent`` (1,000) at once;
b. sustained messages per second with ``--concurrent`` conversations;
c. engine only: decoded records per second with 10,000 live conversations;
d. memory per live idle conversation at 10,000 conversations;
e. whole-process time of ``ucwa-flow validate`` on a generated 1,000-line flow.

a and b are measured for three bots: ucwa-flow in memory, ucwa-flow durable
(``ucwa-flow+sqlite``: a conversation store in a fresh SQLite file, each event batch
committed before it is acknowledged) and the baseline. c is also measured durable
(``bench.engine_durable``, ``--durable-conversations`` conversations, one commit per event
batch of ``--durable-batch`` conversations) beside the in-memory engine at the same count.

Each of a/b is run ``--runs`` times per bot, alternating the order of the bots; c/d run
``--runs`` times in fresh processes; e ``--validate-runs`` times. The table shows the
median and the spread (min-max) of the per-run values and, for a and b, the ratios
in-memory/baseline, durable/in-memory and durable/baseline; all numbers go to
``bench/results/<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import load, validate_time

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
KINDS = ("ucwa-flow", "ucwa-flow+sqlite", "baseline")
#: the table's ratio columns: (header, numerator kind, denominator kind)
RATIOS = (
    ("mem/base", "ucwa-flow", "baseline"),
    ("dur/mem", "ucwa-flow+sqlite", "ucwa-flow"),
    ("dur/base", "ucwa-flow+sqlite", "baseline"),
)

#: (result key, table label, unit) of the rows with a baseline column
ROWS: list[tuple[str, str, str]] = [
    ("single_p50_ms", "a. latency p50, 1 conversation", "ms"),
    ("single_p99_ms", "a. latency p99, 1 conversation", "ms"),
    ("many_p50_ms", "a. latency p50, N conversations", "ms"),
    ("many_p99_ms", "a. latency p99, N conversations", "ms"),
    ("many_messages_per_second", "b. messages/s, N conversations", "msg/s"),
    ("bot_cpu_ms_per_message", "   bot CPU per message, N conv.", "ms"),
]


def spread(values: list[float]) -> dict[str, Any]:
    """Median and min-max of the runs that produced a number (NaN: no sample in a run)."""
    numbers = [v for v in values if not math.isnan(v)] or [math.nan]
    return {
        "median": statistics.median(numbers),
        "min": min(numbers),
        "max": max(numbers),
        "runs": values,
    }


def machine() -> dict[str, Any]:
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "free_h": free.strip(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }


def engine_runs(runs: int, conversations: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-m", "bench.engine_load", str(conversations)],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE.parent,
        )
        out.append(json.loads(done.stdout))
    return out


def durable_engine_runs(
    runs: int, conversations: int, sizes: tuple[int, ...]
) -> dict[str, list[dict[str, Any]]]:
    """``bench.engine_durable`` per batch size, and ``bench.engine_load`` at the same
    number of conversations (the in-memory number to compare with), alternating."""
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in ["memory", *map(str, sizes)]}
    for run in range(runs):
        jobs = [("memory", ["bench.engine_load", str(conversations)])]
        jobs += [(str(n), ["bench.engine_durable", str(conversations), "3", str(n)]) for n in sizes]
        for key, argv in jobs if run % 2 == 0 else jobs[::-1]:
            done = subprocess.run(
                [sys.executable, "-m", *argv],
                capture_output=True,
                text=True,
                check=True,
                cwd=HERE.parent,
            )
            out[key].append(json.loads(done.stdout))
    return out


def fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def cell(value: dict[str, Any], unit: str) -> str:
    return f"{fmt(value['median'])} [{fmt(value['min'])}-{fmt(value['max'])}] {unit}"


def table(
    http: dict[str, dict[str, Any]],
    engine: dict[str, Any],
    durable_engine: dict[str, Any] | None,
    validate: dict[str, Any],
    concurrent: int,
    conversations: int,
) -> str:
    heads = "".join(f" {name:>24}" for name in KINDS) + "".join(f" {h:>8}" for h, _, _ in RATIOS)
    lines = [f"{'measure':34}{heads}", "-" * (34 + 25 * len(KINDS) + 9 * len(RATIOS))]
    for key, label, unit in ROWS:
        cells = "".join(f" {cell(http[kind][key], unit):>24}" for kind in KINDS)
        for _, top, bottom in RATIOS:
            over = http[bottom][key]["median"]
            ratio = http[top][key]["median"] / over if over else float("nan")
            cells += f" {ratio:8.2f}"
        lines.append(f"{label.replace('N', f'{concurrent:,}'):34}{cells}")
    engine_label = f"c. engine records/s, {conversations:,} conv."
    rows = [(engine_label, "rec/s", engine["records_per_second"])]
    if durable_engine is not None:
        memory = durable_engine["memory"]
        count = memory["conversations"]["median"]
        rows.append(
            (f"c. engine records/s, {count:,.0f} conv.", "rec/s", memory["records_per_second"])
        )
        for size, result in durable_engine.items():
            if size == "memory":
                continue
            label = f"   +sqlite, {size} conv. per batch"
            rows.append((label, "rec/s", result["records_per_second"]))
    rows += [
        ("d. bytes per idle conversation", "B", engine["bytes_per_idle_conversation"]),
        ("e. validate, 1,000-line flow", "s", validate["seconds"]),
    ]
    for label, unit, value in rows:
        lines.append(f"{label:34} {cell(value, unit):>24}")
    return "\n".join(lines)


async def http_runs(runs: int, concurrent: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for run in range(runs):
        order = KINDS if run % 2 == 0 else KINDS[::-1]
        for kind in order:
            result = await load.measure_bot(kind, concurrent)
            out[kind].append(result)
            print(
                f"  run {run + 1}/{runs} {kind}: "
                + ", ".join(f"{k}={fmt(v)}" for k, v in result.items()),
                file=sys.stderr,
                flush=True,
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--concurrent", type=int, default=load.CONCURRENT)
    parser.add_argument("--window", type=float, default=load.WINDOW, help="seconds measured")
    parser.add_argument("--engine-conversations", type=int, default=10_000)
    parser.add_argument("--validate-runs", type=int, default=7)
    parser.add_argument(
        "--durable-conversations",
        type=int,
        default=1_000,
        help="conversations of the durable engine-only runs (0: skip them)",
    )
    parser.add_argument(
        "--durable-batch",
        type=int,
        nargs="+",
        default=[1, 50],
        help="conversations per event batch (one commit each) in the durable engine-only runs",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON file (default results/<date>.json)"
    )
    args = parser.parse_args()
    load.WINDOW = args.window

    info = machine()
    print(
        f"bench: {info['nproc']} cores, Python {info['python']}, load {info['loadavg_at_start']}",
        file=sys.stderr,
    )
    print("a/b: simulator + callers here, each bot in its own process ...", file=sys.stderr)
    raw_http = asyncio.run(http_runs(args.runs, args.concurrent))
    http = {
        kind: {key: spread([r[key] for r in results]) for key in results[0]}
        for kind, results in raw_http.items()
    }
    print("c/d: engine only ...", file=sys.stderr)
    raw_engine = engine_runs(args.runs, args.engine_conversations)
    engine = {key: spread([r[key] for r in raw_engine]) for key in raw_engine[0]}
    durable_engine = None
    if args.durable_conversations > 0:
        print("c: engine only, durable (SQLite) and in-memory ...", file=sys.stderr)
        raw_durable = durable_engine_runs(
            args.runs, args.durable_conversations, tuple(args.durable_batch)
        )
        durable_engine = {
            kind: {key: spread([r[key] for r in results]) for key in results[0]}
            for kind, results in raw_durable.items()
        }
    print("e: validate ...", file=sys.stderr)
    lines, timings = validate_time.measure(args.validate_runs)
    validate = {"flow_lines": lines, "seconds": spread(timings)}

    info["loadavg_at_end"] = os.getloadavg()
    result = {
        "machine": info,
        "settings": vars(args) | {"out": None},
        "http": http,
        "engine": engine,
        "engine_durable": durable_engine,
        "validate": validate,
    }
    out = args.out or RESULTS / f"{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", "utf-8")
    print(table(http, engine, durable_engine, validate, args.concurrent, args.engine_conversations))
    print(f"load average at the end: {info['loadavg_at_end']}", file=sys.stderr)
    print(f"numbers written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

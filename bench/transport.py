"""Transport settings, paired: the bots' CPU per handled message under the same load.

    python -m bench.transport [--runs N] [--concurrent 1 100 1000] -- SPEC SPEC ...

A SPEC is ``label=kind[,pool=N][,keepalive=N][,root=PATH]``: one of ``bench.load``'s bot
kinds (``ucwa-flow``, ``ucwa-flow+sqlite``, ``baseline``), the requests in flight and
connections it may keep (``UCWA_BENCH_POOL``, read by both bots; 16 when not given, the
``UcwaClient`` default), the idle connections it keeps alive (``UCWA_BENCH_KEEPALIVE``,
default: the pool) and the checkout whose code it runs (``UCWA_BENCH_ROOT``; default this
one; ``root=/work/main`` runs the code of another worktree against this bench).

For each number of concurrent conversations, every round measures every SPEC once
(``bench.load.measure_levels`` at one level: a fresh simulator and bot process, ``WARMUP``
s of closed-loop load, then the ``WINDOW``-second window in slices), the SPECs' order rotating from
round to round. Prints per SPEC the median and spread of the bot's CPU per message
(process CPU time from ``/proc`` inside the window: steadier than wall time on a loaded
machine) and of messages/s, and the ratio of each SPEC to the first one per round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from dataclasses import dataclass, field
from typing import Any

from bench import load

ENV = {"pool": "UCWA_BENCH_POOL", "keepalive": "UCWA_BENCH_KEEPALIVE", "root": "UCWA_BENCH_ROOT"}


@dataclass
class Spec:
    label: str
    kind: str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Spec:
        label, _, rest = text.partition("=")
        kind, *options = rest.split(",")
        if kind not in load.BOTS:
            raise SystemExit(f"{text}: unknown bot kind {kind!r} (one of {', '.join(load.BOTS)})")
        env = {}
        for option in options:
            key, _, value = option.partition("=")
            if key not in ENV:
                raise SystemExit(f"{text}: unknown option {key!r} (one of {', '.join(ENV)})")
            env[ENV[key]] = value
        return cls(label, kind, env)


def medians(level: dict[str, Any]) -> dict[str, float]:
    """One level of ``load.measure_levels`` as the medians of its slices' CPU ms per
    message, messages/s and p50 (slices without a sample left out; NaN-free: a figure
    with no sample at all is reported as 0), and the replies lost."""

    def median(key: str) -> float:
        values = [v for v in level["slices"][key] if v is not None]
        return statistics.median(values) if values else 0.0

    return {
        "cpu_ms_per_message": median("cpu_ms_per_message"),
        "messages_per_second": median("messages_per_second"),
        "p50_ms": median("p50_ms"),
        "lost": float(level["lost"]),
    }


async def measure(spec: Spec, concurrent: int) -> dict[str, float]:
    saved = {name: os.environ.get(name) for name in ENV.values()}
    os.environ.update(spec.env)
    try:
        (level,) = await load.measure_levels(spec.kind, [concurrent], load.Timing())
        return medians(level)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def median_spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


async def main_async(specs: list[Spec], runs: int, counts: list[int]) -> None:
    for concurrent in counts:
        cpu: dict[str, list[float]] = {s.label: [] for s in specs}
        rate: dict[str, list[float]] = {s.label: [] for s in specs}
        ratio: dict[str, list[float]] = {s.label: [] for s in specs}
        for run in range(runs):
            shift = run % len(specs)
            order = specs[shift:] + specs[:shift]
            got = {}
            for spec in order:
                result = await measure(spec, concurrent)
                got[spec.label] = result["cpu_ms_per_message"]
                cpu[spec.label].append(got[spec.label])
                rate[spec.label].append(result["messages_per_second"])
                print(
                    f"  {concurrent:>5} conv, round {run + 1}, {spec.label}: "
                    f"{got[spec.label]:.3f} ms CPU/msg, "
                    f"{result['messages_per_second']:.0f} msg/s, "
                    f"p50 {result['p50_ms']:.1f} ms, lost {result['lost']:.0f}, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            first = got[specs[0].label]
            for spec in specs:
                ratio[spec.label].append(got[spec.label] / first)
        print(f"{concurrent} conversations, {runs} rounds:")
        for spec in specs:
            print(
                f"  {spec.label:<24} CPU/msg {median_spread(cpu[spec.label])} ms, "
                f"msg/s {median_spread(rate[spec.label])}, "
                f"ratio to {specs[0].label} {median_spread(ratio[spec.label])}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.transport")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrent", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("specs", nargs="+", type=Spec.parse)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    asyncio.run(main_async(args.specs, args.runs, args.concurrent))


if __name__ == "__main__":
    main()

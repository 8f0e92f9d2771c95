"""The benchmark harness: ``python -m bench`` from the repository root.

    python -m bench [--quick | --scale] [options]     measure; print tables; write JSON
    python -m bench compare OLD.json NEW.json         what changed between two results
    python -m bench table RESULT.json [--markdown]    a results file's tables again

Measures ucwa-flow against a minimal hand-written httpx echo bot on the same simulator
(see ``docs/performance.md`` for the method and the recorded numbers). Over HTTP, per bot
(``ucwa-flow`` in memory, ``ucwa-flow+sqlite`` durable, ``baseline``) and per number of
concurrent conversations (``--levels``, 1, 100 and 1,000 by default; ``--scale``: 1 to
10,000): the bot's CPU per message (the headline: far steadier than messages per second
on a shared machine), its ratio to the baseline's, the callers' latency p50/p99, messages
per second and the bot's resident memory. Then the engine alone (records per second,
bytes per idle conversation; ``bench.engine_load`` and ``bench.engine_durable``) and the
whole-process time of ``ucwa-flow validate`` on a 1,000-line flow (``bench.validate_time``).

Every figure is a median with its spread (the quartiles in the tables; min, max and the
samples in the JSON), made of the slices of every run's measuring windows (over HTTP) or
of the runs (the rest); a figure with no sample is reported missing, with the reason.
Bots alternate their order from run to run. The JSON (``--out``, by default
``bench/results/<date>-<mode>.json``) has the machine and the settings beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import compare, load, report, validate_time
from bench.figures import Figure, cell, dump, figure, ratio
from bench.window import MISSING

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
KINDS = ("ucwa-flow", "ucwa-flow+sqlite", "baseline")
SCHEMA = "ucwa-flow-bench/1"
#: per mode: levels, runs, timing and the sizes of the other parts (0: skipped)
MODES: dict[str, dict[str, Any]] = {
    "full": {
        "levels": [1, 100, 1_000],
        "runs": 3,
        "timing": load.Timing(warmup=1.0, window=8.0, slices=4, active=1_000),
        "bots": list(KINDS),
        "engine_conversations": 10_000,
        "engine_runs": 3,
        "durable_conversations": 1_000,
        "validate_runs": 7,
    },
    "quick": {
        "levels": [1, 100, 1_000],
        "runs": 1,
        "timing": load.Timing(
            warmup=0.3, window=2.0, slices=4, active=100, start_batch=1_000, settle=0.5
        ),
        "bots": ["ucwa-flow", "baseline"],
        # the engine-only parts and validate start fresh processes: 10-30 s on a loaded
        # machine; --engine-runs N / --validate-runs N add them
        "engine_conversations": 1_000,
        "engine_runs": 0,
        "durable_conversations": 0,
        "validate_runs": 0,
    },
    "scale": {
        "levels": [1, 10, 100, 1_000, 10_000],
        "runs": 1,
        "timing": load.Timing(
            warmup=1.0, window=5.0, slices=5, active=1_000, reply_timeout=120.0, start_batch=1_000
        ),
        "bots": ["ucwa-flow", "baseline"],
        "engine_conversations": 0,
        "engine_runs": 0,
        "durable_conversations": 0,
        "validate_runs": 0,
    },
}


def machine() -> dict[str, Any]:
    """What the numbers were taken on."""
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    git = ["git", "-C", str(HERE.parent)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": model,
        "nproc": os.cpu_count(),
        "memory_bytes": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else ""),
        "loadavg_at_start": list(os.getloadavg()),
    }


class LoadSampler(threading.Thread):
    """The 1-minute load average every ``every`` seconds while the bench runs."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.samples, self.done = every, [os.getloadavg()[0]], threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float]:
        self.done.set()
        return {
            "min": min(self.samples),
            "median": statistics.median(self.samples),
            "max": max(self.samples),
        }


def http_figures(raw: dict[str, list[list[dict[str, Any]]]]) -> dict[str, Figure]:
    """``http.<bot>.<conversations>.<measure>`` from every run's levels, and the ratios
    ``ratio.<bot>/<other>.<conversations>.<measure>``."""
    out: dict[str, Figure] = {}
    units = {
        "p50_ms": "ms",
        "p99_ms": "ms",
        "messages_per_second": "msg/s",
        "cpu_ms_per_message": "ms",
        "other_cores": "cores",
    }
    for kind, runs in raw.items():
        for index in range(len(runs[0])):
            levels = [run[index] for run in runs]
            n = levels[0]["conversations"]
            for key, unit in units.items():
                values = [v for level in levels for v in level["slices"][key]]
                out[f"http.{kind}.{n}.{key}"] = figure(values, unit, MISSING[key])
            rss = [level["rss_bytes"] / 2**20 for level in levels]
            out[f"http.{kind}.{n}.rss_mb"] = figure(rss, "MB")
            # per conversation added since the first level (whose own growth is mostly
            # the bot's first-use allocations, not a conversation's)
            firsts = [run[0] for run in runs]
            added = n - firsts[0]["conversations"]
            grown = [
                (lv["rss_bytes"] - first["rss_bytes"]) / added / 1024 if added else None
                for lv, first in zip(levels, firsts, strict=True)
            ]
            out[f"http.{kind}.{n}.kb_per_conversation"] = figure(
                grown, "KB", "the first level: growth per conversation is from the next level on"
            )
            lost = sum(level["lost"] for level in levels)
            sent = sum(level["sent"] for level in levels)
            out[f"http.{kind}.{n}.talk"] = {
                "unit": "messages",
                "active": levels[0]["active"],
                "sent": sent,
                "lost": lost,
            }
    pairs = [(k, "baseline") for k in raw if k != "baseline"]
    if "ucwa-flow+sqlite" in raw and "ucwa-flow" in raw:
        pairs.append(("ucwa-flow+sqlite", "ucwa-flow"))
    for top, bottom in pairs:
        if bottom not in raw:
            continue
        for key in list(out):
            prefix = f"http.{top}."
            if key.startswith(prefix) and not key.endswith((".talk", "rss_mb", "other_cores")):
                rest = key[len(prefix) :]
                other = out.get(f"http.{bottom}.{rest}")
                if other is not None:
                    out[f"ratio.{top}/{bottom}.{rest}"] = ratio(out[key], other)
    return out


def run_module(argv: list[str], failures: list[str]) -> dict[str, Any]:
    """``python -m ARGV`` in a fresh process: its JSON, or ``{}`` with the failure noted."""
    done = subprocess.run(
        [sys.executable, "-m", *argv], capture_output=True, text=True, check=False, cwd=HERE.parent
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        failures.append(f"{' '.join(argv)} exited with {done.returncode} {last}".strip())
        print(f"  {failures[-1]}", file=sys.stderr, flush=True)
        return {}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def engine_figures(settings: dict[str, Any]) -> dict[str, Figure]:
    """c/d: the engine alone, in memory and (``durable_conversations``) with SQLite, a
    fresh process per run, alternating. A run that fails leaves a sample out (its figure
    says why, or is missing with the reason when no run succeeded)."""
    out: dict[str, Figure] = {}
    failures: list[str] = []

    def why() -> str:
        return "; ".join(failures) or "no sample"

    runs, n = settings["engine_runs"], settings["engine_conversations"]
    if runs and n:
        results = [run_module(["bench.engine_load", str(n)], failures) for _ in range(runs)]
        out[f"engine.{n}.records_per_second"] = figure(
            [r.get("records_per_second") for r in results], "rec/s", why()
        )
        out[f"engine.{n}.bytes_per_idle_conversation"] = figure(
            [r.get("bytes_per_idle_conversation") for r in results], "B", why()
        )
        out[f"engine.{n}.ratio_to_raw_trigger"] = figure(
            [r.get("paired_ratio_to_raw_trigger") for r in results], "x", why()
        )
    durable = settings["durable_conversations"]
    if runs and durable:
        failures.clear()
        jobs = [("memory", ["bench.engine_load", str(durable)])]
        jobs += [
            (f"batch{b}", ["bench.engine_durable", str(durable), "3", str(b)])
            for b in settings["durable_batch"]
        ]
        seen: dict[str, list[float | None]] = {name: [] for name, _ in jobs}
        for run in range(runs):
            for name, argv in jobs if run % 2 == 0 else jobs[::-1]:
                seen[name].append(run_module(argv, failures).get("records_per_second"))
        for name, values in seen.items():
            key = f"engine_durable.{durable}.{name}.records_per_second"
            out[key] = figure(values, "rec/s", why())
    if settings["validate_runs"]:
        try:
            lines, timings = validate_time.measure(settings["validate_runs"])
        except subprocess.CalledProcessError as error:
            out["validate.seconds"] = figure([], "s", f"ucwa-flow validate failed: {error}")
        else:
            out["validate.seconds"] = figure(timings, "s") | {"flow_lines": lines}
    return out


async def http_runs(settings: dict[str, Any]) -> dict[str, list[list[dict[str, Any]]]]:
    timing: load.Timing = settings["timing"]
    bots: list[str] = settings["bots"]
    out: dict[str, list[list[dict[str, Any]]]] = {kind: [] for kind in bots}

    def progress(kind: str, level: dict[str, Any]) -> None:
        slices = level["slices"]
        shown = {k: figure(v, "") for k, v in slices.items()}
        print(
            f"  {kind} {level['conversations']:,} conv.: "
            + ", ".join(f"{k}={cell(v)}" for k, v in shown.items())
            + f", lost {level['lost']}, RSS {level['rss_bytes'] / 2**20:.0f} MB"
            + f" ({level['connect_seconds']:.1f} s to connect, {level['load_seconds']:.1f} s load)",
            file=sys.stderr,
            flush=True,
        )

    began = time.monotonic()
    for run in range(settings["runs"]):
        print(f"run {run + 1}/{settings['runs']}", file=sys.stderr, flush=True)
        for kind in bots if run % 2 == 0 else bots[::-1]:
            print(f"  {kind} starts at {time.monotonic() - began:.1f} s", file=sys.stderr)
            out[kind].append(await load.measure_levels(kind, settings["levels"], timing, progress))
    return out


def parse(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n")[0],
        epilog="also: python -m bench compare OLD.json NEW.json; "
        "python -m bench table RESULT.json [--markdown]",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a short run for development")
    mode.add_argument("--scale", action="store_true", help="1 to 10,000 conversations + plot")
    parser.add_argument("--runs", type=int, help="runs per bot")
    parser.add_argument("--levels", type=int, nargs="+", help="numbers of conversations")
    parser.add_argument("--bots", nargs="+", choices=KINDS, help="the bots over HTTP")
    parser.add_argument("--warmup", type=float, help="seconds of load before each window")
    parser.add_argument("--window", type=float, help="seconds measured per level")
    parser.add_argument("--slices", type=int, help="slices per window (the samples)")
    parser.add_argument("--start-batch", type=int, help="conversations opened at once")
    parser.add_argument("--active", type=int, help="conversations talking at most at once")
    parser.add_argument("--engine-conversations", type=int, help="engine only (0: skip)")
    parser.add_argument("--engine-runs", type=int, help="runs of the engine-only parts")
    parser.add_argument("--durable-conversations", type=int, help="durable engine (0: skip)")
    parser.add_argument("--durable-batch", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--validate-runs", type=int, help="runs of validate (0: skip)")
    parser.add_argument("--out", type=Path, help="the results JSON")
    parser.add_argument("--plot", type=Path, help="the scale curve's PNG (needs matplotlib)")
    args = vars(parser.parse_args(argv))
    name = "quick" if args.pop("quick") else "scale" if args.pop("scale") else "full"
    settings = dict(MODES[name]) | {"mode": name}
    for key, value in args.items():
        if (value is not None and key in settings) or key in ("durable_batch", "out", "plot"):
            settings[key] = value
    overrides = {k: args[k] for k in ("warmup", "window", "slices", "start_batch", "active")}
    given = {k: v for k, v in overrides.items() if v is not None}
    settings["timing"] = dataclasses.replace(settings["timing"], **given)
    settings["levels"] = sorted(set(settings["levels"]))
    return settings


def show(argv: list[str]) -> int:
    """``python -m bench table RESULT.json [--markdown]``: a results file's tables again."""
    files = [a for a in argv if a != "--markdown"]
    if len(files) != 1:
        print("usage: python -m bench table RESULT.json [--markdown]")
        return 2
    print(report.tables(compare.read(Path(files[0])), markdown="--markdown" in argv))
    return 0


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:
        sys.exit(compare.main(argv[1:]))
    if argv[:1] == ["table"]:
        sys.exit(show(argv[1:]))
    settings = parse(argv)
    started = time.monotonic()
    info = machine()
    sampler = LoadSampler()
    sampler.start()
    print(
        f"bench ({settings['mode']}): {info['nproc']} cores, Python {info['python']}, "
        f"load {info['loadavg_at_start'][0]:.2f}",
        file=sys.stderr,
    )
    timing: load.Timing = settings["timing"]
    figures: dict[str, Figure] = {}
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "machine": info,
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in settings.items() if k != "timing"
        }
        | {"timing": vars(timing)},
        "figures": figures,
        "raw_http": {},
    }
    stamp = dt.datetime.now().strftime("%Y-%m-%dT%H%M")
    out = settings.get("out") or RESULTS / f"{stamp}-{settings['mode']}.json"
    if settings["bots"] and settings["levels"]:
        result["raw_http"] = asyncio.run(http_runs(settings))
        figures |= http_figures(result["raw_http"])
        dump(result | {"partial": "the HTTP part only (written before the rest ran)"}, out)
    figures |= engine_figures(settings)
    info["loadavg_at_end"] = list(os.getloadavg())
    info["load_during"] = sampler.summary()
    info["seconds"] = round(time.monotonic() - started, 1)
    dump(result, out)
    print(report.tables(result))
    if settings["mode"] == "scale" or settings.get("plot"):
        from bench import plot

        path = settings.get("plot") or out.with_suffix(".png")
        plot.scale(result, path)
        print(f"scale curve plotted to {path}", file=sys.stderr)
    print(
        f"took {info['seconds']:.0f} s; load average during the run "
        f"{info['load_during']['min']:.1f}-{info['load_during']['max']:.1f} "
        f"(median {info['load_during']['median']:.1f}); numbers written to {out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

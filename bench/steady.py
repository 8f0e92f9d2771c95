"""Is the test suite steady under load? ``python -m bench.steady [--runs 5] [--burners N]``.

Runs the whole test suite ``--runs`` times in a row while ``--burners`` processes (default:
one per core) spin the CPU at 100 %, and prints each run's outcome and duration. A test
that passes on an idle machine and fails here depends on the machine's speed: it waits on
time instead of on a condition, or its real-time guard is too tight.

The burners are plain ``while True: pass`` interpreters, ended when the runs are over (or
on Ctrl-C). Arguments after ``--`` go to pytest. The whole output of a run that failed is
kept in ``bench/results/steady-run-N.log``. Exit status 0 only if every run passed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SUMMARY = re.compile(r"^=* ?(?P<counts>\d+ (?:passed|failed|error).*?) in [\d.]+s", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    number: int
    status: int
    seconds: float
    summary: str


def start_burners(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` processes that keep one core each busy until they are killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def stop_burners(burners: list[subprocess.Popen[bytes]]) -> None:
    for proc in burners:
        proc.kill()
    for proc in burners:
        proc.wait()


def run_suite(number: int, pytest_args: list[str]) -> Run:
    """One whole-suite run; its closing summary line and wall time."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    found = _SUMMARY.findall(done.stdout)
    summary = found[-1] if found else (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if done.returncode != 0:
        log = ROOT / "bench" / "results" / f"steady-run-{number}.log"
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
        summary += f" (output in {log.relative_to(ROOT)})"
        failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        summary += "".join(f"\n    {line}" for line in failed)
    return Run(number, done.returncode, seconds, summary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.steady", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="whole-suite runs (default 5)")
    parser.add_argument(
        "--burners",
        type=int,
        default=os.cpu_count() or 2,
        help="CPU-spinning processes beside the suite (default: one per core)",
    )
    args, pytest_args = parser.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    print(f"{args.runs} runs of the test suite beside {args.burners} busy processes", flush=True)
    burners = start_burners(args.burners)
    runs: list[Run] = []
    try:
        for number in range(1, args.runs + 1):
            run = run_suite(number, pytest_args)
            runs.append(run)
            verdict = "passed" if run.status == 0 else f"FAILED (exit {run.status})"
            print(f"run {number}: {verdict} in {run.seconds:.0f} s: {run.summary}", flush=True)
    finally:
        stop_burners(burners)
    good = sum(run.status == 0 for run in runs)
    slowest = max((run.seconds for run in runs), default=0.0)
    print(f"{good} of {len(runs)} runs passed; slowest {slowest:.0f} s")
    return 0 if good == len(runs) == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())

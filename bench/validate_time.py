"""(e) Whole-process time of ``ucwa-flow validate``: one 1,000-line flow, or a curve.

    python -m bench.validate_time [RUNS]           # the 1,000-line flow and helpdesk
    python -m bench.validate_time --curve [RUNS]   # 250 to 5,000 states

Generates a valid flow of about 1,000 lines (menu states with regex, choice and keyword
handlers, ladders, timeouts, webhooks and invites), runs ``python -m ucwa_flow validate -q``
on it once to warm the file cache and the ``.pyc`` files, then RUNS times (default 7) in
fresh processes. Each time is the wall clock (``time.perf_counter``) around
``subprocess.run``: interpreter start, imports, loading, schema and checks, exit; and the
child's CPU time (user + sys, from ``resource.getrusage(RUSAGE_CHILDREN)``), which is
steadier on a loaded machine. ``PYTHONDONTWRITEBYTECODE`` is removed from the child's
environment so that the warm-up run writes ``.pyc`` files, as an installed package has.

``--curve`` does the same for flows of 250, 500, 1,000, 2,000 and 5,000 compact states
(:func:`generate_compact`: about 190 bytes and 6 lines a state, so that 5,000 states stay
under the 1,000,000-byte limit of a flow file), to show how the time grows with the
flow's size. (Moved here from ``tests/flow/perf_validate.py``.)

``UCWA_BENCH_ROOT=/path/to/another/checkout`` runs that checkout's code (the child's
working directory and ``PYTHONPATH``), for paired old/new runs on a busy machine.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._args import arguments, number

CURVE = (250, 500, 1000, 2000, 5000)
HELPDESK = Path(__file__).resolve().parent.parent / "flows" / "helpdesk.flow.yaml"
#: the checkout whose code is run (``UCWA_BENCH_ROOT``; default this one)
ROOT = Path(os.environ.get("UCWA_BENCH_ROOT", Path(__file__).resolve().parent.parent))

STATE = """\
  s{i}:
    description: menu number {i}
    enter:
      - say:
          html: "<b>Menu {i}</b> for {{{{ caller.name }}}}"
          text: "Menu {i} for {{{{ caller.name }}}}"
      - typing
    messages:
      - match: '^(?P<code_{i}>[A-Z]{{2}}\\d{{4}})$'
        set: {{last: "{{{{ match.code_{i} }}}}", misses: "{{{{ misses + 1 }}}}"}}
        say: "Code {{{{ last }}}} noted"
        goto: s{next}
      - choice: [1, one, first]
        goto: s{next}
      - keywords: [back, previous]
        goto: s{prev}
      - match: '\\bweb(hook)?\\b'
        do:
          - webhook:
              url: "https://api.example/{{{{ last }}}}"
              json: {{state: s{i}, misses: "{{{{ misses }}}}"}}
              result: answer
              success: [{{say: "ok {{{{ answer.id }}}}"}}]
              failure: [{{say: "failed"}}]
    no_match:
      - say: "Sorry?"
      - say: "Type 1 to go on."
      - goto: s0
    timeouts:
      - after: 2m
        do: [{{say: "Still there?"}}]
      - after: 5m
        do: [{{say: "Bye"}}, stop]
"""

HEADER = """\
# yaml-language-server: $schema=../schemas/flow.schema.json
version: 1
name: generated
start: s0
settings: {format: html, match_timeout: 50ms}
variables: {last: null, misses: 0, answer: null}
commands:
  help:
    keywords: [help]
    say: "Type 1 to go on."
states:
"""


def generate(states: int = 30) -> str:
    body = "".join(
        STATE.format(i=i, next=(i + 1) % states, prev=(i - 1) % states) for i in range(states)
    )
    return HEADER + body


COMPACT_HEADER = """\
version: 1
name: compact
start: m0
settings: {idle_timeout: 30m}
variables: {last: null}
states:
"""

COMPACT_STATE = """\
  m{i}:
    enter: [{{say: "Menu {i} for {{{{ caller.name }}}}"}}]
    messages:
      - {{match: '^b{i}$', goto: m{prev}}}
      - {{keywords: [next], goto: m{next}}}
    no_match: [{{goto: m0}}]
"""


def generate_compact(states: int) -> str:
    """A valid flow of ``states`` small menu states in a ring (a template, a regex, a
    keyword, a no_match each)."""
    body = "".join(
        COMPACT_STATE.format(i=i, next=(i + 1) % states, prev=(i - 1) % states)
        for i in range(states)
    )
    return COMPACT_HEADER + body


def _run(path: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + sys) seconds of ``runs`` validate processes on ``path``."""
    command = [sys.executable, "-m", "ucwa_flow", "validate", "-q", str(path)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)  # `-m` puts the working directory first: ROOT there too
    subprocess.run(command, check=True, env=env, cwd=ROOT)  # warm the cache and .pyc files
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, cwd=ROOT)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def measure(runs: int = 7) -> tuple[int, list[float]]:
    """The generated flow's line count and the wall-clock seconds of each run."""
    lines, walls, _ = measure_text(generate(), runs)
    return lines, walls


def measure_text(text: str, runs: int) -> tuple[int, list[float], list[float]]:
    """Line count, wall-clock and CPU seconds of validating the flow ``text``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.flow.yaml"
        path.write_text(text, "utf-8")
        walls, cpus = _run(path, runs)
    return len(text.splitlines()), walls, cpus


def curve(runs: int = 5, sizes: tuple[int, ...] = CURVE) -> list[dict[str, object]]:
    """One row per size: states, lines, bytes, and the wall and CPU seconds of each run."""
    rows: list[dict[str, object]] = []
    for states in sizes:
        text = generate_compact(states)
        lines, walls, cpus = measure_text(text, runs)
        size = len(text.encode("utf-8"))
        rows.append({"states": states, "lines": lines, "bytes": size, "wall": walls, "cpu": cpus})
    return rows


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}] s"


def main() -> None:
    args = [a for a in arguments(__doc__) if a != "--curve"]
    runs = number(args, 0, "RUNS", 7)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; code of {ROOT}")
    if "--curve" in sys.argv[1:]:
        print(f"{'states':>6} {'lines':>6} {'bytes':>9}  {'wall':<24} {'cpu (user+sys)':<24}")
        for row in curve(runs):
            walls, cpus = row["wall"], row["cpu"]
            assert isinstance(walls, list)
            assert isinstance(cpus, list)
            print(
                f"{row['states']:>6} {row['lines']:>6} {row['bytes']:>9,}  "
                f"{_spread(walls):<24} {_spread(cpus):<24}"
            )
    else:
        lines, walls, cpus = measure_text(generate(), runs)
        print(f"validate, {lines}-line flow, {runs} runs:")
        print(f"  wall {_spread(walls)}, cpu {_spread(cpus)}")
        walls, cpus = _run(HELPDESK, runs)
        print(f"validate, flows/helpdesk.flow.yaml, {runs} runs:")
        print(f"  wall {_spread(walls)}, cpu {_spread(cpus)}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

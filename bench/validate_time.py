"""(e) Whole-process time of ``ucwa-flow validate`` on a generated 1,000-line flow.

    python -m bench.validate_time [RUNS]

Generates a valid flow of about 1,000 lines (menu states with regex, choice and keyword
handlers, ladders, timeouts, webhooks and invites), runs ``python -m ucwa_flow validate -q``
on it once to warm the file cache and the ``.pyc`` files, then RUNS times (default 7) in
fresh processes. Each time is the wall clock (``time.perf_counter``) around
``subprocess.run``: interpreter start, imports, loading, schema and checks, exit.
(Moved here from ``tests/flow/perf_validate.py``.)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def measure(runs: int = 7) -> tuple[int, list[float]]:
    """The generated flow's line count and the wall-clock seconds of each run."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.flow.yaml"
        path.write_text(generate(), "utf-8")
        lines = len(path.read_text("utf-8").splitlines())
        command = [sys.executable, "-m", "ucwa_flow", "validate", "-q", str(path)]
        subprocess.run(command, check=True)  # warm the file cache and .pyc files
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(command, check=True)
            timings.append(time.perf_counter() - started)
    return lines, timings


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    lines, timings = measure(runs)
    print(
        f"validate, {lines}-line flow, {runs} runs: median {statistics.median(timings):.3f} s "
        f"[{min(timings):.3f}-{max(timings):.3f}]"
    )


if __name__ == "__main__":
    main()

"""``python -m bench compare OLD.json NEW.json``: each figure's change between two runs.

For every figure in either file: the old and new median with their quartiles, the change
of the median in percent, and a verdict. A change is **within noise** when the two ranges
of samples (min-max) overlap, or the median moved by 2% or less; otherwise it is
**better** or **worse** by the figure's direction (more is better for a rate, less for a
time, CPU or memory; a ratio goes by its measure). The ranges, not the quartiles: the
slices of one run's window vary less than runs do (two ``--quick`` runs of the same code
at load 10-16 had CPU-per-message quartiles that did not overlap, their ranges did).
Figures only one file has, or that are missing in one, are listed as such; the cores other
processes used beside a window (``other_cores``) get no verdict, they are the machine's.
The machine and the load of each run are printed first: numbers from different machines or
loads compare badly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.figures import Figure, cell, higher_is_better
from bench.report import grid

__all__ = ["changes", "main", "read", "verdict"]


#: a change of the median by at most this fraction is within noise whatever the ranges
#: (a figure of one sample, such as the memory of a single run, has a range of zero)
FLOOR = 0.02


def verdict(key: str, old: Figure, new: Figure) -> str:
    if key.endswith(".other_cores"):
        return "the machine's load"  # not the bot's doing: no better or worse
    if "missing" in old or "missing" in new:
        if "missing" in old and "missing" in new:
            return "missing in both"
        return "missing in old" if "missing" in old else "missing in new"
    if new["min"] <= old["max"] and old["min"] <= new["max"]:
        return "within noise"
    if abs(new["median"] - old["median"]) <= FLOOR * abs(old["median"]):
        return "within noise"
    up = new["median"] > old["median"]
    return "better" if up == higher_is_better(key) else "worse"


def _change(old: Figure, new: Figure) -> str:
    if "median" not in old or "median" not in new:
        return ""
    if old["median"] == 0:
        return "n/a"
    return f"{(new['median'] - old['median']) / abs(old['median']) * 100:+.1f}%"


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[list[str]]:
    """One row per figure: key, old, new, change, verdict."""
    before: dict[str, Figure] = old["figures"]
    after: dict[str, Figure] = new["figures"]
    keys = [*before, *(k for k in after if k not in before)]
    rows = []
    for key in keys:
        if key.endswith(".talk"):
            continue
        if key not in after or key not in before:
            side = "old" if key in before else "new"
            rows.append([key, cell(before.get(key)), cell(after.get(key)), "", f"only in {side}"])
            continue
        a, b = before[key], after[key]
        rows.append([key, cell(a), cell(b), _change(a, b), verdict(key, a, b)])
    return rows


def _describe(name: str, result: dict[str, Any]) -> str:
    m = result.get("machine", {})
    load = m.get("load_during", {})
    low, high = load.get("min"), load.get("max")
    during = f"{low:.1f}-{high:.1f}" if low is not None and high is not None else "?"
    return (
        f"{name}: {m.get('date', '?')} commit {m.get('commit', '?')}, "
        f"{result.get('settings', {}).get('mode', '?')} mode, {m.get('nproc', '?')} x "
        f"{m.get('cpu', '?')}, load average {during}"
    )


def read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise SystemExit(f"bench: cannot read {path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("figures"), dict):
        raise SystemExit(f"bench: {path} is not a bench results file (no figures)")
    return data


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench compare OLD.json NEW.json")
        return 2
    old, new = (read(Path(a)) for a in argv)
    print(_describe("old", old))
    print(_describe("new", new))
    print("median [quartiles]; 'within noise': the min-max ranges overlap, or a change <= 2%")
    head = ["figure", "old", "new", "change", "verdict"]
    print("\n".join(grid(head, changes(old, new))))
    return 0

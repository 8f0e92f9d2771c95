"""A bench figure: a median with its spread, or missing with a reason (never NaN).

A figure is a plain dict, as it goes into the results JSON::

    {"unit": "ms", "median": 1.9, "q1": 1.8, "q3": 2.1, "min": 1.7, "max": 2.6, "n": 10,
     "values": [...]}                      # the samples it was made of
    {"unit": "ms", "missing": "no reply arrived in the slice", "n": 0}

``n`` counts the samples with a value; samples without one (``None``, or a non-finite
number) are counted in ``"without"`` and their reason kept in ``"note"``. A ratio of two
figures (:func:`ratio`) has the ratio of the medians and, as its spread, the ratios of
their quartiles taken the unfavourable way round (``q1 / other q3`` to ``q3 / other q1``).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["cell", "dump", "figure", "fmt", "higher_is_better", "ratio"]

Figure = dict[str, Any]


def figure(values: Iterable[float | None], unit: str, missing: str = "no sample") -> Figure:
    """The median and spread of ``values``; missing (with ``missing`` as the reason) if
    none of them is a finite number."""
    every = list(values)
    present = [float(v) for v in every if v is not None and math.isfinite(v)]
    without = len(every) - len(present)
    if not present:
        return {"unit": unit, "missing": missing, "n": 0, "without": without}
    if len(present) == 1:
        q1 = q3 = present[0]
    else:
        q1, _, q3 = statistics.quantiles(present, n=4, method="inclusive")
    out: Figure = {
        "unit": unit,
        "median": statistics.median(present),
        "q1": q1,
        "q3": q3,
        "min": min(present),
        "max": max(present),
        "n": len(present),
        "values": present,
    }
    if without:
        out["without"] = without
        out["note"] = f"{without} of {len(every)} samples had no value: {missing}"
    return out


def ratio(top: Figure, bottom: Figure) -> Figure:
    """``top`` / ``bottom``: the ratio of the medians, the spread from the quartiles."""
    if "missing" in top or "missing" in bottom:
        reason = top.get("missing") or bottom.get("missing")
        return {"unit": "x", "missing": f"a side is missing ({reason})", "n": 0}
    if bottom["min"] <= 0:
        return {"unit": "x", "missing": "the denominator has a zero", "n": 0}
    return {
        "unit": "x",
        "median": top["median"] / bottom["median"],
        "q1": top["q1"] / bottom["q3"],
        "q3": top["q3"] / bottom["q1"],
        "min": top["min"] / bottom["max"],
        "max": top["max"] / bottom["min"],
        "n": min(top["n"], bottom["n"]),
    }


def higher_is_better(key: str) -> bool:
    """Whether a larger value of the figure named ``key`` is an improvement."""
    return key.endswith(("per_second", "/s"))


def fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cell(value: Figure | None, *, unit: bool = False) -> str:
    """``median [q1-q3]`` (``-`` when there is no such figure, ``missing`` when it has no
    sample)."""
    if value is None:
        return "-"
    if "missing" in value:
        return "missing"
    text = f"{fmt(value['median'])} [{fmt(value['q1'])}-{fmt(value['q3'])}]"
    return f"{text} {value['unit']}" if unit else text


def dump(result: dict[str, Any], path: Path) -> None:
    """Write ``result`` as JSON; refuses NaN and infinities (they are not JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n", "utf-8")

"""Bench figures: medians with spreads, missing with a reason, never NaN in the JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.figures import dump, figure, ratio
from bench.report import tables


def test_a_figure_is_the_median_with_quartiles_and_range() -> None:
    f = figure([4.0, 1.0, 3.0, 2.0, 5.0], "ms")
    assert (f["median"], f["q1"], f["q3"], f["min"], f["max"], f["n"]) == (3, 2, 4, 1, 5, 5)


def test_a_figure_without_any_sample_is_missing_with_its_reason() -> None:
    f = figure([None, math.nan, None], "ms", "no reply arrived in the slice")
    assert f == {"unit": "ms", "missing": "no reply arrived in the slice", "n": 0, "without": 3}


def test_samples_without_a_value_are_counted_and_explained() -> None:
    f = figure([2.0, None, math.inf, 4.0], "ms", "no reply arrived in the slice")
    assert f["median"] == 3.0
    assert f["without"] == 2
    assert f["note"] == "2 of 4 samples had no value: no reply arrived in the slice"


def test_a_ratio_takes_its_spread_from_the_quartiles() -> None:
    top, bottom = figure([2.0, 3.0, 4.0], "ms"), figure([1.0, 2.0, 3.0], "ms")
    r = ratio(top, bottom)
    assert r["median"] == 1.5
    assert r["q1"] == pytest.approx(2.5 / 2.5)
    assert r["q3"] == pytest.approx(3.5 / 1.5)
    assert "missing" in ratio(figure([], "ms"), bottom)
    assert ratio(top, figure([0.0, 1.0], "ms"))["missing"] == "the denominator has a zero"


def test_the_results_json_never_holds_nan(tmp_path: Path) -> None:
    figures = {
        "http.baseline.1.p99_ms": figure([None], "ms", "no message sent in the slice"),
        "http.ucwa-flow.1.p99_ms": figure([None, 5.0], "ms"),
    }
    path = tmp_path / "out.json"
    dump({"figures": figures}, path)
    text = path.read_text("utf-8")
    assert "NaN" not in text
    assert json.loads(text)["figures"]["http.baseline.1.p99_ms"]["missing"]
    with pytest.raises(ValueError, match="JSON compliant"):
        dump({"figures": {"x": {"median": math.nan}}}, path)


def test_the_tables_say_missing_and_why() -> None:
    figures = {
        "http.ucwa-flow.1.cpu_ms_per_message": figure([2.0, 2.2], "ms"),
        "http.baseline.1.cpu_ms_per_message": figure([None], "ms", "no reply arrived"),
    }
    figures["ratio.ucwa-flow/baseline.1.cpu_ms_per_message"] = ratio(
        figures["http.ucwa-flow.1.cpu_ms_per_message"],
        figures["http.baseline.1.cpu_ms_per_message"],
    )
    text = tables({"figures": figures})
    assert "nan" not in text.lower()
    row = next(line for line in text.splitlines() if line.startswith("1 "))
    assert row.split() == ["1", "2.10", "[2.05-2.15]", "missing", "missing"]
    assert "http.baseline.1.cpu_ms_per_message: no reply arrived" in text


def test_a_part_that_fails_leaves_its_figure_missing_with_the_reason() -> None:
    from bench.__main__ import run_module

    failures: list[str] = []
    assert run_module(["bench.no_such_part"], failures) == {}
    assert len(failures) == 1
    assert failures[0].startswith("bench.no_such_part exited with 1 ")
    assert failures[0].endswith("No module named bench.no_such_part")
    f = figure([None], "rec/s", "; ".join(failures))
    assert f["missing"].startswith("bench.no_such_part exited with 1")

"""``python -m bench compare OLD.json NEW.json`` on two small results files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.compare import verdict
from bench.figures import figure

ROOT = Path(__file__).resolve().parents[2]


def _results(path: Path, figures: dict[str, object], load: float) -> Path:
    machine = {"date": "2026-12-01T15:00:00+00:00", "commit": "abc", "nproc": 2, "cpu": "EPYC"}
    machine["load_during"] = {"min": load, "median": load, "max": load}
    data = {"schema": "ucwa-flow-bench/1", "machine": machine, "settings": {"mode": "quick"}}
    path.write_text(json.dumps(data | {"figures": figures}), "utf-8")
    return path


def _compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", "compare", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_compare_prints_each_change_with_its_spread_and_verdict(tmp_path: Path) -> None:
    cpu, rate = "http.ucwa-flow.100.cpu_ms_per_message", "http.ucwa-flow.100.messages_per_second"
    p99, gone = "http.ucwa-flow.100.p99_ms", "engine.1000.records_per_second"
    old = _results(
        tmp_path / "old.json",
        {
            cpu: figure([2.0, 2.1, 2.2, 2.3], "ms"),
            rate: figure([400.0, 410.0, 420.0], "msg/s"),
            p99: figure([10.0, 11.0], "ms"),
            gone: figure([5000.0], "rec/s"),
        },
        1.0,
    )
    new = _results(
        tmp_path / "new.json",
        {
            cpu: figure([1.0, 1.1, 1.2, 1.3], "ms"),  # clearly less CPU: better
            rate: figure([405.0, 415.0, 425.0], "msg/s"),  # quartiles overlap: noise
            p99: figure([None], "ms", "no message sent in the slice"),
            "validate.seconds": figure([0.5, 0.6], "s"),
        },
        6.5,
    )
    done = _compare(str(old), str(new))
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line}
    assert rows[cpu] == [cpu, "2.15", "[2.08-2.23]", "1.15", "[1.08-1.22]", "-46.5%", "better"]
    assert rows[rate][-3:] == ["+1.2%", "within", "noise"]
    assert rows[p99][-4:] == ["missing", "missing", "in", "new"]
    assert rows[gone][-4:] == ["-", "only", "in", "old"]
    assert rows["validate.seconds"][1:2] + rows["validate.seconds"][-3:] == [
        "-",
        "only",
        "in",
        "new",
    ]
    assert "load average 6.5-6.5" in done.stdout  # the runs' loads are shown


def test_compare_refuses_a_file_that_is_not_a_result_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}", "utf-8")
    done = _compare(str(bad), str(bad))
    assert done.returncode == 1
    assert done.stderr.strip() == f"bench: {bad} is not a bench results file (no figures)"


def test_the_cores_other_processes_took_get_no_verdict() -> None:
    quiet, loaded = figure([0.0, 0.05, 0.1], "cores"), figure([0.9, 1.0, 1.1], "cores")
    assert verdict("http.ucwa-flow.100.other_cores", quiet, loaded) == "the machine's load"
    assert verdict("http.ucwa-flow.100.p50_ms", quiet, loaded) == "worse"  # any other figure

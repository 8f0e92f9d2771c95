"""What a person reads after ``ucwa-flow test``: results, failures and coverage tables.

Every function returns lines (no printing here), so the CLI decides where they go and
tests can compare them.

    PASS flows/helpdesk.test.yaml: password reset opens a ticket (0.04 s)
    FAIL flows/echo.test.yaml: echoes
         flows/echo.test.yaml:12: expected the bot to say "You said: hi", but it said "..."

    flow        file                       states           transitions
    helpdesk    flows/helpdesk.flow.yaml   7/7    100.0%    28/33   84.8%
"""

from __future__ import annotations

import os
from pathlib import Path

from ucwa_flow.graph import Edge, NodeKind
from ucwa_flow.testing._coverage import Coverage, FlowCoverage
from ucwa_flow.testing._runner import ScenarioResult
from ucwa_flow.testing._suite import ScriptRun, TestRun

__all__ = ["coverage_lines", "result_lines", "script_lines", "summary_line"]


def script_lines(script: ScriptRun) -> list[str]:
    """The diagnostics of a script that has problems (nothing for a clean script)."""
    lines = [str(d) for d in script.diagnostics]
    if any(d.is_error for d in script.diagnostics):
        lines.append(f"ERROR {_shown(script.file)}: the script has errors; nothing was run")
    return lines


def result_lines(result: ScenarioResult) -> list[str]:
    """``PASS``/``FAIL`` and the scenario's name; a failure adds where and why."""
    where = _shown(Path(result.scenario.location.file))
    head = f"{'PASS' if result.passed else 'FAIL'} {where}: {result.scenario.name}"
    lines = [f"{head} ({result.seconds:.2f} s)"]
    if result.failure is not None:
        lines += ["     " + line for line in str(result.failure).splitlines()]
    return lines


def summary_line(run: TestRun) -> str:
    """``12 scenarios: 11 passed, 1 failed`` (and scripts with errors, if any)."""
    results = run.results
    failed = sum(1 for r in results if not r.passed)
    broken = sum(1 for s in run.scripts if any(d.is_error for d in s.diagnostics))
    text = f"{len(results)} scenario{'s' if len(results) != 1 else ''}: "
    text += f"{len(results) - failed} passed, {failed} failed"
    if broken:
        text += f"; {broken} script{'s' if broken != 1 else ''} with errors"
    return text


def coverage_lines(coverage: Coverage, *, details: bool = True) -> list[str]:
    """A table of states and transitions covered per flow; ``details`` lists the misses."""
    flows = sorted(coverage.flows.items(), key=lambda item: item[0])
    if not flows:
        return ["no flow was tested"]
    rows = [("flow", "file", "states", "transitions")]
    for key, cov in flows:
        states = _ratio(len(cov.states), cov.state_total, cov.state_percent)
        edges = _ratio(len(cov.edges), cov.edge_total, cov.edge_percent)
        rows.append((cov.name, _shown(Path(key)), states, edges))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    if details:
        for _, cov in flows:
            lines += _misses(cov)
    return lines


def _misses(cov: FlowCoverage) -> list[str]:
    lines: list[str] = []
    states = cov.missed_states()
    if states:
        lines.append(f"{cov.name}: states never entered: {', '.join(states)}")
    edges = cov.missed_edges()
    if edges:
        lines.append(f"{cov.name}: transitions never taken:")
        lines += [f"  {_edge(edge)}" for edge in edges]
    return lines


def _edge(edge: Edge) -> str:
    def name(kind: NodeKind, text: str) -> str:
        return f"({text})" if kind is not NodeKind.STATE else text

    label = f" [{edge.kind.value}: {edge.label}]" if edge.label else f" [{edge.kind.value}]"
    source = name(edge.source.kind, edge.source.name)
    return f"{source} -> {name(edge.target.kind, edge.target.name)}{label}"


def _ratio(done: int, total: int, percent: float) -> str:
    return f"{done}/{total}".ljust(7) + f"{percent:5.1f}%"


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)

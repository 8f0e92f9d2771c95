"""``ucwa-flow test --explore``: explore a flow, write its scripts, run them, report.

:func:`explore_flow` loads the flow, searches it (:mod:`._search`), writes the chosen
paths as scripts (:mod:`._write`), runs those scripts with the ordinary test runner and
measures their coverage the way ``ucwa-flow test --coverage`` does. Transitions the
written scripts do not take are listed with a reason (:mod:`._reasons`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ucwa_flow.flow import Flow, FlowFileError, load_flow, resolve_flow_path
from ucwa_flow.graph import Edge
from ucwa_flow.testing._coverage import FlowCoverage
from ucwa_flow.testing._suite import TestRun, run_tests
from ucwa_flow.testing.explore._reasons import reasons
from ucwa_flow.testing.explore._search import Exploration, explore
from ucwa_flow.testing.explore._write import choose, describe_edge, targets, write_scripts

__all__ = ["ExploreError", "ExploreReport", "default_output", "explore_flow"]


class ExploreError(Exception):
    """The flow cannot be explored (missing, or with errors); ``str()`` is one line."""


@dataclass(slots=True)
class ExploreReport:
    """What one exploration did: the files written, their run, what they miss and why."""

    flow_file: Path
    found: Exploration
    files: list[Path]
    run: TestRun
    coverage: FlowCoverage
    missed: dict[Edge, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.run.passed

    def lines(self) -> list[str]:
        """The report's summary and the transitions not taken, with why."""
        cov = self.coverage
        lines = [
            f"explored {cov.name} ({self.flow_file}): {self.found.runs} paths played, "
            f"{len(self.run.results)} scenarios written to "
            + ", ".join(str(path) for path in self.files),
            f"transitions taken by the written scenarios: {len(cov.edges)}/{cov.edge_total} "
            f"({cov.edge_percent:.1f}%), states {len(cov.states)}/{cov.state_total}",
        ]
        proven = [edge for edge in self.missed if edge in self.found.out_of_reach]
        if proven:
            reachable = cov.edge_total - len(proven)
            percent = 100.0 * len(cov.edges) / reachable if reachable else 100.0
            lines.append(
                f"transitions a script can take (the flow rules out {len(proven)}): "
                f"{len(cov.edges)}/{reachable} ({percent:.1f}%)"
            )
        if self.missed:
            lines.append(f"{cov.name}: transitions not taken, and why:")
            lines += [f"  {describe_edge(edge)}: {why}" for edge, why in self.missed.items()]
        return lines


def _load(path: Path) -> Flow:
    try:  # its message names the path: a folder, a test script, a file it cannot read
        loaded = load_flow(path)
    except FlowFileError as exc:
        raise ExploreError(str(exc)) from None
    if loaded.flow is None:
        errors = [d for d in loaded.diagnostics if d.is_error]
        if not errors:  # a part of a flow loads with no flow and no error
            raise ExploreError(_part_of_a_flow(path))
        more = len(errors) - 1
        shown = f" (and {more} more error(s): `ucwa-flow validate {path}` lists them)"
        raise ExploreError(f"{errors[0]}{shown if more else ''}")
    return loaded.flow


def _part_of_a_flow(path: Path) -> str:
    if path.name.endswith(".subflow.yaml"):
        return f"{path} is a sub-flow, not a flow: explore a flow that calls it"
    return f"{path} is an included file, not a flow: explore a flow that includes it"


def default_output(flow_file: Path) -> Path:
    """``flows/helpdesk.flow.yaml`` -> ``flows/helpdesk.explored.test.yaml``."""
    stem = flow_file.name.removesuffix(".yaml").removesuffix(".flow")
    return flow_file.with_name(f"{stem}.explored.test.yaml")


async def explore_flow(
    flow_file: str | os.PathLike[str], output: str | os.PathLike[str] | None = None
) -> ExploreReport:
    """Explore ``flow_file`` and write scripts to ``output``.

    ``output`` is a ``.test.yaml`` file (default: :func:`default_output`), or a
    directory, which gets one script per path family. Raises :class:`ExploreError`.
    """
    path = resolve_flow_path(flow_file)  # flows/echo.yaml: flows/echo.flow.yaml
    flow = _load(path)
    out = Path(output) if output is not None else default_output(path)
    split = not out.name.endswith(".test.yaml")
    if split and out.suffix.lower() in (".yaml", ".yml") and not out.is_dir():
        raise ExploreError(  # it became a folder of that name
            f"{out}: a test script's name ends in .test.yaml (what `ucwa-flow test` runs): "
            "give such a name, or a folder"
        )
    _, theirs = targets(path, out, split=split)
    if theirs:
        raise ExploreError(
            f"{theirs[0]}: exists and was not written by --explore; "
            "move it or give another -o (the explorer replaces only its own scripts)"
        )
    found = await explore(flow)
    chosen = choose(found.plays)
    files = write_scripts(path, chosen, found.web, out, split=split)
    run = await run_tests(files)
    coverage = next(iter(run.coverage.flows.values()), None)
    if coverage is None:
        coverage = run.coverage.of(str(path), flow)
    why = reasons(found)
    missed = {
        edge: why.get(edge, "taken while exploring, but not when the written script ran")
        for edge in coverage.missed_edges()
    }
    return ExploreReport(path, found, files, run, coverage, missed)

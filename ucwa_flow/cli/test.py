"""``ucwa-flow test [PATH...]``: run conversation test scripts against their flows.

Each PATH is a script (``flows/helpdesk.test.yaml``) or a directory, searched for
``*.test.yaml`` (default: ``flows``). Every scenario runs on the embedded simulator with a
virtual clock; the result of each is printed as it finishes, a failure with the step's
``file:line``, what was expected and what happened.

Exit status: 0 when every scenario passed (and coverage is at least ``--fail-under``),
1 when a scenario failed, a script has errors or coverage is too low, 2 for a path that
does not exist.

``--json PATH`` also writes the results and the coverage, with how many times each
transition was taken, as one JSON document (``--json`` alone: ``coverage.json``); that is
what ``ucwa-flow review --coverage PATH`` reads. The format is in ``docs/testing.md``.

``--explore FLOW`` writes scripts instead (``FLOW``'s name with ``.explored.test.yaml``,
or ``-o``: a ``.test.yaml`` file, or a directory for one script per path family) that
take every transition the explorer can reach, runs them and prints their coverage and
the transitions out of reach, with why. Exit status 0 when the written scripts pass
(1 only when they fail, or with ``--fail-under``), 2 for a flow that cannot be read.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from ucwa_flow._display import printable
from ucwa_flow.cli._quiet import quiet_flows
from ucwa_flow.errors import UnreadableFileError
from ucwa_flow.testing import (
    ScenarioResult,
    ScriptFileError,
    ScriptRun,
    TestRun,
    coverage_lines,
    result_lines,
    run_tests,
    script_lines,
    summary_line,
)
from ucwa_flow.testing._coverage_json import coverage_json
from ucwa_flow.testing.explore import ExploreError, explore_flow

__all__ = ["DEFAULT_JSON", "command"]

#: where ``--json`` without a path writes
DEFAULT_JSON = "coverage.json"


@click.command("test")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option(
    "--coverage", "show_coverage", is_flag=True, help="Print states and transitions covered."
)
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 100),
    metavar="N",
    help="Fail when a flow's state or transition coverage is below N percent.",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Leave out passing scenarios: print failures, the summary and what --coverage or "
    "--fail-under asks for (--json is written all the same).",
)
@click.option(
    "--json",
    "json_path",
    is_flag=False,
    flag_value=DEFAULT_JSON,
    default=None,
    metavar="[PATH]",
    help=f"Also write results and coverage (with each transition's take count) as JSON to "
    f"PATH (default {DEFAULT_JSON}), for `ucwa-flow review --coverage`.",
)
@click.option(
    "--explore",
    "explore",
    metavar="FLOW",
    help="Write scripts that take every transition of FLOW, run them and report.",
)
@click.option(
    "--output",
    "-o",
    metavar="PATH",
    help="With --explore: the script to write, or a directory (one script per path family).",
)
def command(
    paths: tuple[str, ...],
    show_coverage: bool,
    fail_under: float | None,
    quiet: bool,
    json_path: str | None,
    explore: str | None,
    output: str | None,
) -> None:
    """Run the conversation test scripts in PATH (files or directories; default: flows).

    A script is a YAML file named <flow>.test.yaml; see docs/testing.md.
    """
    if json_path is not None:
        _check_json_path(json_path)
    # flow errors and webhooks the script mocks as failures are part of the test, not noise
    with quiet_flows():
        _test(paths, show_coverage, fail_under, quiet, json_path, explore, output)


def _test(
    paths: tuple[str, ...],
    show_coverage: bool,
    fail_under: float | None,
    quiet: bool,
    json_path: str | None,
    explore: str | None,
    output: str | None,
) -> None:
    if explore is not None:
        if paths:
            click.echo("ucwa-flow: error: --explore takes a flow, not test paths", err=True)
            sys.exit(2)
        _explore(explore, output, fail_under)
    if output is not None:
        click.echo("ucwa-flow: error: --output is for --explore", err=True)
        sys.exit(2)

    def on_script(script: ScriptRun) -> None:
        for line in script_lines(script):
            _echo(line)

    def on_result(result: ScenarioResult) -> None:
        lines = result_lines(result)
        if quiet and lines[0].startswith("PASS"):
            return
        for line in lines:
            _echo(line)

    try:
        run = asyncio.run(
            run_tests(list(paths) or ["flows"], on_result=on_result, on_script=on_script)
        )
    except ScriptFileError as exc:
        click.echo(f"ucwa-flow: error: {exc}", err=True)
        sys.exit(2)
    click.echo(summary_line(run))
    if json_path is not None:
        _write(Path(json_path), coverage_json(run))
        if not quiet:
            click.echo(f"wrote results and coverage to {json_path}", err=True)
    low = _below(run, fail_under)
    if show_coverage or low:
        click.echo("")
        for line in coverage_lines(run.coverage, details=show_coverage):
            _echo(line)
    for line in low:
        _echo(line)
    sys.exit(0 if run.passed and not low else 1)


def _echo(line: str) -> None:
    """A line of results or coverage: the names and texts of a flow and a test script are
    printed with their control characters escaped (a scenario named with ESC sequences set
    the terminal's title and cleared its screen: a script from a pull request)."""
    click.echo(printable(line))


def _check_json_path(json_path: str) -> None:
    """Refuse a ``--json`` value that is a test path taken for the output file (``--json``
    takes an optional value, so ``--json flows/`` would otherwise write over ``flows/``)."""
    path = Path(json_path)
    if path.is_dir() or path.suffix.lower() in (".yaml", ".yml"):
        raise click.BadParameter(
            f"{json_path!r} is a test path, not the JSON file to write: give --json PATH.json "
            "or put --json after the paths",
            param_hint="--json",
        )


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _below(run: TestRun, fail_under: float | None) -> list[str]:
    if fail_under is None:
        return []
    lines = []
    for cov in run.coverage.flows.values():
        for what, percent in (("state", cov.state_percent), ("transition", cov.edge_percent)):
            if percent + 1e-9 < fail_under:
                lines.append(
                    f"FAIL coverage: {cov.name}: {what} coverage {percent:.1f}% "
                    f"is below {fail_under:g}%"
                )
    return lines


def _explore(flow: str, output: str | None, fail_under: float | None) -> None:
    try:
        report = asyncio.run(explore_flow(flow, output))
    except ExploreError as exc:
        click.echo(f"ucwa-flow: error: {exc}", err=True)
        sys.exit(2)
    for result in report.run.results:
        if not result.passed:
            for line in result_lines(result):
                _echo(line)
    for line in report.lines():
        _echo(line)
    low = _below(report.run, fail_under)
    for line in low:
        _echo(line)
    sys.exit(0 if report.passed and not low else 1)

"""A test run: find the scripts, load them, run every scenario, gather coverage.

:func:`run_tests` is what ``ucwa-flow test`` calls. Paths may be script files or
directories; a directory contributes every ``*.test.yaml`` below it, and every
``*.flow.yaml`` below it counts towards coverage even when no script tests it (so an
untested flow shows up as 0%). Scenarios run one after another, each on its own stage.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ucwa_flow.flow import PART_SUFFIXES, Diagnostic, FlowFileError, load_flow
from ucwa_flow.flow._folders import flow_files
from ucwa_flow.flow._missing import no_such_file
from ucwa_flow.testing._coverage import Coverage
from ucwa_flow.testing._loader import ScriptFileError, load_script
from ucwa_flow.testing._runner import ScenarioResult, run_scenario

__all__ = ["SCRIPT_SUFFIX", "ScriptRun", "TestRun", "find_scripts", "run_tests"]

#: test scripts are ``<name>.test.yaml``, next to ``<name>.flow.yaml``
SCRIPT_SUFFIX = ".test.yaml"


@dataclass(slots=True)
class ScriptRun:
    """One script: its diagnostics (a script with errors runs nothing) and results."""

    file: Path
    diagnostics: list[Diagnostic] = field(default_factory=list)
    results: list[ScenarioResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics) and all(r.passed for r in self.results)


@dataclass(slots=True)
class TestRun:
    """Everything a run found, and the coverage of each flow."""

    scripts: list[ScriptRun] = field(default_factory=list)
    coverage: Coverage = field(default_factory=Coverage)

    @property
    def results(self) -> list[ScenarioResult]:
        return [result for script in self.scripts for result in script.results]

    @property
    def passed(self) -> bool:
        """True when every script loaded and every scenario passed (and there was one)."""
        return bool(self.results) and all(script.ok for script in self.scripts)


def find_scripts(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """The scripts and the flow files that ``paths`` name, each sorted and unique.

    Raises :class:`ScriptFileError` for a path that does not exist or a directory
    without any script.
    """
    scripts: dict[Path, None] = {}
    flows: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.rglob("*" + SCRIPT_SUFFIX))
            if not found:
                yml = sorted(p.name for p in path.rglob("*.test.yml"))
                hint = f" ({yml[0]}: end its name in .yaml, not .yml)" if yml else ""
                raise ScriptFileError(f"{path}: no test scripts (*{SCRIPT_SUFFIX}) in it{hint}")
            scripts.update(dict.fromkeys(found))
            flows.update(dict.fromkeys(flow_files(path)))
        elif path.name.endswith((".flow.yaml", *PART_SUFFIXES)) and path.is_file():
            raise ScriptFileError(_not_a_script(path))
        elif path.exists():
            scripts[path] = None
        else:
            raise ScriptFileError(no_such_file(raw, "test script or folder", folders=True))
    return list(scripts), list(flows)


def _not_a_script(flow: Path) -> str:
    """What to run instead of a flow (or a part of one) given as a test script."""
    if not flow.name.endswith(".flow.yaml"):
        return f"{flow}: is a part of a flow, not a test script: test the flows that use it"
    script = flow.with_name(flow.name.removesuffix(".flow.yaml") + SCRIPT_SUFFIX)
    instead = f"`ucwa-flow test {script}`, " if script.is_file() else ""
    return (
        f"{flow}: is a flow, not a test script ({SCRIPT_SUFFIX}): run {instead}"
        f"`ucwa-flow test {flow.parent}`, or write scripts with `ucwa-flow test --explore {flow}`"
    )


async def run_tests(
    paths: Iterable[str | os.PathLike[str]],
    *,
    on_result: Callable[[ScenarioResult], None] | None = None,
    on_script: Callable[[ScriptRun], None] | None = None,
) -> TestRun:
    """Run every scenario of every script in ``paths``; see the module docstring.

    ``on_script`` is called when a script is loaded (before its scenarios run) and
    ``on_result`` after each scenario, so that a console can report as the run goes.
    """
    scripts, flows = find_scripts(paths)
    run = TestRun()
    for flow_file in flows:
        try:
            loaded = load_flow(flow_file)
        except FlowFileError:
            continue
        if loaded.flow is not None:
            run.coverage.of(_key(flow_file), loaded.flow)
    for file in scripts:
        loaded_script = load_script(file)
        script_run = ScriptRun(file, loaded_script.diagnostics)
        run.scripts.append(script_run)
        if on_script is not None:
            on_script(script_run)
        script = loaded_script.script
        if script is None:
            continue
        coverage = run.coverage.of(_key(script.flow_file), script.flow)
        for scenario in script.scenarios:
            result = await run_scenario(script, scenario)
            coverage.add(result.traces, script.flow)
            script_run.results.append(result)
            if on_result is not None:
                on_result(result)
    return run


def _key(flow_file: Path) -> str:
    return str(flow_file.resolve())

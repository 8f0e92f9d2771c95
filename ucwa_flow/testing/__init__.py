"""Conversation tests for flows: scripted chats on the simulator, with a virtual clock.

A test script (``flows/<name>.test.yaml``, documented in ``docs/testing.md``) names a flow
and holds scenarios; each scenario is a chat written as steps: the caller invites the bot,
says something, hangs up; a person the bot invites accepts or declines; time passes;
and expectations check what the bot said, its state, its variables, or that the
conversation ended. Scenarios run through the real interpreter and the real UCWA client
against the simulated server, in-process, on one virtual clock.

Public API::

    from ucwa_flow.testing import load_script, run_tests

    run = asyncio.run(run_tests(["flows/"]))
    run.passed                       # every scenario passed
    run.coverage.flows               # flow file -> FlowCoverage (states, transitions)

* :func:`load_script` -> :class:`ScriptResult` (the :class:`Script` or located diagnostics);
* :func:`run_scenario` runs one :class:`Scenario` -> :class:`ScenarioResult`
  (``failure`` is a :class:`Failure` with the step's location);
* :func:`run_tests` runs scripts and directories -> :class:`TestRun` with
  :class:`Coverage`;
* :mod:`ucwa_flow.testing._report` formats results and coverage tables for the console.
"""

from __future__ import annotations

from ucwa_flow.testing._coverage import Coverage, FlowCoverage
from ucwa_flow.testing._loader import ScriptFileError, ScriptResult, load_script
from ucwa_flow.testing._report import coverage_lines, result_lines, script_lines, summary_line
from ucwa_flow.testing._runner import Failure, ScenarioResult, run_scenario
from ucwa_flow.testing._schema import schema_text
from ucwa_flow.testing._script import DEFAULT_CALLER, Scenario, Script
from ucwa_flow.testing._suite import SCRIPT_SUFFIX, ScriptRun, TestRun, find_scripts, run_tests

__all__ = [
    "DEFAULT_CALLER",
    "SCRIPT_SUFFIX",
    "Coverage",
    "Failure",
    "FlowCoverage",
    "Scenario",
    "ScenarioResult",
    "Script",
    "ScriptFileError",
    "ScriptResult",
    "ScriptRun",
    "TestRun",
    "coverage_lines",
    "find_scripts",
    "load_script",
    "result_lines",
    "run_scenario",
    "run_tests",
    "schema_text",
    "script_lines",
    "summary_line",
]

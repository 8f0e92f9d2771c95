"""Every example flow has a conversation test script, and the scripts pass with full state
and transition coverage: the project's test command runs them all."""

from __future__ import annotations

from tests.testing.conftest import FLOWS
from ucwa_flow.testing import run_tests


def test_every_flow_has_a_test_script() -> None:
    flows = sorted(p.name.removesuffix(".flow.yaml") for p in FLOWS.glob("*.flow.yaml"))
    scripts = sorted(p.name.removesuffix(".test.yaml") for p in FLOWS.glob("*.test.yaml"))
    assert flows
    assert scripts == flows


async def test_all_flow_scripts_pass_with_every_state_and_transition_covered() -> None:
    run = await run_tests([FLOWS])
    failures = [str(r.failure) for r in run.results if r.failure is not None]
    problems = [str(d) for script in run.scripts for d in script.diagnostics]
    assert not failures, "\n".join(failures)
    assert not problems, "\n".join(problems)
    assert run.passed
    assert len(run.coverage.flows) == len(list(FLOWS.glob("*.flow.yaml")))
    for cov in run.coverage.flows.values():
        assert cov.state_percent == 100.0, (cov.name, cov.missed_states())
        assert cov.edge_percent == 100.0, (cov.name, cov.missed_edges())
        assert len(cov.edges) == cov.edge_total

"""The reachability checks (F103, F104) do work linear in the flow's size (issue 17).

They used to search from every state (quadratic: 2,000 states took 10 s to validate).
Work is counted, never timed: how many times a state's targets are read."""

from __future__ import annotations

import pytest

from ucwa_flow.flow import _checks, load_flow_text


def _chain(states: int) -> str:
    # a ring of states with no way out: every state is reported as one that can get stuck,
    # the case that made the check search the whole ring once per state
    lines = ["version: 1", "name: ring", "start: s0", "states:"]
    for i in range(states):
        lines += [
            f"  s{i}:",
            "    messages:",
            f"      - keywords: [next{i}]",
            f"        goto: s{(i + 1) % states}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counted = [0]
    targets = _checks._targets

    def counting(state: _checks.State) -> set[str]:
        counted[0] += 1
        return targets(state)

    monkeypatch.setattr(_checks, "_targets", counting)
    return counted


@pytest.mark.parametrize("states", [100, 400])
def test_reading_each_states_targets_a_bounded_number_of_times(
    reads: list[int], states: int
) -> None:
    loaded = load_flow_text(_chain(states), "ring.flow.yaml")
    stuck = [d for d in loaded.diagnostics if d.code == "F104"]
    assert len(stuck) == states  # the check still finds every one
    assert reads[0] == states  # once each (it was once per state searched from)

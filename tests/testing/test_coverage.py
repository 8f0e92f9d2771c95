"""Coverage: the states entered and the graph's transitions taken, per flow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ucwa_flow.testing import run_tests

TINY_FLOW = """
version: 1
name: tiny
start: ask
settings: {idle_timeout: 10m}
variables: {hook: "http://hooks.test/answer"}
commands:
  stop: {choice: [stop], say: Bye., do: [stop]}
states:
  ask:
    enter: [{say: Yes or no?}]
    messages:
      - choice: ["yes"]
        goto: done
      - choice: [maybe]
        say: Think again.
      - choice: [check]
        do:
          - webhook:
              url: "{{ hook }}"
              success: [{goto: done}]
              failure: [{say: Sorry.}]
    no_match:
      - say: Yes or no, please.
      - - say: Never mind.
        - stop
    timeouts:
      - after: 1m
        do: [{say: Still there?}]
  done:
    enter: [{say: Great.}, stop]
  unused:
    messages: [{any: true, goto: ask}]
"""


def _edges(edges: object) -> list[str]:
    return sorted(f"{e.source.name} -> {e.target.name}: {e.label}" for e in edges)  # type: ignore[attr-defined]


async def test_states_and_transitions_taken_are_counted(write: Callable[..., Path]) -> None:
    write("tiny.flow.yaml", TINY_FLOW)
    script = write(
        "tiny.test.yaml",
        """
        flow: tiny.flow.yaml
        scenarios:
          - name: a winding path
            webhooks: [{url: "http://hooks.test/answer", status: 200}]
            steps:
              - invite: maybe
              - say: huh
              - wait: 1m
              - say: check
              - expect: ended
          - name: a failing check, then a second miss
            webhooks: [{url: "http://hooks.test/answer", status: 500}]
            steps:
              - invite: check
              - say: huh
              - say: huh
              - expect: ended
        """,
    )
    run = await run_tests([script])
    assert run.passed, [str(r.failure) for r in run.results]
    ((key, cov),) = run.coverage.flows.items()
    assert key == str((script.parent / "tiny.flow.yaml").resolve())
    assert cov.states == {"ask", "done"}
    assert cov.missed_states() == ["unused"]
    assert round(cov.state_percent, 1) == 66.7
    assert _edges(cov.edges) == [
        'ask -> ask: "check" → webhook failed',
        'ask -> ask: "maybe"',
        "ask -> ask: after 1m",
        "ask -> ask: no match 1",
        'ask -> done: "check" → webhook ok',
        "ask -> end: no match 2+",
        "done -> end: ",
        "start -> ask: ",
    ]
    assert _edges(cov.missed_edges()) == [
        "any state -> end: idle 10m",
        "any state -> end: stop",
        'ask -> done: "yes"',
        "unused -> ask: any message",
    ]
    assert cov.edge_total == len(cov.edges) + 4


async def test_a_directory_counts_its_untested_flows(write: Callable[..., Path]) -> None:
    write("tiny.flow.yaml", TINY_FLOW)
    other = write("other.flow.yaml", TINY_FLOW.replace("name: tiny", "name: other"))
    script = write(
        "tiny.test.yaml",
        "flow: tiny.flow.yaml\nscenarios: [{name: x, steps: [invite, {say: 'yes'}]}]\n",
    )
    run = await run_tests([script.parent])
    assert run.passed
    untested = run.coverage.flows[str(other.resolve())]
    assert (untested.states, untested.edges, untested.state_percent) == (set(), set(), 0.0)


LOOP_FLOW = """
version: 1
name: loop
start: ask
settings: {idle_timeout: 10m}
commands:
  help: {keywords: [help], say: Type a number.}
states:
  ask:
    enter: [{say: Number?}]
    messages:
      - choice: [again]
        goto: ask
      - choice: [stay]
        say: Staying.
      - choice: [stop]
        do: [stop]
    timeouts:
      - after: 1m
        do: [{say: Still there?}]
    ended: [{log: gone}]
"""


async def test_a_handler_that_stays_is_taken_even_when_the_caller_leaves_next(
    write: Callable[..., Path],
) -> None:
    write("loop.flow.yaml", LOOP_FLOW)
    script = write(
        "loop.test.yaml",
        """
        flow: loop.flow.yaml
        scenarios:
          - name: stays, then leaves
            steps:
              - invite: stay
              - hang_up
          - name: a global command, then leaves
            steps:
              - invite: help
              - hang_up
          - name: a timeout, then leaves
            steps:
              - invite
              - wait: 1m
              - hang_up
          - name: goes round, then stops
            steps:
              - invite: again
              - say: stop
              - expect: ended
        """,
    )
    run = await run_tests([script])
    assert run.passed, [str(r.failure) for r in run.results]
    ((_, cov),) = run.coverage.flows.items()
    assert _edges(cov.edges) == sorted(
        [
            "start -> ask: ",
            'ask -> ask: "stay"',
            'ask -> ask: "again"',
            'ask -> end: "stop"',
            "any state -> any state: help",
            "ask -> ask: after 1m",
            "ask -> end: caller left",
        ]
    )
    assert cov.missed_edges() == [e for e in cov.graph.edges if "idle" in e.label]


async def test_a_handler_that_stays_as_the_last_step_is_counted(
    write: Callable[..., Path],
) -> None:
    # closing the scenario's stage ends the conversation; that end is not the handler's
    write("tiny.flow.yaml", TINY_FLOW)
    script = write(
        "tiny.test.yaml",
        """
        flow: tiny.flow.yaml
        scenarios:
          - name: ends on a loop
            steps:
              - invite
              - say: maybe
              - expect: {say: Yes or no?}
              - expect: {say: Think again.}
        """,
    )
    run = await run_tests([script])
    assert run.passed, [str(r.failure) for r in run.results]
    (cov,) = run.coverage.flows.values()
    assert 'ask -> ask: "maybe"' in _edges(cov.edges)


async def test_a_script_naming_its_flow_through_another_path_counts_all_the_same(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    # the directory finds tiny.flow.yaml; the script in sub/ names it ../tiny.flow.yaml
    write("tiny.flow.yaml", TINY_FLOW)
    (tmp_path / "sub").mkdir()
    script = write(
        "sub/tiny.test.yaml",
        """
        flow: ../tiny.flow.yaml
        scenarios:
          - name: one loop
            steps:
              - invite: maybe
              - expect: {say: Yes or no?}
              - expect: {say: Think again.}
        """,
    )
    alone = await run_tests([script])
    both = await run_tests([tmp_path])
    assert both.passed
    (cov_alone,) = alone.coverage.flows.values()
    (cov_both,) = both.coverage.flows.values()
    assert 'ask -> ask: "maybe"' in _edges(cov_both.edges)
    assert _edges(cov_both.edges) == _edges(cov_alone.edges)
    # the counts too (`test flows/ --json` wrote 0 for every state and edge)
    assert cov_both.state_counts == cov_alone.state_counts == {"ask": 1}
    assert cov_both.edge_counts == cov_alone.edge_counts


async def test_an_invitation_is_counted_on_the_rule_that_accepted_it(
    write: Callable[..., Path],
) -> None:
    # Every accepted invitation was counted on the first edge into its state: a caller
    # accepted by the default at 06:00 was counted as the 08:00-18:00 rule.
    write(
        "hours.flow.yaml",
        """
        version: 1
        name: hours
        start: desk
        settings: {idle_timeout: 5m, timezone: Europe/Paris}
        invitation:
          rules:
            - {hours: "08:00-18:00", action: accept}
            - {from: "sip:vip*@contoso.com", action: accept}
          default: accept
        states:
          desk:
            enter: [{say: Hello.}]
        """,
    )
    script = write(
        "hours.test.yaml",
        """
        flow: hours.flow.yaml
        scenarios:
          - name: early, by the default
            at: "2026-01-06T06:00:00+01:00"
            steps: [invite, {expect: {say: Hello.}}]
          - name: early, a vip
            caller: sip:vip1@contoso.com
            at: "2026-01-06T06:00:00+01:00"
            steps: [invite, {expect: {say: Hello.}}]
        """,
    )
    run = await run_tests([script])
    assert run.passed, [str(r.failure) for r in run.results]
    ((cov),) = run.coverage.flows.values()
    assert _edges(cov.edges) == [
        "start -> desk: accept sip:vip*@contoso.com",
        "start -> desk: otherwise accept",
    ]
    assert _edges(cov.missed_edges()) == [
        "any state -> end: idle 5m",
        "start -> desk: accept 08:00-18:00",
    ]

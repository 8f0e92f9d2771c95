"""``goto: back`` (issue 15, item 3, second half): the previous state, the back stack's
rules (re-entries do not count, bounded depth), the run-time error where there is no
previous state, the checks (F140, F141, F101 for a rule), the graph's dashed edges and
the coverage of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ucwa_flow.flow import BACK_DEPTH, load_flow, load_flow_text
from ucwa_flow.graph import EdgeKind, extract_flow, render_dot, render_mermaid
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.facts import Facts
from ucwa_flow.testing import Coverage, ScenarioResult, load_script, run_scenario

FLOW = """\
version: 1
name: backs
start: a
settings: {idle_timeout: 10m}
commands:
  back: {choice: ["0"], goto: back}
  where: {choice: ["?"], say: "in {{ state }}, back to {{ conversation.previous }}"}
states:
  a:
    enter: [{say: A}]
    messages:
      - choice: [b]
        goto: b
  b:
    enter: [{say: B}]
    messages:
      - choice: [c]
        goto: c
  c:
    enter: [{say: C}]
    messages:
      - choice: [again]
        goto: c
      - choice: [a]
        goto: a
"""

SCRIPT = """\
flow: backs.flow.yaml
scenarios:
  - name: back walks the history, re-entries aside
    steps:
      - invite
      - expect: {say: A}
      - say: b
      - expect: {say: B}
      - say: c
      - expect: {say: C}
      - say: again
      - expect: {say: C}
      - say: "?"
      - expect: {say: "in c, back to b"}
      - say: "0"
      - expect: {say: B}
      - expect: {state: b}
      - say: "0"
      - expect: {say: A}
      - expect: {state: a}
      - say: "0"
      - expect: silence
      - expect: {state: a}
  - name: a goto to an earlier state is history too
    steps:
      - invite: b
      - say: c
      - say: a
      - expect: {state: a}
      - say: "0"
      - expect: {state: c}
      - say: "0"
      - expect: {state: b}
"""


async def _results(path: Path) -> list[ScenarioResult]:
    loaded = load_script(path)
    assert loaded.script is not None, [str(d) for d in loaded.diagnostics]
    return [await run_scenario(loaded.script, sc) for sc in loaded.script.scenarios]


async def test_back_returns_to_the_previous_state(write: Callable[..., Path]) -> None:
    flow = write("backs.flow.yaml", FLOW)
    results = await _results(write("backs.test.yaml", SCRIPT))
    assert [str(r.failure) for r in results if r.failure] == []
    errors = [r for r in results[0].traces if isinstance(r, t.FlowError)]
    assert [(e.message, str(e.location)) for e in errors] == [
        ("goto back: there is no previous state to go back to", f"{flow}:6:31")
    ]


async def test_coverage_counts_back_edges(write: Callable[..., Path]) -> None:
    flow = write("backs.flow.yaml", FLOW)
    results = await _results(write("backs.test.yaml", SCRIPT))
    loaded = load_flow(flow).flow
    assert loaded is not None
    cov = Coverage().of("backs", loaded)
    for result in results:
        cov.add(result.traces)
    back = [e for e in cov.graph.edges if e.kind is EdgeKind.BACK]
    assert [(e.source.name, e.target.name, e.label) for e in back] == [
        ("any state", "any state", "0 → back")
    ]
    assert back[0] in cov.edges
    assert [e.label for e in cov.missed_edges()] == ["idle 10m"]


UP = """\
version: 1
name: ups
start: a
settings: {idle_timeout: 10m}
commands:
  home: {choice: [home], goto: a}
states:
  a:
    messages:
      - choice: [b]
        goto: b
      - choice: [up]
        goto: back
  b:
    messages:
      - choice: [c]
        goto: c
      - choice: [up]
        goto: back
  c:
    no_match:
      - goto: back
"""


def test_the_graph_draws_back_as_dashed_edges_to_where_it_may_return() -> None:
    result = load_flow_text(UP, "ups.flow.yaml")
    assert [str(d) for d in result.diagnostics] == []
    assert result.flow is not None
    graph = extract_flow(result.flow)
    back = [(e.source.name, e.target.name, e.label) for e in graph.edges if e.kind is EdgeKind.BACK]
    assert back == [
        ("a", "any state", '"up" → back'),  # only the global `home` leads into a
        ("b", "a", '"up" → back'),
        ("c", "b", "no match 1+ → back"),
    ]
    assert '"b" -> "a" [label="\\"up\\" → back", style="dashed"' in render_dot(graph)
    assert "    c --> b : ↩ no match 1+ → back\n" in render_mermaid(graph)


async def test_coverage_of_back_edges_to_states_and_to_any_state(
    write: Callable[..., Path],
) -> None:
    flow = write("ups.flow.yaml", UP)
    script = write(
        "ups.test.yaml",
        """
        flow: ups.flow.yaml
        scenarios:
          - name: up and up
            steps:
              - invite: b
              - say: c
              - say: what
              - expect: {state: b}
              - say: up
              - expect: {state: a}
              - say: b
              - say: home
              - say: up
              - expect: {state: b}
        """,
    )
    results = await _results(script)
    assert [str(r.failure) for r in results if r.failure] == []
    loaded = load_flow(flow).flow
    assert loaded is not None
    cov = Coverage().of("ups", loaded)
    cov.add(results[0].traces)
    taken = {(e.source.name, e.target.name) for e in cov.edges if e.kind is EdgeKind.BACK}
    assert taken == {("a", "any state"), ("b", "a"), ("c", "b")}


def test_the_back_stack_forgets_re_entries_and_is_bounded() -> None:
    facts = Facts()
    facts.entered(None, "a", back=False)
    assert facts.previous is None
    facts.entered("a", "a", back=False)
    assert facts.back == ()
    for i in range(BACK_DEPTH + 5):
        facts.entered(f"s{i}", f"s{i + 1}", back=False)
    assert len(facts.back) == BACK_DEPTH
    assert facts.previous == f"s{BACK_DEPTH + 4}"
    facts.entered(f"s{BACK_DEPTH + 5}", f"s{BACK_DEPTH + 4}", back=True)
    assert facts.previous == f"s{BACK_DEPTH + 3}"
    kept = {f"s{BACK_DEPTH + 2}", f"s{BACK_DEPTH + 3}"}  # a new flow version lost the others
    restored = Facts.from_data(facts.to_data(), kept)
    assert restored.back == (f"s{BACK_DEPTH + 2}", f"s{BACK_DEPTH + 3}")


CALLER = """\
version: 1
name: caller
start: a
settings: {idle_timeout: 10m}
states:
  a:
    enter: [{say: A}]
    messages: [{choice: [b], goto: b}]
  b:
    enter:
      - say: B
      - call: {flow: ask.subflow.yaml, returns: {answer: answer}}
      - say: "got {{ answer }}"
    messages: [{choice: ["0"], goto: back}]
"""

SUBFLOW = """\
version: 1
subflow: ask
returns: [answer]
variables: {answer: null}
start: ask
states:
  ask:
    enter: [{say: ask}]
    messages:
      - {choice: [more], goto: more}
      - {choice: ["0"], goto: back}
  more:
    enter: [{say: more}]
    messages:
      - {choice: ["0"], goto: back}
      - {choice: [done], do: [{return: {answer: yes}}]}
"""


async def test_a_sub_flow_has_a_history_of_its_own(write: Callable[..., Path]) -> None:
    write("caller.flow.yaml", CALLER)
    subflow = write("ask.subflow.yaml", SUBFLOW)
    script = write(
        "caller.test.yaml",
        """
        flow: caller.flow.yaml
        scenarios:
          - name: back inside and after a call
            steps:
              - invite
              - expect: {say: A}
              - say: b
              - expect: {say: B}
              - expect: {say: ask}
              - say: "0"
              - expect: {state: ask/ask}
              - say: more
              - expect: {say: more}
              - say: "0"
              - expect: {say: ask}
              - say: more
              - expect: {say: more}
              - say: done
              - expect: {say: got yes}
              - expect: {state: b}
              - say: "0"
              - expect: {say: A}
              - expect: {state: a}
        """,
    )
    (result,) = await _results(script)
    assert result.failure is None, str(result.failure)
    errors = [r for r in result.traces if isinstance(r, t.FlowError)]
    assert [(e.message, str(e.location)) for e in errors] == [
        ("goto back: there is no previous state to go back to", f"{subflow}:11:31")
    ]

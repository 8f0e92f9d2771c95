"""Extracting graphs from flows: the example flows and small flows written for one rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from ucwa_flow.flow import Flow, load_flow, load_flow_text
from ucwa_flow.graph import (
    ANY,
    END,
    START,
    Edge,
    EdgeKind,
    Graph,
    Node,
    NodeKind,
    extract_flow,
    render_dot,
    render_mermaid,
)

FLOWS = Path(__file__).resolve().parents[2] / "flows"
EXAMPLES = sorted(FLOWS.glob("*.flow.yaml"))


def _load(path: Path) -> Flow:
    result = load_flow(path)
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


def _graph(text: str) -> Graph:
    result = load_flow_text(text, "test.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return extract_flow(result.flow)


def _state(name: str) -> Node:
    return Node(NodeKind.STATE, name)


def _labels(graph: Graph, source: Node, target: Node) -> set[tuple[EdgeKind, str]]:
    return {(e.kind, e.label) for e in graph.edges if e.source == source and e.target == target}


def test_there_are_at_least_the_five_examples() -> None:
    names = {path.name for path in EXAMPLES}
    assert {
        "helpdesk.flow.yaml",
        "ivr-menu.flow.yaml",
        "after-hours.flow.yaml",
        "outbound-survey.flow.yaml",
        "echo.flow.yaml",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_state_appears_and_start_and_end_are_marked(path: Path) -> None:
    flow = _load(path)
    graph = extract_flow(flow)
    assert [node.name for node in graph.states] == list(flow.states)
    assert graph.nodes[0] == START
    assert graph.nodes[-1] == END
    assert any(edge.source == START for edge in graph.edges)
    assert any(edge.target == END for edge in graph.edges)
    # Every state but the start one is entered by some edge.
    entered = {edge.target for edge in graph.edges if edge.source != edge.target}
    assert set(graph.states) <= entered
    mermaid, dot = render_mermaid(graph), render_dot(graph)
    for name in flow.states:
        assert f'state "{name}" as ' in mermaid
        assert f'[label="{name}"]' in dot


def test_helpdesk_has_every_kind_of_trigger() -> None:
    graph = extract_flow(_load(FLOWS / "helpdesk.flow.yaml"))
    kinds = {edge.kind for edge in graph.edges}
    assert {
        EdgeKind.MESSAGE,
        EdgeKind.TIMEOUT,
        EdgeKind.NO_MATCH,
        EdgeKind.COMMAND,
        EdgeKind.INVITE,
        EdgeKind.WEBHOOK,
        EdgeKind.ENDED,
    } <= kinds
    menu, handoff = _state("menu"), _state("handoff")
    assert _labels(graph, menu, menu) >= {
        (EdgeKind.NO_MATCH, "no match 1-2"),
        (EdgeKind.TIMEOUT, "after 2m"),
    }
    assert (EdgeKind.NO_MATCH, "no match 3+") in _labels(graph, menu, handoff)
    assert (EdgeKind.TIMEOUT, "after 5m") in _labels(graph, menu, END)
    assert _labels(graph, _state("ask_employee_id"), _state("open_ticket")) == {
        (EdgeKind.MESSAGE, r"/\b(?P<employee_id>E\d{6})\b/")
    }
    assert _labels(graph, _state("open_ticket"), handoff) >= {(EdgeKind.WEBHOOK, "webhook failed")}
    assert _labels(graph, handoff, END) == {(EdgeKind.ENDED, "caller left")}
    # a handoff's ends: the agent's /done (its goto), the agent leaving, nobody taking it
    assert _labels(graph, handoff, _state("anything_else")) == {
        (EdgeKind.INVITE, "agent done"),
        (EdgeKind.INVITE, "agent left"),
        (EdgeKind.INVITE, "no answer"),
    }
    assert (EdgeKind.COMMAND, "agent, human, person, operator") in _labels(graph, ANY, handoff)
    assert (EdgeKind.TIMEOUT, "idle 30m") in _labels(graph, ANY, END)


def test_state_overrides_of_commands_are_drawn_from_the_state() -> None:
    graph = extract_flow(_load(FLOWS / "ivr-menu.flow.yaml"))
    assert (EdgeKind.COMMAND, "back, 0") in _labels(graph, _state("health"), _state("benefits"))
    assert (EdgeKind.COMMAND, "back, 0") in _labels(graph, _state("payroll"), _state("main"))
    # The global "back" (which stays put) is drawn once, from "any state".
    assert (EdgeKind.COMMAND, "back, 0") in _labels(graph, ANY, ANY)
    assert not _labels(graph, _state("main"), _state("main")) & {(EdgeKind.COMMAND, "back, 0")}


def test_time_of_day_policy_is_drawn_on_the_start_edges() -> None:
    graph = extract_flow(_load(FLOWS / "after-hours.flow.yaml"))
    assert _labels(graph, START, _state("office_hours")) == {
        (EdgeKind.EVENT, "accept sip:*@contoso.com, mon-fri, 08:00-18:00")
    }
    assert _labels(graph, START, _state("evening")) == {
        (EdgeKind.EVENT, "accept sip:*@contoso.com, mon-fri, 18:00-08:00")
    }
    assert _labels(graph, START, END) == {
        (EdgeKind.EVENT, "decline sip:*@contoso.com, sat,sun"),
        (EdgeKind.EVENT, "otherwise decline"),
    }


def test_outbound_flow_starts_with_the_invitation_outcomes() -> None:
    graph = extract_flow(_load(FLOWS / "outbound-survey.flow.yaml"))
    assert _labels(graph, START, _state("ask_score")) == {(EdgeKind.INVITE, "invite accepted")}
    assert _labels(graph, START, END) == {
        (EdgeKind.INVITE, "invite declined"),
        (EdgeKind.INVITE, "no answer"),
    }
    ask, comment, save = _state("ask_score"), _state("ask_comment"), _state("save")
    score = r"/^\s*(?P<score>[1-5])\s*(/\s*5)?\s*$/"
    assert _labels(graph, ask, comment) == {(EdgeKind.MESSAGE, f"{score} → if score | int <= 2")}
    assert _labels(graph, ask, save) == {(EdgeKind.MESSAGE, f"{score} → else")}


BRANCHES = """\
version: 1
name: branches
start: ask
variables: {vip: false, result: null}
states:
  ask:
    enter:
      - say: Hello
      - if: vip
        then: [{goto: vip_lane}]
    messages:
      - keywords: [order]
        do:
          - webhook:
              url: http://127.0.0.1:9/orders
              result: result
              success: [{say: done}]
              failure: [{goto: sorry}]
          - goto: done
      - match: 'x'
        say: stays here
    ended: [{log: bye}]
    delivery_failed: [stop]
  vip_lane:
    messages:
      - any: true
        do: [stop]
  sorry:
    messages:
      - any: true
        do: [stop]
  done:
    messages:
      - any: true
        do: [stop]
"""


def test_branches_become_labelled_paths() -> None:
    graph = _graph(BRANCHES)
    ask = _state("ask")
    # An enter `if` leads on only when true; the else path stays and draws nothing.
    assert _labels(graph, ask, _state("vip_lane")) == {(EdgeKind.ENTER, "if vip")}
    assert not _labels(graph, ask, ask) & {(EdgeKind.ENTER, "else")}
    # A webhook inside a handler: the failure branch leaves, the success one goes on.
    assert _labels(graph, ask, _state("sorry")) == {
        (EdgeKind.MESSAGE, "words: order → webhook failed")
    }
    assert _labels(graph, ask, _state("done")) == {(EdgeKind.MESSAGE, "words: order → webhook ok")}
    assert (EdgeKind.MESSAGE, "/x/") in _labels(graph, ask, ask)
    assert _labels(graph, ask, END) == {
        (EdgeKind.ENDED, "caller left"),
        (EdgeKind.DELIVERY_FAILED, "delivery failed"),
    }


def test_edge_identity_is_kind_and_label() -> None:
    graph = _graph(BRANCHES)
    edge = Edge(_state("vip_lane"), END, EdgeKind.MESSAGE, "any message")
    assert edge in graph.edges

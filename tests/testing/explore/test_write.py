"""Writing scripts: texts survive YAML exactly; the chosen paths take every transition."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from ucwa_flow.graph import Edge, EdgeKind, Node, NodeKind
from ucwa_flow.testing.explore._play import Play, Setup
from ucwa_flow.testing.explore._write import _text, choose


@pytest.mark.parametrize(
    "text", ["plain", 'quotes "x" and \\', "lines\nand\ttabs", "Grüße", "a\u2028b\x85c\ufeff"]
)
def test_a_text_reads_back_exactly(text: str) -> None:
    assert YAML(typ="safe").load("k: " + _text(text))["k"] == text


def _edge(name: str) -> Edge:
    state = Node(NodeKind.STATE, name)
    return Edge(state, state, EdgeKind.MESSAGE, name)


def test_choose_keeps_few_paths_that_take_every_transition() -> None:
    setup = Setup("sip:lenea@contoso.com", None, "x")
    a, b, c, d = (_edge(n) for n in "abcd")
    short = Play(setup, ())
    long = Play(setup, ())
    other = Play(setup, ())
    chosen = choose(
        [(short, frozenset({a})), (long, frozenset({a, b, c})), (other, frozenset({c, d}))]
    )
    assert [item.play for item in chosen] == [long, other]
    assert chosen[0].covers == tuple(sorted((a, b, c), key=lambda e: e.label))
    assert chosen[1].covers == (d,)

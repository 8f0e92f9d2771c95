"""The tutorial shows real output: its Mermaid example is what `graph` draws for echo."""

from __future__ import annotations

import re
from pathlib import Path

from ucwa_flow.flow import load_flow
from ucwa_flow.graph import extract_flow, render_mermaid

ROOT = Path(__file__).resolve().parents[2]


def test_tutorial_mermaid_block_matches_the_echo_graph() -> None:
    tutorial = (ROOT / "docs" / "tutorial.md").read_text()
    block = re.search(r"```mermaid\n(.*?)```", tutorial, re.DOTALL)
    assert block is not None
    flow = load_flow(ROOT / "flows" / "echo.flow.yaml").flow
    assert flow is not None
    assert block.group(1) == render_mermaid(extract_flow(flow))


def test_every_example_flow_named_in_the_tutorial_exists() -> None:
    tutorial = (ROOT / "docs" / "tutorial.md").read_text()
    named = set(re.findall(r"\(\.\./(flows/[\w.-]+\.flow\.yaml)\)", tutorial))
    assert len(named) >= 5
    for path in named:
        assert (ROOT / path).is_file(), path

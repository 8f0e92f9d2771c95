"""The lifecycle machines drawn as pictures (issue 14, item 4): SVG, PNG and HTML from
``ucwa-flow graph --lifecycle``, with no Graphviz on PATH (the built-in layout), and the
graph model a page gets from :func:`ucwa_flow.graph.lifecycle_graph`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.graph.test_cli import _run
from ucwa_flow.graph import LIFECYCLES, NodeKind, lifecycle_graph, render_svg
from ucwa_flow.lifecycle.conversation import STATES as CONVERSATION
from ucwa_flow.lifecycle.messaging import STATES as MESSAGING

SVG = "{http://www.w3.org/2000/svg}"


def _no_graphviz(tmp_path: Path) -> str:
    """A PATH with no ``dot`` on it (an empty folder)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    return str(empty)


@pytest.mark.parametrize("name", LIFECYCLES)
@pytest.mark.parametrize("fmt", ["svg", "png", "html"])
def test_lifecycle_pictures_without_graphviz(tmp_path: Path, name: str, fmt: str) -> None:
    out = tmp_path / f"{name}.{fmt}"
    done = _run("--lifecycle", name, "--format", fmt, "-o", str(out), path=_no_graphviz(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    data = out.read_bytes()
    if fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        return
    text = data.decode()
    if fmt == "html":
        assert text.lstrip().lower().startswith("<!doctype html>")
        drawn = set(re.findall(r'<g class="node state[^"]*" data-state="([^"]+)"', text))
    else:
        drawn = {
            g.get("data-state")
            for g in ET.fromstring(text).iter(f"{SVG}g")
            if "node" in (g.get("class") or "").split() and g.get("data-state")
        }
    assert drawn >= {node.name for node in lifecycle_graph(name).states}
    assert f"{name} lifecycle" in text


def test_the_models_states_are_the_live_boards_lifecycle_keys() -> None:
    assert [n.name for n in lifecycle_graph("conversation").states] == CONVERSATION
    assert [n.name for n in lifecycle_graph("messaging").states] == MESSAGING
    graph = lifecycle_graph("messaging")
    assert graph.title == "messaging lifecycle"
    assert any(e.source.kind is NodeKind.START for e in graph.edges)
    assert "Connecting" in render_svg(graph)
    with pytest.raises(KeyError):
        lifecycle_graph("presence")

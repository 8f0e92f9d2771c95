"""SVG/PNG through Graphviz's ``dot``: with it, without it, and when it misbehaves.

``dot`` is found on ``PATH``, so each test controls ``PATH``: an empty directory (no
Graphviz), a directory with a small stand-in script (to check what is passed to ``dot``
and how its failures are reported), or the real ``PATH`` when Graphviz is installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ucwa_flow.graph import (
    START,
    EdgeKind,
    Graph,
    GraphBuilder,
    GraphvizError,
    GraphvizNotFound,
    render_dot,
    render_image,
)


def _graph() -> Graph:
    builder = GraphBuilder("tiny")
    builder.add_edge(START, builder.add_state("menu"), EdgeKind.EVENT)
    return builder.build()


def _fake_dot(directory: Path, script: str) -> None:
    # PATH will hold only ``directory``, so the script names its tools by absolute path.
    tools = {name: shutil.which(name) for name in ("cat", "sleep")}
    path = directory / "dot"
    path.write_text("#!/bin/sh\n" + script.format(**tools))
    path.chmod(0o755)


def test_missing_dot_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotFound) as caught:
        render_image(_graph(), "svg", engine="graphviz")
    message = str(caught.value)
    assert "\n" not in message
    assert "apt-get install graphviz" in message
    assert "brew install graphviz" in message


def test_missing_dot_draws_with_the_builtin_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert b'data-state="menu"' in render_image(_graph(), "svg")
    assert render_image(_graph(), "png").startswith(b"\x89PNG\r\n\x1a\n")


def test_builtin_engine_ignores_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dot(tmp_path, "exit 3\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert b"<svg" in render_image(_graph(), "svg", engine="builtin")


def test_dot_gets_the_format_and_the_dot_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_dot(tmp_path, 'echo "args: $*"\n{cat}\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    output = render_image(_graph(), "png")
    assert output == b"args: -Tpng\n" + render_dot(_graph()).encode()


def test_dot_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dot(tmp_path, 'echo "Error: syntax error in line 3" >&2\necho more >&2\nexit 1\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        GraphvizError, match=r"^Graphviz `dot` failed: Error: syntax error in line 3$"
    ):
        render_image(_graph(), "svg")


def test_hung_dot_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dot(tmp_path, "exec {sleep} 30\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizError, match=r"longer than 0\.2 s"):
        render_image(_graph(), "svg", timeout=0.2)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_real_graphviz_draws_svg_and_png() -> None:
    svg = render_image(_graph(), "svg")
    assert b"<svg" in svg
    assert b">menu</text>" in svg
    png = render_image(_graph(), "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

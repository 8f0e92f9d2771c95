"""A big flow's PNG is kept within the size cap, and ``graph`` says it was scaled.

A 400-state flow came out as a PNG of about a hundred megapixels (434 for a wider one):
gigabytes to draw, a file no viewer opens. The built-in layout is drawn through the CLI
with no Graphviz on ``PATH``; the Graphviz path runs a stand-in ``dot`` that answers
``-Tplain`` with a drawing's size and ``-Tpng`` with a PNG header as big as the DPI it is
given makes it (the real one is not installed on every machine).
"""

from __future__ import annotations

import io
import os
import struct
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.graph.test_cli import _run
from ucwa_flow.graph import START, EdgeKind, Graph, GraphBuilder, render_image
from ucwa_flow.graph._fit import MAX_PIXELS, MAX_SIDE

STATES = 400


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _within_cap(size: tuple[int, int]) -> bool:
    width, height = size
    return 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE and width * height <= MAX_PIXELS


def _big_flow(path: Path, count: int = STATES) -> Path:
    """A menu tree: each state offers three more, and "back" to the top."""
    lines = ["version: 1", "name: big", "start: s000", "settings:", "  idle_timeout: 10m"]
    lines.append("states:")
    for n in range(count):
        lines += [f"  s{n:03d}:", "    messages:"]
        children = [c for c in (3 * n + 1, 3 * n + 2, 3 * n + 3) if c < count]
        for choice, child in enumerate(children, start=1):
            lines += [f'      - choice: ["{choice}", item {child}]', f"        goto: s{child:03d}"]
        lines += ["      - choice: [back]", "        goto: s000"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_400_state_flow_png_is_drawn_within_the_cap(tmp_path: Path) -> None:
    flow = _big_flow(tmp_path / "big.flow.yaml")
    out = tmp_path / "big.png"
    no_graphviz = tmp_path / "bin"
    no_graphviz.mkdir()
    done = _run(str(flow), "--format", "png", "-o", str(out), path=str(no_graphviz))
    assert done.returncode == 0, done.stderr.decode()
    data = out.read_bytes()
    size = _png_size(data)
    assert _within_cap(size), size
    assert max(size) >= MAX_SIDE // 2  # scaled to the cap, not to a thumbnail
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # a whole, readable PNG
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ucwa-flow: note: the picture is ")
    assert f"scaled down to {size[0]}x{size[1]} px" in lines[0]
    assert "--format svg" in lines[0]


def test_a_small_flow_png_is_not_scaled(tmp_path: Path) -> None:
    out = tmp_path / "helpdesk.png"
    no_graphviz = tmp_path / "bin"
    no_graphviz.mkdir()
    done = _run("flows/helpdesk.flow.yaml", "-o", str(out), path=str(no_graphviz))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    assert _within_cap(_png_size(out.read_bytes()))


_STAND_IN = """#!{python}
import struct, sys, zlib
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(" ".join(args) + "\\n")
if "-Tplain" in args:
    print("graph 1 {inches_wide} {inches_high}")
    sys.exit(0)
dpi = 96.0
for arg in args:
    if arg.startswith("-Gdpi="):
        dpi = float(arg[6:])
pad = 8 / 72  # Graphviz's 4-point margin on each side
width, height = (round(({inches_wide} + pad) * dpi), round(({inches_high} + pad) * dpi))
header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
chunk = b"IHDR" + header
sys.stdout.buffer.write(
    b"\\x89PNG\\r\\n\\x1a\\n" + struct.pack(">I", 13) + chunk
    + struct.pack(">I", zlib.crc32(chunk))
)
"""


def _stand_in_dot(directory: Path, inches: tuple[float, float]) -> Path:
    directory.mkdir(exist_ok=True)
    log = directory / "calls.log"
    script = _STAND_IN.format(
        python=sys.executable, log=str(log), inches_wide=inches[0], inches_high=inches[1]
    )
    dot = directory / "dot"
    dot.write_text(script, encoding="utf-8")
    dot.chmod(0o755)
    return log


def _tiny() -> Graph:
    builder = GraphBuilder("tiny")
    builder.add_edge(START, builder.add_state("menu"), EdgeKind.EVENT)
    return builder.build()


def test_graphviz_draws_a_big_png_at_a_lower_dpi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _stand_in_dot(tmp_path / "bin", (800.0, 15.0))  # 76800 x 1440 px at 96 DPI
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    notices: list[str] = []
    png = render_image(_tiny(), "png", engine="graphviz", notice=notices.append)
    size = _png_size(png)
    assert _within_cap(size), size
    assert size[0] >= MAX_SIDE * 0.9
    calls = log.read_text(encoding="utf-8").splitlines()
    assert calls[0] == "-Tplain"
    assert calls[1].startswith("-Tpng -Gdpi=")
    assert len(notices) == 1
    assert notices[0].startswith("the picture is 76800x1440 px at full size")


def test_graphviz_draws_a_small_png_as_it_always_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _stand_in_dot(tmp_path / "bin", (8.0, 3.0))
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    notices: list[str] = []
    png = render_image(_tiny(), "png", engine="graphviz", notice=notices.append)
    assert _png_size(png) == (779, 299)
    assert log.read_text(encoding="utf-8").splitlines() == ["-Tplain", "-Tpng"]
    assert notices == []


def test_a_flow_scaled_far_down_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 2,000-state flow is scaled to about 1/20: its boxes are a few pixels wide at
    # fractional corners, where Pillow's rounded_rectangle raised "x1 must be greater
    # than or equal to x0" (a traceback from `graph -o big.png`). The pizza menu drawn
    # at scales around that hits the same corners in a moment (0.0425 did).
    from ucwa_flow.flow import load_flow
    from ucwa_flow.graph import _png, extract_flow

    flow = load_flow("flows/pizza-menu.flow.yaml").flow
    assert flow is not None
    graph = extract_flow(flow)
    for step in range(20):
        factor = 0.03 + step * 0.0025
        monkeypatch.setattr(_png, "fit", lambda width, height, factor=factor: factor)
        data = _png.render_png(graph)
        with Image.open(io.BytesIO(data)) as image:
            image.verify()

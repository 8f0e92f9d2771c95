"""Render a :class:`Graph` as PNG with Pillow: the built-in layout, drawn directly.

Pillow installs as a wheel with FreeType and its own font inside, so text is drawn on a
machine with no fonts and no Graphviz. That font has only the ASCII letters: a text with
others (a state named "Grüße", keywords in Hebrew or Chinese) is drawn with the first of
:data:`SYSTEM_FONTS` installed that has all its letters, else with its accents left off
(``ü`` as ``u``). The layout is the SVG's
(:func:`~ucwa_flow.graph._layout.layout_graph`), measured with that font, and drawn at
:data:`SCALE` times its size so the text stays crisp. Colours and dashes come from the
same table as the SVG's and the DOT's.
"""

from __future__ import annotations

import io
import itertools
import math
import unicodedata
from functools import cache
from typing import Any

from ucwa_flow.graph._curves import Point, sample
from ucwa_flow.graph._dot import EDGE_STYLES
from ucwa_flow.graph._layout import (
    LABEL_FONT,
    NODE_FONT,
    PlacedEdge,
    PlacedNode,
    layout_graph,
    tag_text,
)
from ucwa_flow.graph._model import Graph, NodeKind
from ucwa_flow.graph._svg import DASHES, edge_color

__all__ = ["SCALE", "SYSTEM_FONTS", "render_png"]

#: pixels per layout unit
SCALE = 2
#: characters the bundled font may lack, and what is drawn instead
_ASCII = str.maketrans({"→": "->", "…": "...", "“": '"', "”": '"', "’": "'"})
#: letters that have no accent to leave off, and their plain spelling
_PLAIN = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o"})
#: fonts (found by Pillow in the system's font folders) for the letters the bundled one lacks
SYSTEM_FONTS = (
    "DejaVuSans.ttf",  # most Linux distributions
    "NotoSans-Regular.ttf",
    "LiberationSans-Regular.ttf",
    "NotoSansCJK-Regular.ttc",  # Chinese, Japanese, Korean
    "Arial Unicode.ttf",  # macOS
    "arial.ttf",  # Windows
    "msyh.ttc",  # Windows: Chinese
)
#: a character no font has: what a font draws for a letter it lacks
_NO_LETTER = "\U0010fffd"


@cache
def _font(size: float, name: str | None = None) -> Any:
    from PIL import ImageFont

    if name is None:
        return ImageFont.load_default(size=size * SCALE)
    return ImageFont.truetype(name, size * SCALE)


@cache
def _installed() -> tuple[str, ...]:
    found = []
    for name in SYSTEM_FONTS:
        try:
            _font(10, name)
        except OSError:  # not installed here
            continue
        found.append(name)
    return tuple(found)


@cache
def _has(name: str | None, char: str) -> bool:
    """Whether the font draws ``char`` as a letter of its own, not as its missing-letter box."""
    font = _font(10, name)
    missing = font.getmask(_NO_LETTER)
    mask = font.getmask(char)
    return mask.size != missing.size or bytes(mask) != bytes(missing)


@cache
def _face(text: str, size: float) -> tuple[Any, str]:
    """The font to draw ``text`` with, and the text as drawn."""
    ascii_text = text.translate(_ASCII)
    if all(_has(None, char) for char in set(ascii_text)):
        return _font(size), ascii_text
    plain = unicodedata.normalize("NFKD", ascii_text.translate(_PLAIN))
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    best, lacks = None, sum(not _has(None, char) for char in plain)
    for name in _installed():  # the font that lacks the fewest letters, the first of equals
        missing = sum(not (char.isspace() or _has(name, char)) for char in text)
        if missing < lacks or (best is None and missing == lacks):  # real letters, not plain
            best, lacks = name, missing
    return (_font(size), plain) if best is None else (_font(size, best), text)


def _write(draw: Any, at: Point, text: str, color: str, size: float) -> None:
    face, shown = _face(text, size)
    draw.text(at, shown, color, font=face)


def _measure(text: str, size: float) -> float:
    face, shown = _face(text, size)
    return float(face.getlength(shown)) / SCALE


def render_png(graph: Graph) -> bytes:
    """The PNG file of ``graph``, laid out by the built-in layout."""
    from PIL import Image, ImageDraw

    layout = layout_graph(graph, _measure)
    size = (max(1, math.ceil(layout.width * SCALE)), max(1, math.ceil(layout.height * SCALE)))
    image = Image.new("RGB", size, "#ffffff")
    draw = ImageDraw.Draw(image)
    title_width = _measure(layout.title, NODE_FONT + 3)
    _write(
        draw, _px(((layout.width - title_width) / 2, 10)), layout.title, "#000000", NODE_FONT + 3
    )
    for edge in layout.edges:
        _draw_edge(draw, edge)
    for node in layout.nodes:
        _draw_node(draw, node)
    for edge in layout.edges:
        if edge.end is not None:
            _draw_node(draw, edge.end)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _px(point: Point) -> tuple[float, float]:
    return (point[0] * SCALE, point[1] * SCALE)


def _draw_edge(draw: Any, placed: PlacedEdge) -> None:
    color = edge_color(placed.edge.kind)
    dash = DASHES.get(EDGE_STYLES[placed.edge.kind].get("style", ""), "")
    pattern = [float(part) * SCALE for part in dash.split()] if dash else []
    points = [_px(point) for point in sample(placed.points)]
    _polyline(draw, points, color, pattern)
    _arrow(draw, points[-2], points[-1], color)
    if placed.label_at is not None and placed.edge.label:
        x, y = placed.label_at
        _write(draw, _px((x, y + 2)), placed.edge.label, color, LABEL_FONT)


def _polyline(draw: Any, points: list[Point], color: str, pattern: list[float]) -> None:
    """Draw the line through ``points``, dashed by ``pattern`` (on, off, ...) if given."""
    width = round(1.3 * SCALE)
    if not pattern:
        draw.line(points, fill=color, width=width, joint="curve")
        return
    step, left = 0, pattern[0]  # the dash (or gap) under way, and how much of it is left
    for start, end in itertools.pairwise(points):
        length, done = math.dist(start, end), 0.0
        while length - done > 1e-9:
            part = min(left, length - done)
            if step % 2 == 0:
                t0, t1 = done / length, (done + part) / length
                a = (start[0] + (end[0] - start[0]) * t0, start[1] + (end[1] - start[1]) * t0)
                b = (start[0] + (end[0] - start[0]) * t1, start[1] + (end[1] - start[1]) * t1)
                draw.line([a, b], fill=color, width=width)
            done, left = done + part, left - part
            if left <= 1e-9:
                step += 1
                left = pattern[step % len(pattern)]


def _arrow(draw: Any, before: Point, tip: Point, color: str) -> None:
    angle = math.atan2(tip[1] - before[1], tip[0] - before[0])
    size = 7 * SCALE
    left = (tip[0] - size * math.cos(angle - 0.4), tip[1] - size * math.sin(angle - 0.4))
    right = (tip[0] - size * math.cos(angle + 0.4), tip[1] - size * math.sin(angle + 0.4))
    draw.polygon([tip, left, right], fill=color)


def _draw_node(draw: Any, placed: PlacedNode) -> None:
    node = placed.node
    cx, cy = _px(placed.center)
    radius = placed.width / 2 * SCALE
    if node.kind is NodeKind.START:
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill="#000000")
        return
    if node.kind is NodeKind.END:
        box = [cx - radius, cy - radius, cx + radius, cy + radius]
        draw.ellipse(box, fill="#ffffff", outline="#000000", width=3)
        inner = radius - 4 * SCALE
        draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill="#000000")
        return
    x, y = _px((placed.x, placed.y))
    box = [x, y, x + placed.width * SCALE, y + placed.height * SCALE]
    if placed.stand_in:  # a tag standing for a state far up the picture
        draw.rounded_rectangle(box, radius=placed.height * SCALE / 2, outline="#64748b", width=2)
        text_at = _px((placed.x + 10, placed.y + 6))
        _write(draw, text_at, tag_text(node.name), "#334155", LABEL_FONT)
        return
    draw.rounded_rectangle(box, radius=6 * SCALE, fill="#f8fafc", outline="#334155", width=3)
    name_width = _measure(node.name, NODE_FONT)
    name_at = (placed.x + (placed.width - name_width) / 2, placed.y + 5)
    label = node.name if node.kind is NodeKind.STATE else f"[{node.name}]"
    _write(draw, _px(name_at), label, "#000000", NODE_FONT)
    row_y = placed.y + 7 + NODE_FONT + 2
    for edge in placed.loops:
        color = edge_color(edge.kind)
        lx, ly = _px((placed.x + 10, row_y + 2))
        draw.arc([lx, ly, lx + 8 * SCALE, ly + 8 * SCALE], 90, 360, fill=color, width=2)
        text_at = _px((placed.x + 20, row_y))
        _write(draw, text_at, edge.label or "stays", color, LABEL_FONT)
        row_y += 15

"""Render a :class:`Graph` as PNG with Pillow: the built-in layout, drawn directly.

Pillow installs as a wheel with FreeType and its own font inside, so text is drawn on a
machine with no fonts and no Graphviz. That font has only the ASCII letters: a text with
others (a state named "Grüße", keywords in Hebrew or Chinese) is drawn with the first of
:data:`SYSTEM_FONTS` installed that has all its letters, else with its accents left off
(``ü`` as ``u``). The layout is the SVG's
(:func:`~ucwa_flow.graph._layout.layout_graph`), measured with that font, and drawn at
:data:`SCALE` times its size so the text stays crisp; a picture that would be over the
PNG cap (:mod:`ucwa_flow.graph._fit`) is drawn at a smaller scale instead, and
``notice`` is told so. Colours and dashes come from the same table as the SVG's and the
DOT's.
"""

from __future__ import annotations

import io
import itertools
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from ucwa_flow.graph._curves import Point, sample
from ucwa_flow.graph._dot import EDGE_STYLES
from ucwa_flow.graph._fit import fit, scaled_notice
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
def _font(pixels: float, name: str | None = None) -> Any:
    """The font ``pixels`` high (the bundled one unless ``name`` is given)."""
    from PIL import ImageFont

    if name is None:
        return ImageFont.load_default(size=pixels)
    return ImageFont.truetype(name, pixels)


@cache
def _installed() -> tuple[str, ...]:
    found = []
    for name in SYSTEM_FONTS:
        try:
            _font(10 * SCALE, name)
        except OSError:  # not installed here
            continue
        found.append(name)
    return tuple(found)


@cache
def _has(name: str | None, char: str) -> bool:
    """Whether the font draws ``char`` as a letter of its own, not as its missing-letter box."""
    font = _font(10 * SCALE, name)
    missing = font.getmask(_NO_LETTER)
    mask = font.getmask(char)
    return mask.size != missing.size or bytes(mask) != bytes(missing)


@cache
def _face(text: str, pixels: float) -> tuple[Any, str]:
    """The font to draw ``text`` with ``pixels`` high, and the text as drawn."""
    ascii_text = text.translate(_ASCII)
    if all(_has(None, char) for char in set(ascii_text)):
        return _font(pixels), ascii_text
    plain = unicodedata.normalize("NFKD", ascii_text.translate(_PLAIN))
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    best, lacks = None, sum(not _has(None, char) for char in plain)
    for name in _installed():  # the font that lacks the fewest letters, the first of equals
        missing = sum(not (char.isspace() or _has(name, char)) for char in text)
        if missing < lacks or (best is None and missing == lacks):  # real letters, not plain
            best, lacks = name, missing
    return (_font(pixels), plain) if best is None else (_font(pixels, best), text)


def _measure(text: str, size: float) -> float:
    face, shown = _face(text, size * SCALE)
    return float(face.getlength(shown)) / SCALE


@dataclass(frozen=True)
class _Pen:
    """Draws on ``draw`` at ``scale`` pixels per layout unit."""

    draw: Any
    scale: float

    def px(self, point: Point) -> tuple[float, float]:
        return (point[0] * self.scale, point[1] * self.scale)

    def width(self, pixels: float) -> int:
        """A line ``pixels`` wide at full scale, at least one pixel at this one."""
        return max(1, round(pixels * self.scale / SCALE))

    def write(self, at: Point, text: str, color: str, size: float) -> None:
        face, shown = _face(text, max(1.0, size * self.scale))
        self.draw.text(self.px(at), shown, color, font=face)


def render_png(graph: Graph, *, notice: Callable[[str], None] | None = None) -> bytes:
    """The PNG file of ``graph``, laid out by the built-in layout; one over the size cap
    is drawn smaller, and ``notice`` (if given) gets the line that says so."""
    from PIL import Image, ImageDraw

    layout = layout_graph(graph, _measure)
    natural = (max(1, math.ceil(layout.width * SCALE)), max(1, math.ceil(layout.height * SCALE)))
    factor = fit(*natural)
    size = natural
    if factor < 1:
        size = (max(1, math.floor(natural[0] * factor)), max(1, math.floor(natural[1] * factor)))
        if notice is not None:
            notice(scaled_notice(natural, size))
    image = Image.new("RGB", size, "#ffffff")
    pen = _Pen(ImageDraw.Draw(image), SCALE * factor)
    title_width = _measure(layout.title, NODE_FONT + 3)
    pen.write(((layout.width - title_width) / 2, 10), layout.title, "#000000", NODE_FONT + 3)
    for edge in layout.edges:
        _draw_edge(pen, edge)
    for node in layout.nodes:
        _draw_node(pen, node)
    for edge in layout.edges:
        if edge.end is not None:
            _draw_node(pen, edge.end)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _draw_edge(pen: _Pen, placed: PlacedEdge) -> None:
    color = edge_color(placed.edge.kind)
    dash = DASHES.get(EDGE_STYLES[placed.edge.kind].get("style", ""), "")
    pattern = [float(part) * pen.scale for part in dash.split()] if dash else []
    points = [pen.px(point) for point in sample(placed.points)]
    _polyline(pen, points, color, pattern)
    _arrow(pen, points[-2], points[-1], color)
    if placed.label_at is not None and placed.edge.label:
        x, y = placed.label_at
        pen.write((x, y + 2), placed.edge.label, color, LABEL_FONT)


def _polyline(pen: _Pen, points: list[Point], color: str, pattern: list[float]) -> None:
    """Draw the line through ``points``, dashed by ``pattern`` (on, off, ...) if given."""
    draw, width = pen.draw, pen.width(1.3 * SCALE)
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


def _arrow(pen: _Pen, before: Point, tip: Point, color: str) -> None:
    angle = math.atan2(tip[1] - before[1], tip[0] - before[0])
    size = 7 * pen.scale
    left = (tip[0] - size * math.cos(angle - 0.4), tip[1] - size * math.sin(angle - 0.4))
    right = (tip[0] - size * math.cos(angle + 0.4), tip[1] - size * math.sin(angle + 0.4))
    pen.draw.polygon([tip, left, right], fill=color)


def _rounded(draw: Any, box: list[float], radius: float, **style: Any) -> None:
    """A rounded box on whole pixels: Pillow's ``rounded_rectangle`` fails on a box a
    few pixels wide at fractional corners, which a big flow scaled down has."""
    x0, y0, x1, y1 = (round(value) for value in box)
    x1, y1 = max(x0, x1), max(y0, y1)
    corner = int(min(radius, (x1 - x0) / 2, (y1 - y0) / 2))
    draw.rounded_rectangle([x0, y0, x1, y1], radius=corner, **style)


def _draw_node(pen: _Pen, placed: PlacedNode) -> None:
    node, draw, scale = placed.node, pen.draw, pen.scale
    cx, cy = pen.px(placed.center)
    radius = placed.width / 2 * scale
    if node.kind is NodeKind.START:
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill="#000000")
        return
    if node.kind is NodeKind.END:
        box = [cx - radius, cy - radius, cx + radius, cy + radius]
        draw.ellipse(box, fill="#ffffff", outline="#000000", width=pen.width(3))
        inner = max(0.0, radius - 4 * scale)
        draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill="#000000")
        return
    x, y = pen.px((placed.x, placed.y))
    box = [x, y, x + placed.width * scale, y + placed.height * scale]
    if placed.stand_in:  # a tag standing for a state far up the picture
        _rounded(draw, box, placed.height * scale / 2, outline="#64748b", width=pen.width(2))
        pen.write((placed.x + 10, placed.y + 6), tag_text(node.name), "#334155", LABEL_FONT)
        return
    _rounded(draw, box, 6 * scale, fill="#f8fafc", outline="#334155", width=pen.width(3))
    name_width = _measure(node.name, NODE_FONT)
    name_at = (placed.x + (placed.width - name_width) / 2, placed.y + 5)
    label = node.name if node.kind is NodeKind.STATE else f"[{node.name}]"
    pen.write(name_at, label, "#000000", NODE_FONT)
    row_y = placed.y + 7 + NODE_FONT + 2
    for edge in placed.loops:
        color = edge_color(edge.kind)
        lx, ly = pen.px((placed.x + 10, row_y + 2))
        arc = [lx, ly, lx + 8 * scale, ly + 8 * scale]
        draw.arc(arc, 90, 360, fill=color, width=pen.width(2))
        pen.write((placed.x + 20, row_y), edge.label or "stays", color, LABEL_FONT)
        row_y += 15

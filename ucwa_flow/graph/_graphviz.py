"""SVG and PNG images: through Graphviz's ``dot`` when it is installed, else built in.

Graphviz is an optional system package, not a Python dependency. With ``engine="auto"``
(the default) :func:`render_image` pipes the DOT text of
:func:`~ucwa_flow.graph.render_dot` into ``dot -Tsvg`` (or ``-Tpng``) when ``dot`` is on
``PATH``, and otherwise draws the picture itself (:mod:`ucwa_flow.graph._svg`, and
:mod:`ucwa_flow.graph._png` through Pillow, a dependency), so a fresh machine gets a
picture too. ``engine="graphviz"`` insists on ``dot`` (:class:`GraphvizNotFound`, whose
message says how to install it, without it); ``engine="builtin"`` never runs it.

For a PNG, ``dot -Tplain`` first says how big the drawing is: one over the size cap of
:mod:`ucwa_flow.graph._fit` is drawn at a lower DPI (Graphviz draws bitmaps at 96 DPI
unless told; should it still come out too big, again lower), and ``notice`` is told so.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import Literal, TypeAlias

from ucwa_flow.errors import OperationalError
from ucwa_flow.graph._dot import render_dot
from ucwa_flow.graph._fit import fit, png_size, scaled_notice
from ucwa_flow.graph._model import Graph

__all__ = ["ENGINES", "Engine", "GraphvizError", "GraphvizNotFound", "ImageFormat", "render_image"]

#: the image formats :func:`render_image` produces
ImageFormat: TypeAlias = Literal["svg", "png"]
#: who draws an image: Graphviz when found (auto), Graphviz only, or the built-in layout
Engine: TypeAlias = Literal["auto", "graphviz", "builtin"]
ENGINES: tuple[Engine, ...] = ("auto", "graphviz", "builtin")

#: the DPI Graphviz draws a bitmap at when none is given
GRAPHVIZ_DPI = 96.0
#: a little under the DPI that fits, for the margin Graphviz adds around a drawing
_MARGIN = 0.98

INSTALL_HINT = (
    "install Graphviz (apt-get install graphviz, or brew install graphviz) or use --engine builtin"
)


class GraphvizError(OperationalError):
    """Graphviz could not turn the DOT text into an image."""


class GraphvizNotFound(GraphvizError):
    """The ``dot`` program of Graphviz is not installed (or not on ``PATH``)."""


def render_image(
    graph: Graph,
    image_format: ImageFormat,
    *,
    engine: Engine = "auto",
    timeout: float = 30.0,
    notice: Callable[[str], None] | None = None,
) -> bytes:
    """Draw ``graph`` as an SVG or PNG image and return the file's bytes.

    ``dot`` is looked up on ``PATH`` at each call (unless ``engine`` is ``builtin``);
    without it, ``auto`` draws with the built-in layout. Raises :class:`GraphvizNotFound`
    when ``engine`` is ``graphviz`` and ``dot`` is missing, and :class:`GraphvizError`
    when ``dot`` fails or runs longer than ``timeout`` seconds (it is killed then). A PNG
    over the size cap is drawn smaller, and ``notice`` (if given) gets a line saying so.
    """
    executable = None if engine == "builtin" else shutil.which("dot")
    if executable is None and engine != "graphviz":
        return _builtin(graph, image_format, notice)
    if executable is None:
        raise GraphvizNotFound(
            f"{image_format} output needs Graphviz's `dot` program: {INSTALL_HINT}"
        )
    text = render_dot(graph)
    if image_format != "png":
        return _dot(executable, text, image_format, (), timeout)
    natural = _size(executable, text, timeout)
    dpi = GRAPHVIZ_DPI
    if natural is not None and fit(*natural) < 1:
        dpi *= fit(*natural) * _MARGIN
    image = _png(executable, text, dpi, timeout)
    drawn = png_size(image)
    natural = natural or drawn
    for _ in range(2):  # still over (Graphviz's margin, another DPI): lower it again
        if drawn is None or fit(*drawn) == 1:
            break
        dpi *= fit(*drawn) * _MARGIN
        image = _png(executable, text, dpi, timeout)
        drawn = png_size(image)
    if notice is not None and natural is not None and drawn is not None and dpi < GRAPHVIZ_DPI:
        notice(scaled_notice(natural, drawn))
    return image


def _png(executable: str, text: str, dpi: float, timeout: float) -> bytes:
    options = () if dpi == GRAPHVIZ_DPI else (f"-Gdpi={dpi:.4f}",)
    return _dot(executable, text, "png", options, timeout)


def _size(executable: str, text: str, timeout: float) -> tuple[int, int] | None:
    """The size in pixels (at Graphviz's DPI) of the picture ``dot`` lays ``text`` out as,
    from the first line of its plain output (``graph SCALE WIDTH HEIGHT``, in inches)."""
    plain = _dot(executable, text, "plain", (), timeout).decode("utf-8", "replace")
    fields = plain.split("\n", 1)[0].split()
    try:
        if len(fields) != 4 or fields[0] != "graph":
            return None
        width, height = float(fields[2]), float(fields[3])
    except ValueError:
        return None
    return math.ceil(width * GRAPHVIZ_DPI), math.ceil(height * GRAPHVIZ_DPI)


def _dot(executable: str, text: str, output: str, options: Sequence[str], timeout: float) -> bytes:
    try:
        completed = subprocess.run(
            [executable, f"-T{output}", *options],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GraphvizError(
            f"Graphviz `dot` took longer than {timeout:g} s and was stopped"
        ) from None
    except OSError as exc:
        raise GraphvizError(
            f"could not run Graphviz `dot` ({executable}): {exc.strerror}"
        ) from None
    if completed.returncode != 0:
        detail = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[0] if detail else f"exit status {completed.returncode}"
        raise GraphvizError(f"Graphviz `dot` failed: {reason}")
    return completed.stdout


def _builtin(
    graph: Graph, image_format: ImageFormat, notice: Callable[[str], None] | None
) -> bytes:
    if image_format == "png":
        from ucwa_flow.graph._png import render_png

        return render_png(graph, notice=notice)
    from ucwa_flow.graph._svg import render_svg

    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + render_svg(graph)).encode("utf-8")

"""SVG and PNG images: through Graphviz's ``dot`` when it is installed, else built in.

Graphviz is an optional system package, not a Python dependency. With ``engine="auto"``
(the default) :func:`render_image` pipes the DOT text of
:func:`~ucwa_flow.graph.render_dot` into ``dot -Tsvg`` (or ``-Tpng``) when ``dot`` is on
``PATH``, and otherwise draws the picture itself (:mod:`ucwa_flow.graph._svg`, and
:mod:`ucwa_flow.graph._png` through Pillow, a dependency), so a fresh machine gets a
picture too. ``engine="graphviz"`` insists on ``dot`` (:class:`GraphvizNotFound`, whose
message says how to install it, without it); ``engine="builtin"`` never runs it.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Literal, TypeAlias

from ucwa_flow.errors import OperationalError
from ucwa_flow.graph._dot import render_dot
from ucwa_flow.graph._model import Graph

__all__ = ["ENGINES", "Engine", "GraphvizError", "GraphvizNotFound", "ImageFormat", "render_image"]

#: the image formats :func:`render_image` produces
ImageFormat: TypeAlias = Literal["svg", "png"]
#: who draws an image: Graphviz when found (auto), Graphviz only, or the built-in layout
Engine: TypeAlias = Literal["auto", "graphviz", "builtin"]
ENGINES: tuple[Engine, ...] = ("auto", "graphviz", "builtin")

INSTALL_HINT = (
    "install Graphviz (apt-get install graphviz, or brew install graphviz) or use --engine builtin"
)


class GraphvizError(OperationalError):
    """Graphviz could not turn the DOT text into an image."""


class GraphvizNotFound(GraphvizError):
    """The ``dot`` program of Graphviz is not installed (or not on ``PATH``)."""


def render_image(
    graph: Graph, image_format: ImageFormat, *, engine: Engine = "auto", timeout: float = 30.0
) -> bytes:
    """Draw ``graph`` as an SVG or PNG image and return the file's bytes.

    ``dot`` is looked up on ``PATH`` at each call (unless ``engine`` is ``builtin``);
    without it, ``auto`` draws with the built-in layout. Raises :class:`GraphvizNotFound`
    when ``engine`` is ``graphviz`` and ``dot`` is missing, and :class:`GraphvizError`
    when ``dot`` fails or runs longer than ``timeout`` seconds (it is killed then).
    """
    executable = None if engine == "builtin" else shutil.which("dot")
    if executable is None and engine != "graphviz":
        return _builtin(graph, image_format)
    if executable is None:
        raise GraphvizNotFound(
            f"{image_format} output needs Graphviz's `dot` program: {INSTALL_HINT}"
        )
    try:
        completed = subprocess.run(
            [executable, f"-T{image_format}"],
            input=render_dot(graph).encode("utf-8"),
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


def _builtin(graph: Graph, image_format: ImageFormat) -> bytes:
    if image_format == "png":
        from ucwa_flow.graph._png import render_png

        return render_png(graph)
    from ucwa_flow.graph._svg import render_svg

    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + render_svg(graph)).encode("utf-8")

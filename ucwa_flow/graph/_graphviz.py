"""SVG and PNG images through Graphviz's ``dot`` program, when it is installed.

Graphviz is an optional system package, not a Python dependency: the DOT text is
produced by :func:`~ucwa_flow.graph.render_dot` and piped into ``dot -Tsvg`` (or
``-Tpng``) as a subprocess with a time limit. When ``dot`` is not on ``PATH`` the caller
gets :class:`GraphvizNotFound`, whose message says how to install it.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Literal, TypeAlias

from ucwa_flow.errors import OperationalError
from ucwa_flow.graph._dot import render_dot
from ucwa_flow.graph._model import Graph

__all__ = ["GraphvizError", "GraphvizNotFound", "ImageFormat", "render_image"]

#: the image formats :func:`render_image` produces
ImageFormat: TypeAlias = Literal["svg", "png"]

INSTALL_HINT = (
    "install Graphviz (apt-get install graphviz, or brew install graphviz) "
    "or use --format mermaid or --format dot"
)


class GraphvizError(OperationalError):
    """Graphviz could not turn the DOT text into an image."""


class GraphvizNotFound(GraphvizError):
    """The ``dot`` program of Graphviz is not installed (or not on ``PATH``)."""


def render_image(graph: Graph, image_format: ImageFormat, *, timeout: float = 30.0) -> bytes:
    """Draw ``graph`` as an SVG or PNG image with Graphviz and return the file's bytes.

    ``dot`` is looked up on ``PATH`` at each call. Raises :class:`GraphvizNotFound` when
    it is missing, and :class:`GraphvizError` when it fails or runs longer than
    ``timeout`` seconds (it is killed then).
    """
    executable = shutil.which("dot")
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

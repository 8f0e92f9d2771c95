"""The size cap of a PNG picture: a big flow is drawn smaller, not as a giant file.

A 400-state flow laid out at full size is tens of thousands of pixels wide: hundreds of
megapixels, gigabytes of memory to draw, and a file no viewer opens. A PNG is therefore
kept within :data:`MAX_SIDE` pixels a side and :data:`MAX_PIXELS` in all; a picture over
either is drawn scaled down (the built-in layout at a smaller scale, Graphviz at a lower
DPI), and :func:`scaled_notice` is the one line that says so (SVG has no such limit).
"""

from __future__ import annotations

import math
import struct

__all__ = ["MAX_PIXELS", "MAX_SIDE", "fit", "png_size", "scaled_notice"]

#: the widest (or tallest) PNG drawn, in pixels
MAX_SIDE = 16_384
#: the most pixels a PNG has (25 megapixels)
MAX_PIXELS = 25_000_000

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fit(width: float, height: float) -> float:
    """The factor (at most 1) that brings a ``width`` x ``height`` picture within the cap."""
    factor = 1.0
    if width > MAX_SIDE or height > MAX_SIDE:
        factor = min(MAX_SIDE / max(width, 1.0), MAX_SIDE / max(height, 1.0))
    if width * height * factor * factor > MAX_PIXELS:
        factor = min(factor, math.sqrt(MAX_PIXELS / (width * height)))
    return factor


def png_size(data: bytes) -> tuple[int, int] | None:
    """The width and height a PNG file's header gives (``None``: not a PNG)."""
    if len(data) < 24 or not data.startswith(_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def scaled_notice(natural: tuple[int, int], drawn: tuple[int, int]) -> str:
    """The line that says a picture was scaled down to fit the cap."""
    return (
        f"the picture is {natural[0]}x{natural[1]} px at full size, over the PNG limit "
        f"({MAX_SIDE} px a side, {MAX_PIXELS // 1_000_000} megapixels): scaled down to "
        f"{drawn[0]}x{drawn[1]} px; draw a big flow as SVG (--format svg) to keep its text "
        "readable"
    )

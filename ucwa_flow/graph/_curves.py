"""Smooth edge routes: the layout's polyline turned into cubic Bézier curves.

A route passes through its points in order (source border, virtual nodes, label slot,
target border); :func:`bezier` gives the Catmull-Rom curve through them as cubic
segments, which SVG draws as is and :func:`sample` turns into short lines for Pillow,
which draws no curves. Both pictures so bend the same way. A control point stays within
half its segment's length of its end, so that a curve does not swing far past a sharp
turn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["Point", "Segment", "bezier", "sample"]

Point = tuple[float, float]
#: start, first control point, second control point, end
Segment = tuple[Point, Point, Point, Point]


def bezier(points: Sequence[Point]) -> list[Segment]:
    """The cubic segments of the Catmull-Rom curve through ``points`` (two or more)."""
    segments: list[Segment] = []
    last = len(points) - 1
    for i in range(last):
        before, start = points[max(i - 1, 0)], points[i]
        end, after = points[i + 1], points[min(i + 2, last)]
        reach = math.dist(start, end) / 2
        first = _offset(start, (end[0] - before[0]) / 6, (end[1] - before[1]) / 6, reach)
        second = _offset(end, (start[0] - after[0]) / 6, (start[1] - after[1]) / 6, reach)
        segments.append((start, first, second, end))
    return segments


def _offset(point: Point, dx: float, dy: float, reach: float) -> Point:
    """``point`` moved by (dx, dy), at most ``reach`` far: a short segment after a long
    one (a drop beside a label after a run across the picture) would otherwise swing far
    past its ends, out of the picture."""
    length = math.hypot(dx, dy)
    if length > reach > 0:
        dx, dy = dx * reach / length, dy * reach / length
    return (point[0] + dx, point[1] + dy)


def sample(points: Sequence[Point], steps: int = 8) -> list[Point]:
    """Points along the curve through ``points``, ``steps`` per segment, ends included."""
    out: list[Point] = [points[0]]
    for p0, p1, p2, p3 in bezier(points):
        for step in range(1, steps + 1):
            t = step / steps
            u = 1 - t
            a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
            out.append(
                (
                    a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                    a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1],
                )
            )
    return out

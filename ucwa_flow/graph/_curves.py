"""Smooth edge routes: the layout's polyline turned into cubic Bézier curves.

A route passes through its points in order (source border, virtual nodes, label slot,
target border); :func:`bezier` gives the Catmull-Rom curve through them as cubic
segments, which SVG draws as is and :func:`sample` turns into short lines for Pillow,
which draws no curves. Both pictures so bend the same way.
"""

from __future__ import annotations

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
        first = (start[0] + (end[0] - before[0]) / 6, start[1] + (end[1] - before[1]) / 6)
        second = (end[0] - (after[0] - start[0]) / 6, end[1] - (after[1] - start[1]) / 6)
        segments.append((start, first, second, end))
    return segments


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

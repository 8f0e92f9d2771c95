"""Durations as flow authors write them: ``90s``, ``2m``, ``1h30m``, ``250ms`` or a number.

A bare number is a count of seconds. Units: ``ms``, ``s``, ``m``, ``h``, ``d``; parts may be
combined, conventionally largest first (``1h30m``; the parts add up), and may have decimals
(``1.5m``). The schema checks the shape with :data:`DURATION_PATTERN`; :func:`parse_duration`
turns it into seconds.
"""

from __future__ import annotations

import re

__all__ = ["DURATION_PATTERN", "format_duration", "parse_duration"]

#: the JSON Schema ``pattern`` for a duration string (kept in sync with the schema file)
DURATION_PATTERN = r"^\s*([0-9]+(\.[0-9]+)?\s*(ms|s|m|h|d)\s*)+$"

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | int | float) -> float:
    """Return the duration in seconds; raise :class:`ValueError` for a malformed one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is negative")
        return float(value)
    if not re.fullmatch(DURATION_PATTERN, value):
        raise ValueError(f"{value!r} is not a duration such as 90s, 2m or 1h30m")
    return sum(float(number) * _SECONDS[unit] for number, unit in _PART.findall(value))


def format_duration(seconds: float) -> str:
    """The shortest readable spelling of ``seconds``: 90 -> ``1m30s``, 0.05 -> ``50ms``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)

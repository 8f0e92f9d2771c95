"""Durations as operators write them: ``45s``, ``90m``, ``2h``, ``30d``, ``1w``, ``1d12h``.

The command line (``--older-than 30d``, :mod:`ucwa_flow.cli._times`) and the deployment
file (``retention: 30d``, :mod:`ucwa_flow.deploy`) share this one parser. It is plain
text to seconds, with no dependency, so both can import it without importing each other.
Flows have their own spelling (milliseconds, bare numbers): :mod:`ucwa_flow.flow._durations`.
"""

from __future__ import annotations

import re

__all__ = ["parse_duration"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")


def parse_duration(text: str) -> float:
    """``"30d"`` -> seconds; a :class:`ValueError` saying what is accepted otherwise."""
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION.fullmatch(compact):
        raise ValueError(f"{text!r} is not a duration: write e.g. 45s, 90m, 2h, 30d, 1w or 1d12h")
    return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(compact))

"""Times on the command line: ``2h``, ``30d``, ``2026-01-05T09:00``; shown as UTC.

The store keeps times as epoch seconds. An operator writes them two ways:

* a duration, ``45s``, ``90m``, ``2h``, ``30d``, ``1w``, or several together (``1d12h``);
  as a moment (``--since 2h``) it means that long before now;
* an ISO-8601 date or time, ``2026-01-05``, ``2026-01-05T09:30``, ``2026-01-05 09:30:00+01:00``;
  without an offset it is UTC, as every time the commands print is.

:class:`Duration` and :class:`Moment` are the matching :mod:`click` parameter types; a value
that is neither form is a usage error naming the option and the forms it takes. Durations
are parsed by :func:`ucwa_flow.durations.parse_duration`, which deployment files share.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from ucwa_flow.durations import parse_duration

__all__ = [
    "EARLIEST",
    "Duration",
    "Moment",
    "format_time",
    "iso_time",
    "parse_duration",
    "parse_moment",
]

#: the earliest time a date can show (the second day of the year 1, UTC), as epoch
#: seconds: a duration before now that goes further back means this
EARLIEST = datetime(1, 1, 2, tzinfo=UTC).timestamp()


def parse_moment(text: str, now: float) -> float:
    """A duration ago (``"2h"``: two hours before ``now``) or an ISO-8601 time, as epoch
    seconds; a :class:`ValueError` saying what is accepted otherwise."""
    try:
        return max(now - parse_duration(text), EARLIEST)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a time (2026-01-05, 2026-01-05T09:30, ...) nor a duration "
            "before now (2h, 3d, ...)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_time(at: float) -> str:
    """``2026-01-05 09:00:12Z``: to the second, UTC."""
    stamp = datetime.fromtimestamp(at, UTC).isoformat(sep=" ", timespec="seconds")
    return stamp.replace("+00:00", "Z")  # (strftime's %Y wrote the year 1 as "1")


def iso_time(at: float) -> str:
    """``2026-01-05T09:00:12.345Z``: ISO-8601 to the millisecond, UTC (for JSON output)."""
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


if TYPE_CHECKING:
    _Seconds = click.ParamType[float]
else:  # click before 8.3 has no type parameters
    _Seconds = click.ParamType


class Duration(_Seconds):
    """A duration option (``30d``), converted to seconds."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            seconds = parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail(f"{value!r} is no time at all", param, ctx)
        return seconds


class Moment(_Seconds):
    """A time option (``2026-01-05T09:00`` or ``2h`` ago), converted to epoch seconds."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_moment(str(value), time.time())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)

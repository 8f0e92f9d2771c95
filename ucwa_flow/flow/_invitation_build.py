"""Compiling a flow's ``invitation`` policy (:class:`~ucwa_flow.flow._invitation.InvitationPolicy`).

The schema has checked the shape; here each rule's time zone is looked up (F114), its
``hours`` parsed as a time-of-day range (F115), its ``days`` turned into ISO weekday
numbers, and its texts compiled as templates. Time zones elsewhere in a flow
(``settings.timezone``) are checked by :func:`check_zone` too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ucwa_flow.flow._build_base import BuilderBase, text_of
from ucwa_flow.flow._loader import Path
from ucwa_flow.flow._model import InvitationPolicy, InvitationRule, TimeWindow

__all__ = ["build_invitation", "check_zone", "globs"]

_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_HOURS = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def build_invitation(
    builder: BuilderBase, raw: Mapping[str, Any] | None, path: Path
) -> InvitationPolicy:
    """The policy at ``path`` (``raw``: its mapping; none written: accept everyone)."""
    if raw is None:
        return InvitationPolicy()
    rules = [
        _rule(builder, item, (*path, "rules", i)) for i, item in enumerate(raw.get("rules", []))
    ]
    return InvitationPolicy(
        rules=tuple(rules),
        default=raw.get("default", "accept"),
        decline_message=builder.template(raw.get("decline_message"), (*path, "decline_message")),
        location=builder.loc(path, key=True),
    )


def check_zone(builder: BuilderBase, name: str, path: Path) -> None:
    """Report F114 at ``path`` unless ``name`` is a time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        builder.report(
            path,
            "F114",
            f"unknown time zone {name!r} (use an IANA name such as Europe/Paris or UTC)",
        )


def globs(raw: str | list[str] | None) -> tuple[str, ...]:
    """One pattern or a list of them, as a tuple (none written: empty)."""
    if raw is None:
        return ()
    return (raw,) if isinstance(raw, str) else tuple(raw)


def _rule(builder: BuilderBase, raw: Mapping[str, Any], path: Path) -> InvitationRule:
    timezone = raw.get("timezone", builder.settings.timezone)
    if "timezone" in raw:
        check_zone(builder, timezone, (*path, "timezone"))
    days = raw.get("days")
    return InvitationRule(
        callers=globs(raw.get("from")),
        subjects=globs(raw.get("subject")),
        hours=_hours(builder, raw["hours"], (*path, "hours")) if "hours" in raw else None,
        days=frozenset(_DAYS[d] for d in days) if days else None,
        timezone=timezone,
        action=raw["action"],
        goto=text_of(raw["goto"]) if "goto" in raw else None,
        message=builder.template(raw.get("message"), (*path, "message")),
        location=builder.loc(path),
    )


def _hours(builder: BuilderBase, raw: str, path: Path) -> TimeWindow | None:
    match = _HOURS.fullmatch(raw)
    numbers = [int(n) for n in match.groups()] if match else []
    if (
        len(numbers) == 4
        and max(numbers[0], numbers[2]) < 24
        and max(numbers[1], numbers[3]) < 60
        and numbers[:2] != numbers[2:]
    ):
        return TimeWindow(time(numbers[0], numbers[1]), time(numbers[2], numbers[3]))
    builder.report(
        path,
        "F115",
        f"{raw!r} is not a time range such as 08:00-18:00 "
        "(hours 0-23, minutes 0-59, start and end different)",
    )
    return None

"""The invitation policy of a flow: who is accepted, when, and where they start.

An incoming invitation is checked against the flow's rules in order (caller, subject,
day and time of day in the rule's time zone); the first rule that matches decides, else
the policy's default does. Part of the compiled model (:mod:`ucwa_flow.flow._model`
re-exports these classes); the builder makes them, the runtime asks
:meth:`InvitationPolicy.decide`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from ucwa_flow.flow._diagnostics import Location
from ucwa_flow.flow._sandbox import Template

__all__ = ["InvitationPolicy", "InvitationRule", "TimeWindow"]


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A time-of-day window; ``end`` before ``start`` wraps past midnight."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True, slots=True)
class InvitationRule:
    """One rule of the invitation policy; every condition given must hold.

    ``callers`` and ``subjects`` are shell-style globs (``sip:*@contoso.com``), matched
    case-insensitively; ``days`` are ISO weekdays (1 = Monday). ``goto`` overrides the
    start state for accepted conversations; ``message`` is sent before a decline.
    """

    callers: tuple[str, ...]
    subjects: tuple[str, ...]
    hours: TimeWindow | None
    days: frozenset[int] | None
    timezone: str
    action: Literal["accept", "decline"]
    goto: str | None
    message: Template | None
    location: Location

    def matches(self, caller_uri: str | None, subject: str, now: datetime) -> bool:
        """Whether an invitation from ``caller_uri`` with ``subject`` at ``now`` fits
        (``None``: a caller not known, as in a replay's recording without one, meets
        every ``from:`` glob)."""
        if self.callers and caller_uri is not None and not _glob_any(caller_uri, self.callers):
            return False
        if self.subjects and not _glob_any(subject, self.subjects):
            return False
        local = now.astimezone(ZoneInfo(self.timezone))
        if self.days is not None and local.isoweekday() not in self.days:
            return False
        return self.hours is None or self.hours.contains(local.time())


def _glob_any(text: str, globs: tuple[str, ...]) -> bool:
    folded = text.casefold()
    return any(fnmatch.fnmatchcase(folded, glob.casefold()) for glob in globs)


@dataclass(frozen=True, slots=True)
class InvitationPolicy:
    """How incoming invitations are answered: the first matching rule wins, else ``default``."""

    rules: tuple[InvitationRule, ...] = ()
    default: Literal["accept", "decline"] = "accept"
    decline_message: Template | None = None
    location: Location | None = None

    def decide(self, caller_uri: str | None, subject: str, now: datetime) -> InvitationRule | None:
        """The first rule that matches, or ``None`` when :attr:`default` applies
        (``caller_uri`` ``None``: see :meth:`InvitationRule.matches`)."""
        for rule in self.rules:
            if rule.matches(caller_uri, subject, now):
                return rule
        return None

"""The ways into a flow: who calls and when, so that each entry of the invitation policy
(every rule, and the default) is taken once.

An inbound flow without rules has one way in: the default caller invites the bot. With
rules, each rule needs a caller and a moment that it matches *before* any earlier rule
(the first matching rule wins): the explorer tries the default caller, a caller made
from each rule's address globs and an outsider, without a subject and with one made from
each rule's subject globs, on every half hour of one week in the rule's time zone, and
asks the flow's own :meth:`~ucwa_flow.flow.InvitationRule.matches`.
An outbound flow is entered by the bot's own invitation of its first ``outbound.to``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ucwa_flow.flow import Flow, InvitationRule
from ucwa_flow.graph._flow import _default_label, _rule_label, _shorten
from ucwa_flow.testing._script import DEFAULT_CALLER
from ucwa_flow.testing.explore._play import Setup

__all__ = ["Entries", "entries"]

_OUTSIDER = "sip:visitor@example.org"
_MONDAY = (2026, 1, 5)


@dataclass(slots=True)
class Entries:
    """The setups to start from, and the entries no setup takes (edge label -> why)."""

    setups: list[Setup]
    missed: dict[str, str]


def entries(flow: Flow) -> Entries:
    """A :class:`Setup` for each way into ``flow`` (see the module docstring)."""
    found = Entries([], {})
    if flow.outbound is not None:
        to = [uri.lower() for uri in flow.outbound.to]
        caller = DEFAULT_CALLER if DEFAULT_CALLER in to else to[0]
        found.setups.append(Setup(caller, None, "outbound invitation"))
        if not flow.invitation.rules:
            return found
    policy = flow.invitation
    if not policy.rules:
        found.setups.append(Setup(DEFAULT_CALLER, None, f"invitation ({policy.default})"))
        return found
    for index in [*range(len(policy.rules)), None]:
        setup = _first_fit(flow, index)
        label = _shorten(_rule_label(policy.rules[index])) if index is not None else ""
        label = label or _default_label(policy)
        if setup is not None:
            found.setups.append(setup)
            continue
        why = "no caller and time tried fits it before an earlier rule"
        unmade = _unmade(policy.rules[index]) if index is not None else None
        if unmade is not None:
            why = unmade
        catch_all = next((r for r in policy.rules[:index] if _takes_all(r)), None)
        if catch_all is not None:
            why = f"the rule at line {catch_all.location.line} takes every invitation before it"
        found.missed[label] = why
    return found


def _first_fit(flow: Flow, index: int | None) -> Setup | None:
    rules = flow.invitation.rules
    timed = any(rule.days is not None or rule.hours is not None for rule in rules)
    moments: list[datetime | None] = list(_week(flow.settings.timezone)) if timed else [None]
    for subject in _subjects(rules):
        for caller in _callers(rules):
            for moment in moments:
                if _decided_by(rules, caller, subject, moment) == index:
                    rule = rules[index] if index is not None else None
                    default = f"default {flow.invitation.default}"
                    label = _label(rule) if rule is not None else default
                    return Setup(caller, moment, label, subject=subject)
    return None


def _decided_by(
    rules: tuple[InvitationRule, ...], caller: str, subject: str, moment: datetime | None
) -> int | None:
    now = moment or datetime(*_MONDAY, 10, tzinfo=ZoneInfo("UTC"))
    for index, rule in enumerate(rules):
        if rule.matches(caller, subject, now):
            return index
    return None


def _callers(rules: tuple[InvitationRule, ...]) -> list[str]:
    found = [DEFAULT_CALLER]
    for rule in rules:
        for glob in rule.callers:
            uri = _example(glob, "explorer")
            if uri is not None:
                found.append(uri if uri.startswith("sip:") else "sip:" + uri)
    found.append(_OUTSIDER)
    return list(dict.fromkeys(uri.lower() for uri in found))


def _subjects(rules: tuple[InvitationRule, ...]) -> list[str]:
    """No subject first (what most scripts do), then one for each subject glob."""
    found = [""]
    for rule in rules:
        for glob in rule.subjects:
            text = _example(glob, "")
            if text:
                found.append(text)
    return list(dict.fromkeys(found))


#: the characters tried for a ``[...]`` set of a glob, the set's own ones before these
_TRIED = "abcdefghijklmnopqrstuvwxyz0123456789 -_.@"


def _example(glob: str, star: str) -> str | None:
    """A text the case-insensitive shell-style ``glob`` matches: ``star`` for each ``*``,
    ``x`` for each ``?``, a character of each ``[...]`` set (``[!...]``: one outside it);
    ``None`` when none is found (``[!a-z0-9 -_.@]``, say)."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        end = _set_end(glob, i) if char == "[" else -1
        if end > 0:
            group = glob[i : end + 1]
            inner = glob[i + 1 : end].casefold()  # matched case-insensitively
            pool = _TRIED + inner if inner.startswith("!") else inner + _TRIED
            picked = next((c for c in pool if fnmatch.fnmatchcase(c, group.casefold())), None)
            if picked is None:
                return None
            out.append(picked)
            i = end + 1
            continue
        out.append(star if char == "*" else "x" if char == "?" else char)
        i += 1
    text = "".join(out)
    return text if fnmatch.fnmatchcase(text.casefold(), glob.casefold()) else None


def _set_end(glob: str, start: int) -> int:
    """The index of the ``]`` closing the set opened at ``start`` as :mod:`fnmatch` reads
    it (a ``]`` first in the set, after any ``!``, is one of its characters); -1 when
    the ``[`` opens none and stands for itself."""
    i = start + 1
    if i < len(glob) and glob[i] == "!":
        i += 1
    if i < len(glob) and glob[i] == "]":
        i += 1
    return glob.find("]", i)


def _unmade(rule: InvitationRule) -> str | None:
    """Why the explorer cannot invite as ``rule`` wants: no text it can make matches any
    of the rule's subject (or caller) patterns; ``None`` when it can."""
    for what, globs, star, example in (
        ("subject", rule.subjects, "", 'invite: {subject: "..."}'),
        ("caller", rule.callers, "explorer", "caller: sip:..."),
    ):
        if globs and all(_example(glob, star) is None for glob in globs):
            shown = ", ".join(f'"{glob}"' for glob in globs)
            return (
                f"the explorer made no {what} that {shown} matches: write a scenario "
                f"with one ({example})"
            )
    return None


def _week(timezone: str) -> Iterator[datetime]:
    """Every half hour of a week in ``timezone``: 10:00 on each day first, then 10:30...
    (a scenario at a readable time of the right day)."""
    zone = ZoneInfo(timezone)
    for half_hours in range(48):
        for day in range(7):
            start = datetime(*_MONDAY, 10, tzinfo=zone) + timedelta(days=day)
            yield start + timedelta(minutes=30 * half_hours)


def _takes_all(rule: InvitationRule) -> bool:
    return not (rule.callers or rule.subjects or rule.days is not None or rule.hours is not None)


def _label(rule: InvitationRule) -> str:
    return f"invitation rule at line {rule.location.line} ({rule.action})"

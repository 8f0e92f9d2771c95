"""Checks of a test script that need more than one step, or the flow's variables.

The loader (:mod:`._loader`) runs them once the script has no YAML or schema error:

* ``T005``: two scenarios of a script with one name (results and failures are reported by
  name, so the second would read as the first);
* ``T006``: ``expect: {variable: {NAME: ...}}`` names a variable the flow never declares
  or sets, in any of its scopes (its sub-flows' too): such a step can only fail;
* ``T007``: a ``wait`` that is not a number of seconds, or that takes the scenario's
  virtual clock past the end of the year 9999 (the clock starts at ``at``, else at
  :data:`~ucwa_flow.clock.MANUAL_START`, and only waits move it that far), and a webhook
  ``delay`` that is not a number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from ucwa_flow.clock import MANUAL_START
from ucwa_flow.flow import Diagnostic, Location, Severity
from ucwa_flow.flow._name_checks import suggest
from ucwa_flow.testing import _script as s

__all__ = ["clock_left", "days", "duplicate_names", "unknown_variables", "wait_problems"]

#: the last instant the virtual clock can show
_CLOCK_END = datetime.max.replace(tzinfo=UTC)


def _error(location: Location, code: str, message: str) -> Diagnostic:
    return Diagnostic(location.file, location.line, location.col, code, Severity.ERROR, message)


def clock_left(now: datetime) -> float:
    """The seconds the virtual clock can still move from ``now``."""
    return (_CLOCK_END - now.astimezone(UTC)).total_seconds()


def days(seconds: float) -> str:
    """``2912345d (about 7974 years)``: a long span in whole days, as a wait is written."""
    if not math.isfinite(seconds):
        return str(seconds)
    whole = int(seconds // 86400)
    years = round(seconds / (365.25 * 86400))
    return f"{whole}d (about {years} years)" if years > 1 else f"{whole}d"


def duplicate_names(scenarios: Iterable[s.Scenario]) -> Iterator[Diagnostic]:
    """T005 at each scenario named like an earlier one, naming the first one's line."""
    first: dict[str, Location] = {}
    for scenario in scenarios:
        earlier = first.get(scenario.name)
        if earlier is None:
            first[scenario.name] = scenario.location
        else:
            yield _error(
                scenario.location,
                "T005",
                f"another scenario is named {scenario.name!r} (line {earlier.line}): "
                "give each scenario its own name",
            )


def unknown_variables(
    names: Iterable[str], flow_name: str, known: frozenset[str], locate: Callable[[str], Location]
) -> Iterator[Diagnostic]:
    """T006 for each of ``names`` the flow never declares or sets (``known``)."""
    for name in names:
        if name not in known:
            sets = ", ".join(sorted(known)) or "none"
            yield _error(
                locate(name),
                "T006",
                f"flow {flow_name!r} never declares or sets a variable {name!r} "
                f"(its variables: {sets})" + suggest(name, known),
            )


def wait_problems(scenario: s.Scenario) -> Iterator[Diagnostic]:
    """T007 for a ``wait`` or a ``delay`` the virtual clock cannot take (see the module)."""
    for hook in scenario.webhooks:
        if math.isnan(hook.delay):
            yield _error(hook.location, "T007", "delay: nan is not a number of seconds")
    start = scenario.at or MANUAL_START
    left = clock_left(start)
    for step in scenario.steps:
        if not isinstance(step, s.Wait):
            continue
        if math.isnan(step.seconds):
            yield _error(step.location, "T007", f"wait: {step.spelled} is not a number of seconds")
        elif step.seconds > left:
            more = "" if left == clock_left(start) else " more, after the waits before it"
            yield _error(
                step.location,
                "T007",
                f"wait: {step.spelled} is too long: the virtual clock starts at "
                f"{start.astimezone(UTC):%Y-%m-%d %H:%M} UTC and stops at the end of the year "
                f"9999, so the scenario can wait at most {days(left)}{more}",
            )
            return
        else:
            left -= step.seconds

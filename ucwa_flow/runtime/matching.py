"""Which handler answers a caller's message: the state's commands, then its handlers.

:func:`first_match` tries, in order, the commands in force in a state (its own, then the
global ones it did not override or disable) and its message handlers (:func:`candidates`),
and returns the first that matches with its captures and the id of its action list. A
pattern that runs out of time counts as no match; the ``reporter`` hears of it (the
instance reports it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ucwa_flow.flow import (
    Location,
    MatchTimeout,
    MessageHandler,
    State,
    command_list_id,
    handler_list_id,
)

__all__ = ["Candidate", "Matched", "Reporter", "candidates", "first_match"]

#: the handler that matched, the id of its action list, and its captures
Matched = tuple[MessageHandler, str, dict[str, str]]

#: a command or handler of a state, the id of its action list, and its matcher's ``match``
#: (``None`` for ``any``, which matches every message with no captures)
Candidate = tuple[MessageHandler, str, Callable[[str], dict[str, str] | None] | None]


def candidates(state: State) -> tuple[Candidate, ...]:
    """The commands in force in ``state`` (its own, then the global ones it did not
    override or disable), then its handlers, in the order they are tried, each with the
    id of its action list. The same for every message: the caller keeps it
    (:meth:`Plans.candidates <ucwa_flow.runtime.flowmachine.Plans.candidates>`)."""
    found: list[Candidate] = []
    for j, handler in enumerate(state.commands):
        found.append(_candidate(handler, command_list_id(state.name, handler.name or str(j))))
    for j, handler in enumerate(state.handlers):
        found.append(_candidate(handler, handler_list_id(state.name, j)))
    return tuple(found)


def _candidate(handler: MessageHandler, list_id: str) -> Candidate:
    matcher = handler.matcher
    return handler, list_id, None if matcher.is_catch_all else matcher.match


class Reporter(Protocol):
    """Who hears of a pattern that ran out of time (a flow instance)."""

    def report_error(self, message: str, location: Location | None) -> None: ...


def first_match(tried: tuple[Candidate, ...], text: str, reporter: Reporter) -> Matched | None:
    """The first of ``tried`` (:func:`candidates`) that matches ``text``, if any; a
    pattern that ran out of time is told to ``reporter`` (an object, not a bound method:
    none is made a message)."""
    for handler, list_id, match in tried:
        if match is None:  # ``any``: what its matcher's ``match`` gives, a call less
            return handler, list_id, {}
        try:
            captures = match(text)  # handler.match(text), a call less, no bound method made
        except MatchTimeout as exc:
            reporter.report_error(str(exc), handler.location)
            continue
        if captures is not None:
            return handler, list_id, captures
    return None

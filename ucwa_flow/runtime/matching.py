"""Which handler answers a caller's message: the state's commands, then its handlers.

:func:`first_match` tries, in order, the commands in force in a state (its own, then the
global ones it did not override or disable) and its message handlers, and returns the
first that matches with its captures and the id of its action list. A pattern that runs
out of time counts as no match; ``timed_out`` hears of it (the instance reports it).
"""

from __future__ import annotations

from collections.abc import Callable

from ucwa_flow.flow import (
    Location,
    MatchTimeout,
    MessageHandler,
    State,
    command_list_id,
    handler_list_id,
)

__all__ = ["Matched", "first_match"]

#: the handler that matched, the id of its action list, and its captures
Matched = tuple[MessageHandler, str, dict[str, str]]


def first_match(
    state: State, text: str, timed_out: Callable[[str, Location], None]
) -> Matched | None:
    """The first command or handler of ``state`` that matches ``text``, if any."""
    commands = len(state.commands)
    for j, handler in enumerate((*state.commands, *state.handlers)):
        try:
            captures = handler.match(text)
        except MatchTimeout as exc:
            timed_out(str(exc), handler.location)
            continue
        if captures is None:
            continue
        if j < commands:
            list_id = command_list_id(state.name, handler.name or str(j))
        else:
            list_id = handler_list_id(state.name, j - commands)
        return handler, list_id, captures
    return None

"""The compiled parts of sub-flows: the ``call`` and ``return`` actions and a sub-flow.

A sub-flow's states are states of the calling :class:`~ucwa_flow.flow.Flow`, named
``SUBFLOW/STATE``, so the interpreter, the graph and coverage walk them like any other
state; what is particular to a sub-flow (its parameters, the values it returns, its own
variables) is a :class:`SubFlow` in ``Flow.subflows``, by name. How a call runs is in
``docs/flow-language.md`` ("Includes and sub-flows") and :mod:`ucwa_flow.runtime.calls`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ucwa_flow.flow._diagnostics import Location
from ucwa_flow.flow._sandbox import Value

__all__ = ["MAX_CALL_DEPTH", "Call", "Return", "SubFlow", "subflow_state"]

#: sub-flows running at once in one conversation, at most (the caller's call included)
MAX_CALL_DEPTH = 8


def subflow_state(subflow: str, state: str) -> str:
    """The name a state of sub-flow ``subflow`` has in the calling flow."""
    return f"{subflow}/{state}"


@dataclass(frozen=True, slots=True)
class Call:
    """Run sub-flow ``subflow`` (a key of ``Flow.subflows``; the file is ``file`` as
    written) from its state ``target``, with parameters ``args`` (evaluated in the
    caller's context); when it returns, each ``(returned, variable)`` of ``returns`` is
    stored in the caller's variable and the actions after the call run."""

    subflow: str
    file: str
    args: tuple[tuple[str, Value], ...]
    returns: tuple[tuple[str, str], ...]
    target: str
    location: Location


@dataclass(frozen=True, slots=True)
class Return:
    """End the running sub-flow, first setting the returned ``values``."""

    values: tuple[tuple[str, Value], ...]
    location: Location


@dataclass(frozen=True, slots=True)
class SubFlow:
    """A reusable sub-flow as compiled into a calling flow.

    ``params`` maps each parameter to its default (``required`` names those without
    one); ``returns`` are the variables ``return`` hands back; ``variables`` the
    sub-flow's own, with their defaults; ``start`` and ``states`` are qualified names
    (``confirm/ask``); ``file`` is where it was read from.
    """

    name: str
    description: str
    file: str
    start: str
    params: Mapping[str, object]
    required: frozenset[str]
    returns: tuple[str, ...]
    variables: Mapping[str, object]
    states: tuple[str, ...]
    location: Location

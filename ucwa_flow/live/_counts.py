"""Running counts of active conversations per flow state and per lifecycle state.

:class:`Counts` is kept up to date by the live board as conversations move (an entry is
taken out of the counts before it changes and put back after), never recomputed: what a
snapshot shows is a copy of these dictionaries.
"""

from __future__ import annotations

from typing import Any

from ucwa_flow.lifecycle.conversation import STATES as CONVERSATION_STATES
from ucwa_flow.lifecycle.messaging import STATES as MESSAGING_STATES
from ucwa_flow.live._entry import Entry

__all__ = ["Counts"]


class Counts:
    """Active conversations by flow and flow state, and by lifecycle machine and state."""

    def __init__(self) -> None:
        self._flows: dict[str, dict[str, int]] = {}
        self._life: dict[str, dict[str, int]] = {
            "conversation": dict.fromkeys(CONVERSATION_STATES, 0),
            "messaging": dict.fromkeys(MESSAGING_STATES, 0),
        }

    def know(self, flow: str) -> None:
        """List ``flow`` even while no conversation runs it."""
        self._flows.setdefault(flow, {})

    def add(self, entry: Entry, delta: int) -> None:
        """Count ``entry`` (``+1``) or take it out (``-1``), if it is active."""
        if entry.ended is not None:
            return
        if entry.flow is not None and entry.state is not None:
            states = self._flows.setdefault(entry.flow, {})
            n = states.get(entry.state, 0) + delta
            if n > 0:
                states[entry.state] = n
            else:
                states.pop(entry.state, None)
        for kind, state in (("conversation", entry.lifecycle), ("messaging", entry.messaging)):
            if state is not None:
                states = self._life[kind]
                states[state] = states.get(state, 0) + delta

    def flows(self) -> dict[str, Any]:
        """``{flow: {"states": {state: n}}}``, states with none left out."""
        return {name: {"states": dict(states)} for name, states in self._flows.items()}

    def lifecycle(self) -> dict[str, dict[str, int]]:
        """``{machine: {state: n}}``, every state listed."""
        return {kind: dict(states) for kind, states in self._life.items()}

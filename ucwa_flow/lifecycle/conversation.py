"""The conversation lifecycle, as UCWA reports it.

States are the documented ``ConversationState`` values (Incoming, Connecting, Connected,
Conferencing, Conferenced, InLobby, Disconnecting, Disconnected) plus ``New``, the state of a
conversation no record has described yet. A ``conversation`` event (added or updated) reports a
state; the matching trigger moves the model there. ``deleted`` means Disconnected. A report of
the state the model is already in (links changed, say) is an internal transition.

Fast operations may skip states (the server aggregates events), so every forward jump the
protocol allows is a transition; going back (Connected to Incoming, anything out of
Disconnected) is not, and such a record is logged and skipped.
"""

from __future__ import annotations

from ucwa_flow.lifecycle.machine import SharedMachine, reported_state_transitions
from ucwa_flow.ucwa.events import ConversationEvent

__all__ = ["REPORTED", "STATES", "ConversationLifecycle", "conversation_machine", "trigger_for"]

STATES = [
    "New",
    "Incoming",
    "Connecting",
    "Connected",
    "Conferencing",
    "Conferenced",
    "InLobby",
    "Disconnecting",
    "Disconnected",
]

# trigger -> the states it may come from (the destination is the state the trigger names)
_FROM: dict[str, tuple[str, ...]] = {
    "incoming": ("New",),
    "connecting": ("New", "Incoming"),
    "connected": ("New", "Incoming", "Connecting", "Conferenced"),
    "conferencing": ("New", "Incoming", "Connecting", "Connected"),
    "conferenced": ("New", "Incoming", "Connecting", "Connected", "Conferencing", "InLobby"),
    "lobby": ("New", "Connecting", "Conferencing"),
    "disconnecting": (
        "Incoming",
        "Connecting",
        "Connected",
        "Conferencing",
        "Conferenced",
        "InLobby",
    ),
    "disconnected": (
        "Incoming",
        "Connecting",
        "Connected",
        "Conferencing",
        "Conferenced",
        "InLobby",
        "Disconnecting",
    ),
}
_DEST = {
    "incoming": "Incoming",
    "connecting": "Connecting",
    "connected": "Connected",
    "conferencing": "Conferencing",
    "conferenced": "Conferenced",
    "lobby": "InLobby",
    "disconnecting": "Disconnecting",
    "disconnected": "Disconnected",
}
_TRIGGER_FOR_STATE = {dest: trigger for trigger, dest in _DEST.items()}

#: trigger -> the state it reports (a report of the current state changes nothing)
REPORTED = dict(_DEST)


class ConversationLifecycle:
    """One conversation's lifecycle model: its href and its state."""

    __slots__ = ("href", "state")

    def __init__(self, href: str) -> None:
        self.href = href
        self.state = "New"


def conversation_machine() -> SharedMachine:
    """A new machine for the conversation lifecycle (one per runtime, shared by all)."""
    return SharedMachine(
        "conversation", STATES, reported_state_transitions(_FROM, _DEST), initial="New"
    )


def trigger_for(record: ConversationEvent) -> str | None:
    """The trigger a ``conversation`` event fires, or ``None`` when it reports no state."""
    if record.type == "deleted":
        return "disconnected"
    if record.state is None:
        return None
    return _TRIGGER_FOR_STATE.get(record.state)

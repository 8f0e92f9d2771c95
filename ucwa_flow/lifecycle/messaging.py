"""The messaging (IM) modality lifecycle of one conversation.

UCWA reports the modality's ``state`` on ``messaging`` events: Disconnected, Connecting,
Connected and (plausibly) Disconnecting. The model starts Disconnected. A report of the current
state is an internal transition (the modality is "updated" when its links change); a jump the
aggregation may cause (Disconnected straight to Connected) is allowed.
"""

from __future__ import annotations

from ucwa_flow.lifecycle.machine import SharedMachine, reported_state_transitions
from ucwa_flow.ucwa.events import MessagingEvent

__all__ = ["REPORTED", "STATES", "MessagingLifecycle", "messaging_machine", "trigger_for"]

STATES = ["Disconnected", "Connecting", "Connected", "Disconnecting"]

_FROM: dict[str, tuple[str, ...]] = {
    "connecting": ("Disconnected",),
    "connected": ("Disconnected", "Connecting"),
    "disconnecting": ("Connecting", "Connected"),
    "disconnected": ("Connecting", "Connected", "Disconnecting"),
}
_DEST = {
    "connecting": "Connecting",
    "connected": "Connected",
    "disconnecting": "Disconnecting",
    "disconnected": "Disconnected",
}
_TRIGGER_FOR_STATE = {dest: trigger for trigger, dest in _DEST.items()}

#: trigger -> the state it reports (a report of the current state changes nothing)
REPORTED = dict(_DEST)


class MessagingLifecycle:
    """One conversation's messaging modality: its href, state and the links it offers now."""

    __slots__ = (
        "formats",
        "href",
        "send_message_href",
        "set_is_typing_href",
        "state",
        "stop_messaging_href",
    )

    def __init__(self, href: str) -> None:
        self.href = href
        self.state = "Disconnected"
        self.formats: tuple[str, ...] = ()
        self.send_message_href: str | None = None
        self.stop_messaging_href: str | None = None
        self.set_is_typing_href: str | None = None


def messaging_machine() -> SharedMachine:
    """A new machine for the messaging modality lifecycle."""
    return SharedMachine(
        "messaging", STATES, reported_state_transitions(_FROM, _DEST), initial="Disconnected"
    )


def trigger_for(record: MessagingEvent) -> str | None:
    """The trigger a ``messaging`` event fires, or ``None`` when it reports no state."""
    if record.type == "deleted":
        return "disconnected"
    if record.state is None:
        return None
    return _TRIGGER_FOR_STATE.get(record.state)

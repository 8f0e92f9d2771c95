"""The UCWA lifecycles as explicit ``transitions`` machines, driven only by decoded records.

One synchronous machine per lifecycle kind (conversation, messaging invitation, messaging
modality) serves every live conversation; :class:`LifecycleTracker` feeds records to them and
returns the changes the flow interpreter reacts to.
"""

from ucwa_flow.lifecycle.invitation import Outcome
from ucwa_flow.lifecycle.tracker import (
    Change,
    Conversation,
    ConversationEnded,
    ConversationState,
    InvitationEnded,
    InvitationReceived,
    InvitationSent,
    LifecycleTracker,
    MessageDelivery,
    MessageReceived,
    MessagingState,
    TypingChanged,
)

__all__ = [
    "Change",
    "Conversation",
    "ConversationEnded",
    "ConversationState",
    "InvitationEnded",
    "InvitationReceived",
    "InvitationSent",
    "LifecycleTracker",
    "MessageDelivery",
    "MessageReceived",
    "MessagingState",
    "Outcome",
    "TypingChanged",
]

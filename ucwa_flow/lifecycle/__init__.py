"""The UCWA lifecycles as explicit ``transitions`` machines, driven only by decoded records.

One synchronous machine per lifecycle kind (conversation, messaging invitation, messaging
modality) serves every live conversation; :class:`LifecycleTracker` feeds records to them and
returns the changes the flow interpreter reacts to. :mod:`.persist` turns what it knows of a
conversation into JSON data and back, for a bot that restarts in the middle of a chat.
"""

from ucwa_flow.lifecycle.invitation import Outcome
from ucwa_flow.lifecycle.persist import dump_conversation, load_conversation
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
    "dump_conversation",
    "load_conversation",
]

"""Overload protection: how many conversations one bot account takes at once.

A support desk under a flood of callers should serve the callers it can serve well and
tell the others at once, rather than accept everyone and answer no one in time.
:class:`Limits` says where that line is for one account:

* ``max_conversations``: live conversations (accepted, not ended; those still being
  connected count too);
* ``max_answering``: invitations being answered at once (the accept request sent, the
  conversation not connected yet).

Past either, a new invitation that the flow would accept is *shed*: with
``when_full="decline"`` the bot accepts it only to say ``busy_message`` and leave (UCWA's
decline carries no text); with ``when_full="ring"`` it leaves it unanswered, ringing for
another instance of the bot signed in as the same account. A shed invitation never becomes
a conversation of the flow (nor a record in a store), and the busy answers go out two at a
time, each request once the conversations under way have nothing pending
(:mod:`ucwa_flow.runtime.turns`): under a flood, the callers already talking keep their
reply times, and the shed callers wait a little longer for their answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BUSY_MESSAGE", "Limits"]

BUSY_MESSAGE = "All our agents are busy right now. Please try again in a few minutes."


@dataclass(frozen=True)
class Limits:
    """The load one account takes (``None``: no limit); see the module docstring."""

    max_conversations: int | None = None
    max_answering: int | None = None
    when_full: Literal["decline", "ring"] = "decline"
    busy_message: str = BUSY_MESSAGE

    def __post_init__(self) -> None:
        for name in ("max_conversations", "max_answering"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or no limit), not {value}")
        if self.when_full not in ("decline", "ring"):
            raise ValueError(f"when_full must be decline or ring, not {self.when_full!r}")

    def full(self, live: int, answering: int) -> bool:
        """Whether a new conversation is one too many, with ``live`` conversations and
        ``answering`` invitations being answered."""
        if self.max_conversations is not None and live >= self.max_conversations:
            return True
        return self.max_answering is not None and answering >= self.max_answering

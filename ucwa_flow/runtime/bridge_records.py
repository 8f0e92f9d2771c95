"""The records of :mod:`ucwa_flow.runtime.bridge`: a handoff's search and its link."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ucwa_flow.flow import Handoff
from ucwa_flow.runtime.pending_invite import Invitation, PendingInvite
from ucwa_flow.runtime.services import Continuation

__all__ = ["Link", "Search", "user_name"]


@dataclass(slots=True)
class Search:
    """A handoff looking for an agent."""

    caller: str
    action: Handoff
    rest: Continuation
    agents: tuple[str, ...]
    invitation: Invitation
    deadline: float
    flow: str
    state: str | None = None  # the caller's state when it began: leaving it ends the search
    ringing: list[PendingInvite] = field(default_factory=list)
    next: int = 0  # round robin: the index (mod len) of the next agent to ring
    left: int = 0  # round robin: agents not rung yet


@dataclass(slots=True)
class Link:
    """A caller and an agent, bridged."""

    caller: str
    caller_name: str
    agent: str  # the agent's conversation
    agent_uri: str
    agent_name: str
    action: Handoff
    rest: Continuation

    @property
    def extras(self) -> dict[str, Any]:
        return {"agent": {"uri": self.agent_uri, "name": self.agent_name}}


def user_name(uri: str) -> str:
    """A name made from an address the server gave none for: ``sip:ann.lee@...`` is
    ``Ann Lee``."""
    local = uri.removeprefix("sip:").split("@", 1)[0]
    words = local.replace(".", " ").replace("-", " ").replace("_", " ").split()
    return " ".join(word.capitalize() for word in words) or uri

"""What :mod:`ucwa_flow.runtime.bridge` needs from the engine (:class:`BridgeHost`), and its
records: a handoff's search and its link."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ucwa_flow.clock import Clock
from ucwa_flow.flow import Handoff
from ucwa_flow.lifecycle import LifecycleTracker
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.invites import Invitations
from ucwa_flow.runtime.outbox import Outgoing
from ucwa_flow.runtime.pending_invite import Invitation, PendingInvite
from ucwa_flow.runtime.port import Port
from ucwa_flow.runtime.services import Continuation

if TYPE_CHECKING:
    from ucwa_flow.runtime.journal import Journal

__all__ = ["BridgeHost", "Link", "Search", "user_name"]


class BridgeHost(Protocol):
    """What :class:`Bridges` needs from the engine."""

    clock: Clock
    port: Port
    journal: Journal | None

    @property
    def invitations(self) -> Invitations: ...

    @property
    def tracker(self) -> LifecycleTracker: ...

    @property
    def instances(self) -> Mapping[str, FlowInstance]: ...

    def emit(self, record: t.Trace) -> None: ...

    def post(self, href: str, job: Callable[[], Awaitable[None]]) -> None: ...

    def send(self, item: Outgoing) -> None: ...

    def spawn(self, coro: Awaitable[None]) -> None: ...

    def safely(self, op: Awaitable[None], href: str) -> Awaitable[None]: ...

    def touch(self, href: str) -> None:
        """Conversation ``href``'s record goes into the next commit (a durable bot)."""


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

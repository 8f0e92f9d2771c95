"""What the engine offers the conversations it starts: the seam of
:class:`~ucwa_flow.runtime.invites.Invitations`, :class:`~ucwa_flow.runtime.campaigns.Campaigns`
and :class:`~ucwa_flow.runtime.outbound.OutboundStarts`.

They see the engine only through :class:`InvitationHost` (its flows, an instance's
services, the conversations tracked and run, task spawning), so none of them imports the
engine, and a test can host them without one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Protocol

from ucwa_flow.lifecycle import Conversation
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.routing import Catalog
from ucwa_flow.runtime.services import Services

__all__ = ["InvitationHost", "TrackedConversations"]


class TrackedConversations(Protocol):
    """The conversations the lifecycle tracker follows (a ``LifecycleTracker``)."""

    def get(self, href: str) -> Conversation | None: ...

    def forget(self, href: str) -> None:
        """Stop following ``href`` (an invitation that is over, a side conversation)."""


class InvitationHost(Services, Protocol):
    """What :class:`Invitations` needs from the engine that runs it: its flows, an
    instance's services, the tracked and the running conversations, tasks."""

    @property
    def catalog(self) -> Catalog: ...

    def new_instance(
        self,
        name: str,
        conv: Conversation,
        caller_uri: str | None,
        caller_name: str | None = None,
    ) -> FlowInstance:
        """A run of the current version of flow ``name`` in ``conv`` (not followed)."""

    @property
    def tracker(self) -> TrackedConversations: ...

    @property
    def instances(self) -> Mapping[str, FlowInstance]:
        """The conversations a flow runs in, by href."""

    @property
    def closing(self) -> bool:
        """Stopping: campaign runs invite nobody more and send no report."""

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run ``coro`` as a task of its own (the engine keeps and cancels it)."""

    def safely(self, op: Awaitable[None], href: str) -> Awaitable[None]:
        """``op``, its failure reported (as a trace of ``href``) rather than raised."""

    def adopt(self, conv: Conversation, caller_uri: str, name: str | None = None) -> None:
        """Run flow ``name`` in ``conv``, an accepted outbound invitation."""

    def later(self, op: str, origin: str | None) -> bool:
        """``True`` when the invitation ``op`` (of conversation ``origin``) is to be sent
        only once the step that decided it is committed (a durable host)."""

    def abandoned(self, op: str, kept: bool) -> None:
        """The invitation ``op``, given up before the server named it, is ``kept`` to be
        withdrawn if the server names it, or no longer (a durable host commits it)."""

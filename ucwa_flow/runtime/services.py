"""What a flow instance needs from the engine that runs it, and what it leaves pending.

:class:`Services` is the instance's whole view of the runtime: the clock, the port, the
trace sink, timers posted to its mailbox, and the start of invites, webhooks and handoffs (whose
outcomes come back later as inputs). :class:`Continuation` is the work an invite or webhook
left suspended: the rest of the action lists, to run after the outcome's branch. It is
plain data (places in the flow as :class:`~ucwa_flow.flow.ActionRef`, JSON extras), so a
store can keep it and a process running the same flow version can resume it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ucwa_flow.clock import Clock, TimerHandle
from ucwa_flow.flow import ActionRef, Handoff, Invite, Webhook, branch_list_id
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.port import Port

if TYPE_CHECKING:
    from ucwa_flow.runtime.campaigns import Campaigns
    from ucwa_flow.runtime.instance import FlowInstance
    from ucwa_flow.runtime.outbox import Outgoing

__all__ = ["Continuation", "Services"]


@dataclass(frozen=True, slots=True)
class Continuation:
    """Work left when an invite or webhook suspended an action list.

    ``at`` is the suspending action (``None`` for an outbound flow's outcome, which has
    none); ``frames`` the places to carry on from after its branch, innermost first;
    ``extras`` the names the branch and the rest see (``match``, ``message``, ``webhook``,
    ``delivery``: JSON data).
    """

    at: ActionRef | None
    frames: tuple[ActionRef, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)
    #: suspended in an ``ended`` handler: the rest runs although the conversation is over
    after_end: bool = False

    def branch(self, name: str) -> str:
        """The id of the suspending action's branch ``name`` (``accepted``, ``success``...)."""
        assert self.at is not None
        return branch_list_id(self.at.list_id, self.at.position, name)

    def to_data(self) -> dict[str, Any]:
        """The continuation as JSON data (places as ``[list_id, position]`` pairs)."""
        at = self.at
        return {
            "at": None if at is None else [at.list_id, at.position],
            "frames": [[ref.list_id, ref.position] for ref in self.frames],
            "extras": dict(self.extras),
            "after_end": self.after_end,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Continuation:
        """The continuation :meth:`to_data` gave (after a trip through JSON)."""
        at = data["at"]
        return cls(
            None if at is None else ActionRef(str(at[0]), int(at[1])),
            tuple(ActionRef(str(ref[0]), int(ref[1])) for ref in data["frames"]),
            dict(data["extras"]),
            bool(data["after_end"]),
        )

    def to_json(self) -> str:
        """:meth:`to_data` as JSON text (``TypeError`` if an extra is not JSON data)."""
        return json.dumps(self.to_data(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Continuation:
        return cls.from_data(json.loads(text))


class Services(Protocol):
    """What an instance needs from the engine that runs it."""

    clock: Clock
    port: Port
    #: the SIP URI of the bot account the conversations came in on (``""``: unknown)
    account: str

    @property
    def tracing(self) -> bool:
        """Whether anyone receives trace records (none are built otherwise)."""

    @property
    def traced(self) -> Container[type]:
        """The kinds of trace record anyone receives (no other kind is built)."""

    def emit(self, record: t.Trace) -> None: ...

    @property
    def campaigns(self) -> Campaigns | None:
        """The campaign runs conversations may belong to (``None``: none run here)."""

    def post_timer(self, instance: FlowInstance, delay: float, epoch: int) -> TimerHandle:
        """Arrange for ``instance.on_timer(epoch)`` to be handled after ``delay``."""

    def post(self, href: str, job: Callable[[], Awaitable[None]]) -> None:
        """Queue ``job`` as the next input of conversation ``href`` (after the running one)."""

    def send(self, item: Outgoing) -> None:
        """``item``'s conversation decided to send it (the engine decides when it goes)."""

    def begin_invite(
        self,
        instance: FlowInstance,
        action: Invite,
        to: str,
        subject: str | None,
        message: str | None,
        rest: Continuation,
    ) -> None: ...

    def begin_webhook(
        self,
        instance: FlowInstance,
        action: Webhook,
        url: str,
        headers: dict[str, str],
        body: Any,
        rest: Continuation,
    ) -> None: ...

    def begin_handoff(
        self,
        instance: FlowInstance,
        action: Handoff,
        agents: tuple[str, ...],
        subject: str | None,
        message: str | None,
        rest: Continuation,
    ) -> None:
        """Look for one of ``agents`` to take ``instance``'s caller (:mod:`.bridge`)."""

"""What a flow instance needs from the engine that runs it, and what it leaves pending.

:class:`Services` is the instance's whole view of the runtime: the clock, the port, the
trace sink, timers posted to its mailbox, and the start of invites and webhooks (whose
outcomes come back later as inputs). :class:`Continuation` is the work an invite or webhook
left suspended: the rest of the action lists, to run after the outcome's branch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ucwa_flow.clock import Clock, TimerHandle
from ucwa_flow.flow import Action, Invite, Webhook
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.port import Port

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["Continuation", "Services"]


@dataclass(frozen=True, slots=True)
class Continuation:
    """Work left when an invite or webhook suspended an action list."""

    frames: tuple[tuple[Action, ...], ...]
    extras: Mapping[str, Any] = field(default_factory=dict)
    #: suspended in an ``ended`` handler: the rest runs although the conversation is over
    after_end: bool = False


class Services(Protocol):
    """What an instance needs from the engine that runs it."""

    clock: Clock
    port: Port

    @property
    def tracing(self) -> bool:
        """Whether anyone receives trace records (none are built otherwise)."""

    def emit(self, record: t.Trace) -> None: ...

    def post_timer(self, instance: FlowInstance, delay: float, epoch: int) -> TimerHandle:
        """Arrange for ``instance.on_timer(epoch)`` to be handled after ``delay``."""

    def post(self, href: str, job: Callable[[], Awaitable[None]]) -> None:
        """Queue ``job`` as the next input of conversation ``href`` (after the running one)."""

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

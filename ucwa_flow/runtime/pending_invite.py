"""One invitation the bot sent and waits on, and how it is kept across a restart.

:class:`PendingInvite` is what :class:`~ucwa_flow.runtime.invites.Invitations` knows of an
invitation it sent: whom, on whose behalf (the conversation whose ``invite`` action asked,
and the rest of its action lists as a :class:`~ucwa_flow.runtime.services.Continuation`),
the operationId it went out under, the conversation the server named for it, and its
timers. :meth:`PendingInvite.to_data` and :func:`invite_from_data` turn the parts a
restarted bot needs into JSON data and back; the timers are re-armed from the deadline.
A handoff's invitations (:mod:`ucwa_flow.runtime.bridge`) carry ``on_answer`` instead of
an action: the bridge keeps them, not the store's pending work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ucwa_flow.clock import TimerHandle
from ucwa_flow.flow import Invite
from ucwa_flow.ucwa.errors import CertificateRejected, ServerUnreachable, UcwaHttpError
from ucwa_flow.ucwa.events import Reason

__all__ = [
    "Answered",
    "Invitation",
    "PendingInvite",
    "cancel_timers",
    "describe_reason",
    "invitation_from_data",
    "may_ring",
    "offline_reason",
]

Invitation = tuple[str | None, str, str | None]  # subject, importance, first message
#: what a handoff is told of one of its invitations: the invitation and its branch
Answered = Callable[["PendingInvite", str], None]
# Failure subcodes that mean "no endpoint of the invitee could be offered it right now"
_OFFLINE = frozenset({"temporarilyunavailable"})


@dataclass(slots=True)
class PendingInvite:
    to: str
    origin: str | None = None  # the conversation whose `invite` action asked (None: outbound)
    action: Invite | None = None
    rest: Any = None  # the Continuation to resume the origin with (None: outbound)
    timer: TimerHandle | None = None
    conversation: str | None = None  # the new conversation, once the server names it
    cancel_href: str | None = None  # how to withdraw it while it rings
    op: str = ""  # the operationId of the invitation sent last
    sent: bool = False  # whether the invitation under ``op`` was sent (or may have been)
    #: resumed after a restart and not sent since: it may never have been sent
    unconfirmed: bool = False
    deadline: float = 0.0  # when the invite's timeout passes (clock.monotonic())
    retry: TimerHandle | None = None  # set while waiting to invite someone offline again
    invitation: Invitation = (None, "normal", None)
    flow: str | None = None  # an outbound flow's invitation: the flow's name (None: the default)
    campaign: str | None = None  # the campaign run it was sent for (ucwa_flow.runtime.campaigns)
    #: a handoff's invitation: told the outcome instead of a flow (see runtime.bridge)
    on_answer: Answered | None = None

    def to_data(self) -> dict[str, Any]:
        """The request and what the server said of it so far (JSON data)."""
        subject, importance, message = self.invitation
        return {
            "to": self.to,
            "subject": subject,
            "importance": importance,
            "message": message,
            "conversation": self.conversation,
            "cancel_href": self.cancel_href,
        }


def invitation_from_data(data: Mapping[str, Any]) -> Invitation:
    """The (subject, importance, message) :meth:`PendingInvite.to_data` kept."""
    return (data.get("subject"), str(data.get("importance") or "normal"), data.get("message"))


def cancel_timers(pending: PendingInvite) -> None:
    """Cancel ``pending``'s timers (its timeout and any retry)."""
    for timer in (pending.timer, pending.retry):
        if timer is not None:
            timer.cancel()
    pending.retry = None


def may_ring(failure: Exception) -> bool:
    """Whether an invitation whose request failed with ``failure`` may still have been
    created (its answer was lost: a read timeout, a dropped connection, a gateway's 5xx),
    and so may ring; not when it certainly never reached the server (no connection)."""
    if isinstance(failure, UcwaHttpError):
        return failure.status >= 500
    if isinstance(failure, CertificateRejected):
        return False  # refused before anything was sent
    if isinstance(failure, ServerUnreachable):
        if failure.unsent:
            return False  # the token grant on its way failed
        cause = failure.__context__  # the transport's error it was raised for
        return may_ring(cause) if isinstance(cause, httpx.TransportError) else True
    return isinstance(failure, httpx.TransportError) and not isinstance(
        failure, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
    )


def offline_reason(reason: Reason | None) -> bool:
    """Whether ``reason`` says the invitee is not signed in anywhere (SIP's 480)."""
    return reason is not None and (reason.subcode or "").lower() in _OFFLINE


def describe_reason(reason: Reason | None) -> str:
    """``reason`` in a line (code/subcode message)."""
    if reason is None:
        return "the server gave no reason"
    code = "/".join(part for part in (reason.code, reason.subcode) if part)
    return f"{code} {reason.message}" if reason.message else code

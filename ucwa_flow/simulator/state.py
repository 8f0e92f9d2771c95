"""Plain state of the simulated server: tokens, applications, conversations, chats.

One *chat* joins two people. Each person sees it through their own *conversation*
resource (its own id, message numbers and invitation) inside their own application, or
inside a virtual user when the simulator plays that side. Everything is indexed by id so
that each operation costs O(1), also with thousands of live chats.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Protocol

from ucwa_flow.clock import TimerHandle
from ucwa_flow.simulator.config import SimulatorUser
from ucwa_flow.simulator.eventqueue import EventChannel

__all__ = [
    "APPLICATIONS_PATH",
    "Application",
    "Chat",
    "Conversation",
    "Message",
    "Observer",
    "Reason",
    "Token",
]

APPLICATIONS_PATH = "/ucwa/oauth/v1/applications"


@dataclass(frozen=True, slots=True)
class Reason:
    """A UCWA ``reason`` block: ``{code, subcode, message}``."""

    code: str
    subcode: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "subcode": self.subcode, "message": self.message}


@dataclass(slots=True)
class Token:
    """A WebTicket access token, valid until ``expires_at`` (monotonic).

    ``host`` is the name it was issued on; it only matters with ``tokens_per_host``.
    ``uses`` counts the requests it was accepted for.
    """

    value: str
    user: SimulatorUser
    host: str
    expires_at: float
    issued_at: float = 0.0
    uses: int = 0


@dataclass(slots=True)
class Message:
    """One instant message as one side saw it."""

    number: int
    direction: str  # Incoming | Outgoing
    text: str
    html: str | None
    timestamp_ms: int
    operation_id: str | None = None


class Observer(Protocol):
    """What the router tells a side played by the simulator (a virtual user)."""

    def on_invited(self, conv: Conversation) -> None: ...

    def on_connected(self, conv: Conversation) -> None: ...

    def on_failed(self, conv: Conversation, reason: Reason) -> None: ...

    def on_message(self, conv: Conversation, message: Message) -> None: ...

    def on_typing(self, conv: Conversation, typing: bool) -> None: ...

    def on_ended(self, conv: Conversation) -> None: ...


@dataclass(eq=False)
class Application:
    """One UCWA application (endpoint) of a signed-in user."""

    id: str
    user: SimulatorUser
    endpoint_id: str
    user_agent: str
    culture: str
    channel: EventChannel
    put_marker: str
    etag: str
    last_activity: float
    available: bool = False
    modalities: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=lambda: ["Plain"])
    expired_at: float | None = None
    conversations: dict[str, Conversation] = field(default_factory=dict)
    invitations: dict[str, Conversation] = field(default_factory=dict)
    expiry_timer: TimerHandle | None = None

    @property
    def base(self) -> str:
        """``/ucwa/oauth/v1/applications/<id>``: the prefix of every href."""
        return f"{APPLICATIONS_PATH}/{self.id}"

    @property
    def receives_im(self) -> bool:
        return self.expired_at is None and self.available and "Messaging" in self.modalities


@dataclass(eq=False)
class Conversation:
    """One side of a chat: the conversation resource of ``owner``.

    Exactly one of ``app`` (a signed-in UCWA application) and ``observer`` (a virtual
    user) is set.
    """

    id: str
    chat: Chat
    owner: SimulatorUser
    remote: SimulatorUser
    direction: str  # Incoming | Outgoing
    invitation_id: str
    app: Application | None = None
    observer: Observer | None = None
    operation_id: str | None = None
    state: str = "Connecting"
    messaging_state: str = "Connecting"
    invitation_state: str = "Connecting"
    typing_timer: TimerHandle | None = None
    messages: dict[int, Message] = field(default_factory=dict)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(2))

    def next_number(self) -> int:
        return next(self._numbers)

    @property
    def base(self) -> str:
        """The conversation's href."""
        prefix = self.app.base if self.app is not None else "/_sim"
        return f"{prefix}/communication/conversations/{self.id}"

    @property
    def connected(self) -> bool:
        return self.messaging_state == "Connected"


@dataclass(eq=False)
class Chat:
    """A peer-to-peer IM session between a caller and a callee.

    While ringing, ``callees`` holds one conversation per endpoint of the callee that
    was offered the invitation; the first to accept becomes ``callee``.
    """

    id: int
    thread_id: str
    subject: str
    importance: str
    caller: Conversation | None = None
    callees: list[Conversation] = field(default_factory=list)
    callee: Conversation | None = None
    state: str = "ringing"  # ringing | connected | ended
    first_text: str | None = None
    first_html: str | None = None
    formats: list[str] = field(default_factory=lambda: ["Plain"])
    timer: TimerHandle | None = None

    def other(self, conv: Conversation) -> Conversation | None:
        """The peer of ``conv`` once connected (or the caller, seen from a callee)."""
        if conv is self.caller:
            return self.callee
        return self.caller

"""Trace records: every step the interpreter takes, for transcripts, logs and tests.

The runtime hands each record to a *sink* (any callable taking a :class:`Trace`) as it
happens. ``ucwa-flow run`` prints them as a transcript; conversation tests assert on them;
``--verbose`` shows the lifecycle and flow transitions they describe.

Every record has ``at`` (the injected clock's monotonic time) and ``conversation`` (the
conversation href; ``"outbound:<uri>"`` for the actions an outbound flow runs when ``uri``
declined or did not answer, ``"outbound:<run id>:<uri>"`` in a campaign run, and ``""``
when an invitation could not even be sent).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any

from ucwa_flow.flow import Location

__all__ = [
    "EVERY",
    "ActionDone",
    "BridgeEvent",
    "Ended",
    "FlowError",
    "HandlerMatched",
    "InvitationDecided",
    "LifecycleChanged",
    "MessageIn",
    "MessageOut",
    "MessageSent",
    "NoMatch",
    "OutcomeReceived",
    "StateEntered",
    "TimeoutFired",
    "Trace",
    "TraceSink",
    "VariableSet",
    "VersionChanged",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    at: float
    conversation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitationDecided(Trace):
    """The invitation policy answered an incoming invitation."""

    caller: str | None
    decision: str  # "accept" | "decline" | "busy" (shed: too many conversations already)
    location: Location | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleChanged(Trace):
    """A UCWA lifecycle machine moved: ``kind`` is "conversation" or "messaging"."""

    kind: str
    old: str
    new: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeEvent(Trace):
    """A handoff's bridge (:mod:`ucwa_flow.runtime.bridge`) in the caller's conversation:
    ``event`` is ``ringing`` (``agents`` are invited), ``connected`` (``agent`` accepted),
    ``relay`` (``text`` went across, written ``by`` the caller or the agent), ``done`` (the
    agent gave the caller back) or ``ended`` (``by``: who left, ``caller``, ``agent``, or
    ``restart``/``shutdown``; a search withdrawn by a new ``handoff`` or the ``flow``
    leaving its state). Transcripts show it as ``bridge_<event>``."""

    event: str
    agent: str = ""
    name: str = ""  # connected: the agent's name (``agent.name`` in the flow)
    agents: tuple[str, ...] = ()
    by: str | None = None
    text: str | None = None

    @property
    def kind(self) -> str:
        return f"bridge_{self.event}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StateEntered(Trace):
    state: str
    previous: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageIn(Trace):
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerMatched(Trace):
    state: str
    kind: str  # regex | keywords | choice | any
    command: str | None  # the command's name when a (global) command matched
    captures: dict[str, str]
    location: Location


@dataclass(frozen=True, slots=True, kw_only=True)
class NoMatch(Trace):
    state: str
    miss: int  # 1 for the first miss in this state, 2 for the second...


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutFired(Trace):
    state: str
    after: float
    location: Location | None  # None for the flow-wide idle timeout


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionDone(Trace):
    action: str  # say | set | goto | stop | typing | log | if | invite | webhook | handoff
    location: Location
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VariableSet(Trace):
    """A variable of the flow changed: ``name`` now holds ``value``. Emitted where it
    happens (a ``set`` action, a handler's capture, a webhook's ``result``, a sub-flow's
    parameter given by ``with`` at the call, a sub-flow's returned value), so a transcript
    shows it among what the step did, in order; a value equal to the one the variable held
    (and of the same type: ``True`` is not ``1``) emits nothing. ``value`` is the real one:
    the journal's commit blanks secrets out of it (``records.without_secrets``).
    ``in_subflow``: the variable is a running sub-flow's (or a caller's under it), not one
    of the flow's own, which may have the same name."""

    name: str
    value: Any
    in_subflow: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageOut(Trace):
    text: str
    html: str | None
    delivered: bool | None = None  # None until the server reports the delivery


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSent(Trace):
    """A message's sendMessage request is over: the server took it (``ok``), or it failed.
    What the caller waits for ends here (the step latency of the metrics)."""

    ok: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeReceived(Trace):
    """An outbound invite or webhook came back; ``branch`` is the branch that runs.

    ``result`` is a webhook's answer as its branches see it (``status``, ``json``,
    ``error``; ``json`` is ``"[redacted]"`` when it goes into a secret variable), so that a
    transcript holds what ``ucwa-flow replay`` needs to answer the same way; ``None`` for
    an invite."""

    action: str  # invite | webhook
    branch: str  # accepted | declined | no_answer | success | failure
    location: Location
    result: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ended(Trace):
    """The flow instance is over: ``by`` is "caller", "bot" or "server"; ``why`` is why
    the bot ended it (``stop``, ``idle timeout``, ``goto loop``: the flow; ``shutdown``...:
    the runtime), ``None`` when it did not. ``flow`` is the flow's name in the engine's
    catalog: the engine has forgotten the conversation by the time this is emitted."""

    by: str
    state: str | None
    why: str | None = None
    flow: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowError(Trace):
    """Something failed at run time (a template, a request); the conversation goes on."""

    message: str
    location: Location | None

    def shown(self) -> str:
        """The message with its location said once, after it: a template's error names
        its location first already (``file:l:c: template failed: ...``)."""
        if self.location is None:
            return self.message
        message = self.message.removeprefix(f"{self.location}: ")
        return f"{message} ({self.location})"


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionChanged(Trace):
    """The conversation carries on with another version of its flow (a hot reload, or a
    restart on a changed flow file): ``flow`` is its name, ``old`` and ``new`` digests."""

    flow: str
    old: str
    new: str


TraceSink = Callable[[Trace], None]


class _Every:
    """Every kind of record: what a sink takes."""

    __slots__ = ()

    def __contains__(self, kind: object) -> bool:
        return True


#: the kinds of record a receiver that takes them all takes (see ``Services.traced``)
EVERY: Container[type] = _Every()

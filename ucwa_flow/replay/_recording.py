"""A recorded conversation as replay reads it: who called, what they did, what the bot did.

A :class:`Recording` is the caller's side of one conversation (their messages at their
times, their leaving), the outcomes of the invites and webhooks the bot started, and what
the bot did (its replies, the states it entered, how it ended, the variables at the end).
Times are seconds since the conversation started. :mod:`._reader` builds recordings from
JSON lines; ``docs/replay.md`` documents the format.

Event kinds:

========== ====== ============================================================
kind       side   ``text`` is
========== ====== ============================================================
``caller`` input  the caller's message (``"[redacted]"``: kept secret, unknown)
``left``   input  who left: ``caller`` or ``server``
``webhook`` input the branch (``success``/``failure``); ``result`` the answer
``invite`` input  the branch (``accepted``/``declined``/``no_answer``)
``bot``    output the bot's reply
``state``  output the state entered
``ended``  output ``bot``: the bot ended the conversation
========== ====== ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ucwa_flow.store import REDACTED

__all__ = ["INPUTS", "KINDS", "OUTPUTS", "Event", "Recording"]

#: what the caller and the world do: replay performs these
INPUTS = frozenset({"caller", "left", "webhook", "invite", "handoff"})
#: what the bot did: replay compares these
OUTPUTS = frozenset({"bot", "state", "ended"})
KINDS = INPUTS | OUTPUTS


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened ``at`` seconds after the start (see the module docstring)."""

    at: float
    kind: str
    text: str
    #: a webhook's recorded answer: ``status``, ``json``, ``error`` (any may be missing)
    result: Mapping[str, Any] | None = None

    @property
    def redacted(self) -> bool:
        return self.kind == "caller" and self.text == REDACTED


@dataclass(frozen=True, slots=True)
class Recording:
    """One conversation to replay; ``source`` is where it was read (``file:line``)."""

    id: str
    source: str
    events: tuple[Event, ...]
    caller_uri: str | None = None
    caller_name: str | None = None
    subject: str | None = None
    flow: str | None = None
    flow_version: str | None = None
    started: datetime | None = None
    #: values the deployment gave variables before the conversation (``--var``)
    start_variables: Mapping[str, Any] = field(default_factory=dict)
    #: the variables at the end; ``None``: not recorded, not compared
    variables: Mapping[str, Any] | None = None
    secrets: frozenset[str] = frozenset()
    #: an invitation the bot turned away (no flow ran): nothing to replay
    declined: bool = False

    @property
    def inputs(self) -> list[Event]:
        return [e for e in self.events if e.kind in INPUTS]

    @property
    def outputs(self) -> list[Event]:
        return [e for e in self.events if e.kind in OUTPUTS]

    @property
    def has_states(self) -> bool:
        """Whether the states were recorded (a hand-written recording may leave them out)."""
        return any(e.kind == "state" for e in self.events)

    @property
    def end(self) -> float:
        """When the last recorded thing happened."""
        return max((e.at for e in self.events), default=0.0)

"""One conversation as the live board keeps it: :class:`Entry`, its steps and their JSON.

A step is a plain tuple (cheap on the hot path): ``(wall time, kind, state, from, text,
line, machine)``. Texts are cleaned of the values of the flow's secret variables as they are
kept, as transcripts are (:func:`~ucwa_flow.runtime.records.without_secrets`): values of 3
characters or more become ``[redacted]``; a caller message a handler captured a secret from
is kept as ``[redacted]`` whole. When a secret variable gets a new value, the steps already
kept are cleaned again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ucwa_flow._display import iso
from ucwa_flow.runtime.records import secret_values
from ucwa_flow.store import REDACTED, scrub

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["Entry", "Step"]

#: (at, kind, state, from, text, line, machine)
Step = tuple[float, str, str | None, str | None, str | None, int | None, str | None]


class Entry:
    """A conversation seen in trace records (``key``: its account and href)."""

    __slots__ = (
        "account",
        "caller",
        "ended",
        "ended_at",
        "flow",
        "href",
        "id",
        "instance",
        "key",
        "lifecycle",
        "listed",
        "messaging",
        "owner",
        "secrets",
        "started_at",
        "state",
        "steps",
        "updated_at",
        "version",
    )

    def __init__(self, key: tuple[str | None, str], id: str, at: float) -> None:
        self.key = key
        self.account, self.href = key
        self.id = id
        self.flow: str | None = None
        self.version: str | None = None
        self.caller: str | None = None
        self.state: str | None = None  # the flow state; None until the start state
        self.lifecycle: str | None = None  # the conversation machine's state
        self.messaging: str | None = None  # the messaging machine's state
        self.started_at = self.updated_at = at
        self.ended: str | None = None  # the reason, once over
        self.ended_at: float | None = None
        self.instance: FlowInstance | None = None  # while it runs, for its secrets
        #: without an instance of its own (a handoff's agent), whose secrets it keeps out
        self.owner: FlowInstance | None = None
        self.secrets: tuple[str, ...] = ()  # the secret values last seen
        self.steps: list[Step] = []  # a list: a deque's first block alone is 600 bytes
        #: the summary last built, until a record changes the entry (``None``)
        self.listed: dict[str, Any] | None = None

    @property
    def active(self) -> bool:
        return self.ended is None

    # -- secrets ---------------------------------------------------------------------------

    def clean(self, text: str) -> str:
        """``text`` without the values of the flow's secret variables (the owner's, for
        a conversation without a flow of its own)."""
        instance = self.instance or self.owner
        if instance is None or not instance.flow.secrets:
            return text
        values = self._secret_values(instance)
        if values != self.secrets:
            self.secrets = values
            self._clean_kept(values)
        return str(scrub(text, list(values)))

    def redact_last_in(self) -> None:
        """The caller's last message put a secret into a variable: keep none of it."""
        steps = self.steps
        for i in range(len(steps) - 1, -1, -1):
            step = steps[i]
            if step[1] == "in":
                steps[i] = (step[0], step[1], step[2], step[3], REDACTED, step[5], step[6])
                return

    def _secret_values(self, instance: FlowInstance) -> tuple[str, ...]:
        return tuple(secret_values(instance))  # every scope: a sub-flow's callers' too

    def _clean_kept(self, values: tuple[str, ...]) -> None:
        steps = self.steps
        for i, step in enumerate(steps):
            text = step[4]
            if text and any(value in text for value in values):
                text = str(scrub(text, list(values)))
                steps[i] = (step[0], step[1], step[2], step[3], text, step[5], step[6])

    # -- JSON ------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What the snapshot's list shows of it (built once per change)."""
        if self.listed is None:
            self.listed = self._summary()
        return self.listed

    def _summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "href": self.href,
            "account": self.account,
            "flow": self.flow,
            "version": self.version,
            "state": self.state,
            "lifecycle": self.lifecycle,
            "messaging": self.messaging,
            "caller": self.caller,
            "started_at": iso(self.started_at),
            "updated_at": iso(self.updated_at),
            "active": self.ended is None,
        }

    def detail(self) -> dict[str, Any]:
        """The summary with its steps (oldest first) and why it ended."""
        body = dict(self.summary())
        body["ended"] = self.ended
        body["steps"] = [_step(step) for step in self.steps]
        return body


def _step(step: Step) -> dict[str, Any]:
    at, kind, state, previous, text, line, machine = step
    body: dict[str, Any] = {
        "at": iso(at),
        "kind": kind,
        "state": state,
        "from": previous,
        "text": text,
        "line": line,
    }
    if machine is not None:
        body["machine"] = machine
    return body

"""Comparing what the flow did in a replay with what the bot did in the recording.

Both sides are cut into *segments* at the caller's inputs (each message, the leaving):
segment 0 is what the bot did on the invitation and the caller's first message (its
greeting and its answer, in the order they came, whether the recording lists the message
before or after the greeting), segment 1 what it did after the second input (and what
timeouts and outcomes made it do) until the third, and so on. Within a
segment the replies and the states entered are compared in order; the first item that
differs is the conversation's first divergence, located in the state the bot was in when
it happened. The variables at the end are compared last (secret ones, and values the
recording holds redacted, never).

:class:`Compare` says how replies are compared: ``exact``, ``loose`` (whitespace runs and
letter case ignored) or ``similar`` (``difflib`` ratio at least ``threshold``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ucwa_flow.flow import Flow
from ucwa_flow.replay._driver import Played, Stop
from ucwa_flow.replay._recording import Recording
from ucwa_flow.runtime import trace as t
from ucwa_flow.store import REDACTED

__all__ = ["Compare", "Difference", "Item", "Result", "compare"]

#: one thing the bot did: ("bot", text), ("state", name) or ("ended", "bot")
Item = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Compare:
    """How replies are compared (see the module docstring)."""

    mode: str = "exact"
    threshold: float = 0.8

    @classmethod
    def parse(cls, text: str) -> Compare:
        """``exact``, ``loose``, ``similar`` or ``similar:0.9`` (``ValueError`` otherwise)."""
        mode, _, number = text.partition(":")
        if mode in ("exact", "loose") and not number:
            return cls(mode)
        if mode == "similar":
            try:
                threshold = float(number) if number else 0.8
            except ValueError:  # its own message is Python's ("could not convert string...")
                threshold = float("nan")
            if not 0.0 < threshold <= 1.0:
                raise ValueError("the similarity threshold is a number in (0, 1], like similar:0.9")
            return cls(mode, threshold)
        raise ValueError("expected exact, loose, similar or similar:0.8")

    def same(self, expected: str, actual: str) -> bool:
        if expected == actual:
            return True
        if self.mode == "exact":
            return False
        if _loose(expected) == _loose(actual):
            return True
        if self.mode == "loose":
            return False
        return difflib.SequenceMatcher(None, expected, actual).ratio() >= self.threshold

    def __str__(self) -> str:
        return f"similar:{self.threshold:g}" if self.mode == "similar" else self.mode


def _loose(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class Difference:
    """Where the replay first did something else: in ``segment`` (after the caller's input
    number ``segment``, counting from 0), in ``state``. ``kind``: ``reply``, ``state`` or ``ended``;
    ``expected``/``actual`` are ``None`` when one side did nothing there."""

    kind: str
    segment: int
    state: str | None
    expected: str | None
    actual: str | None


@dataclass(slots=True)
class Result:
    """One conversation's replay, compared."""

    recording: Recording
    first: Difference | None = None
    stop: Stop | None = None
    #: variable -> (recorded, replayed) for those that differ at the end; a variable the
    #: replay does not have is :data:`NOT_SET`
    variables: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    recorded: list[list[Item]] = field(default_factory=list)
    replayed: list[list[Item]] = field(default_factory=list)

    @property
    def diverged(self) -> bool:
        return (
            self.first is not None
            or bool(self.variables)
            or (self.stop is not None and self.stop.kind != "redacted")
        )

    @property
    def partial(self) -> bool:
        """Replayed only up to a caller's message kept secret."""
        return self.stop is not None and self.stop.kind == "redacted"

    @property
    def where(self) -> str:
        """The state the conversation first diverges in (``(start)`` before any)."""
        if self.first is not None:
            return self.first.state or "(start)"
        if self.stop is not None and self.stop.kind != "redacted":
            return self.stop.state or "(start)"
        return "(end)"


NOT_SET = "(not set)"


def compare(recording: Recording, played: Played, flow: Flow, how: Compare) -> Result:
    """Compare ``played`` (the replay) with ``recording`` (see the module docstring)."""
    states = recording.has_states
    recorded = _recorded_segments(recording, states)
    replayed = _replayed_segments(played.traces, states)
    result = Result(recording, stop=played.stop, recorded=recorded, replayed=replayed)
    upto = played.inputs if played.stop is not None else len(recorded)
    state: str | None = None
    for i in range(upto):
        want = recorded[i] if i < len(recorded) else []
        got = replayed[i] if i < len(replayed) else []
        found = _first(i, want, got, state, how)
        if found is not None:
            first, j = found
            if not states:  # only replies compared: the replay knows where it was
                first = replace(first, state=_state_at(played.traces, i, j))
            result.first = first
            break
        state = next((text for kind, text in reversed(want) if kind == "state"), state)
    if played.stop is None and recording.variables is not None:
        hidden = flow.secrets | recording.secrets
        result.variables = _variables(recording.variables, played.variables, hidden)
    return result


def _first(
    segment: int, want: list[Item], got: list[Item], state: str | None, how: Compare
) -> tuple[Difference, int] | None:
    """The first difference in a segment, and its position there."""
    for j in range(max(len(want), len(got))):
        expected = want[j] if j < len(want) else None
        actual = got[j] if j < len(got) else None
        if expected is not None and actual is not None and expected[0] == actual[0]:
            same = (
                how.same(expected[1], actual[1])
                if expected[0] == "bot"
                else (expected[1] == actual[1])
            )
            if same:
                if expected[0] == "state":
                    state = expected[1]
                continue
        kinds = {item[0] for item in (expected, actual) if item is not None}
        kind = "state" if "state" in kinds else "reply" if "bot" in kinds else "ended"
        return Difference(kind, segment, state, _shown(expected), _shown(actual)), j
    return None


def _state_at(traces: list[t.Trace], segment: int, replies: int) -> str | None:
    """The state the replay was in when it said its reply number ``replies`` (from 0) of
    ``segment`` (or after its last one)."""
    state: str | None = None
    for i, items in enumerate(_replayed_segments(traces, True)):
        said = 0
        for kind, text in items:
            if i == segment and kind == "bot":
                if said == replies:
                    return state
                said += 1
            elif kind == "state":
                state = text
        if i == segment:
            break
    return state


def _shown(item: Item | None) -> str | None:
    if item is None:
        return None
    kind, text = item
    if kind == "ended":
        return "(the bot ends the conversation)"
    return f"(enters {text})" if kind == "state" else text


def _merged(segments: list[list[Item]]) -> list[list[Item]]:
    """What came before the first input joins what came after it (see the module)."""
    return [segments[0] + segments[1], *segments[2:]] if len(segments) > 1 else segments


def _recorded_segments(recording: Recording, states: bool) -> list[list[Item]]:
    segments: list[list[Item]] = [[]]
    for event in recording.events:
        if event.kind in ("caller", "left"):
            segments.append([])
        elif event.kind == "bot" or (states and event.kind in ("state", "ended")):
            segments[-1].append((event.kind, event.text))
    return _merged(segments)


def _replayed_segments(traces: list[t.Trace], states: bool) -> list[list[Item]]:
    segments: list[list[Item]] = [[]]
    for record in traces:
        if isinstance(record, t.MessageIn) or (isinstance(record, t.Ended) and record.by != "bot"):
            segments.append([])
        elif isinstance(record, t.MessageOut):
            segments[-1].append(("bot", record.text))
        elif states and isinstance(record, t.StateEntered):
            segments[-1].append(("state", record.state))
        elif states and isinstance(record, t.Ended):
            segments[-1].append(("ended", "bot"))
    return _merged(segments)


def _variables(
    recorded: Mapping[str, Any], replayed: Mapping[str, Any], hidden: frozenset[str]
) -> dict[str, tuple[Any, Any]]:
    found: dict[str, tuple[Any, Any]] = {}
    for name, value in recorded.items():
        if name in hidden or value == REDACTED:
            continue
        actual = replayed.get(name, NOT_SET)
        if actual != value:
            found[name] = (value, actual)
    return found

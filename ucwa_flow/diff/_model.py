"""The result of comparing two flows: plain frozen data, ready for text, JSON or a graph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Change", "ChangeStatus", "FlowDiff", "StateDiff", "StateStatus"]

ChangeStatus = Literal["added", "removed", "changed"]
StateStatus = Literal["added", "removed", "renamed", "changed", "same"]


@dataclass(frozen=True)
class Change:
    """One part that differs: a handler, timeout step, rung, setting, variable, rule...

    ``section`` says what kind of part it is (``message``, ``timeout``, ``settings``...),
    ``key`` which one (``choice "1", "password"``, ``step 1``, ``idle_timeout``).
    ``aspects`` says, for a changed part, what changed: ``texts`` (what is said), ``gotos``
    (where it leads), ``timing`` (a timeout step's delay), ``order`` (the handlers' order,
    key ``order``), ``actions`` (anything else), or
    ``value`` for a flow-wide value (a setting, a variable's default, the start state).
    ``old``/``new`` are its lines (empty for an added or removed part's missing side).
    """

    section: str
    key: str
    status: ChangeStatus
    old: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "key": self.key,
            "status": self.status,
            "aspects": list(self.aspects),
            "old": list(self.old),
            "new": list(self.new),
        }


@dataclass(frozen=True)
class StateDiff:
    """A state of either version and how it differs.

    ``name`` is the new name (the old one for a removed state); ``old_name`` differs from
    it for a renamed state; ``similarity`` is the content similarity (0..1) that made a
    removed and an added state one renamed state. ``changes`` are its parts that differ.
    """

    name: str
    status: StateStatus
    old_name: str | None = None
    similarity: float | None = None
    changes: tuple[Change, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "status": self.status}
        if self.old_name is not None and self.old_name != self.name:
            data["old_name"] = self.old_name
        if self.similarity is not None:
            data["similarity"] = round(self.similarity, 3)
        data["changes"] = [change.to_json() for change in self.changes]
        return data


@dataclass(frozen=True)
class FlowDiff:
    """Everything that differs between an old and a new version of a flow.

    ``flow`` holds the flow-wide changes (start, settings, variables, commands, invitation
    policy, outbound); ``states`` every state of either version, matched ones included
    (status ``same`` when nothing differs), new file order first, then removed states in
    old file order. ``renames`` maps each renamed state's old name to its new one.
    """

    old_name: str
    new_name: str
    flow: tuple[Change, ...]
    states: tuple[StateDiff, ...]

    @property
    def renames(self) -> dict[str, str]:
        return {s.old_name: s.name for s in self.states if s.status == "renamed" and s.old_name}

    @property
    def changed_states(self) -> tuple[StateDiff, ...]:
        return tuple(state for state in self.states if state.status != "same")

    @property
    def has_differences(self) -> bool:
        return bool(self.flow) or bool(self.changed_states)

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old_name,
            "new": self.new_name,
            "differences": self.has_differences,
            "flow": [change.to_json() for change in self.flow],
            "states": [state.to_json() for state in self.changed_states],
        }

"""A campaign run as data: who is waiting, who was invited and how it went, the variables.

:class:`CampaignRun` is what a store keeps of a run (:meth:`~CampaignRun.to_data` /
:meth:`~CampaignRun.from_data`) and what templates read as ``campaign``
(:meth:`~CampaignRun.view`). What a run does, inviting and reporting, is
:class:`~ucwa_flow.runtime.campaigns.Campaigns`'.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ucwa_flow.runtime.context import copy_variables

__all__ = ["CampaignRun", "Person"]


@dataclass(slots=True)
class Person:
    """One person of a run: ``outcome`` of their invitation (``None``: ringing),
    ``conversation`` the href their part runs under, ``state`` the flow state their
    conversation ended in, ``done`` once their part is over."""

    uri: str
    outcome: str | None = None
    conversation: str | None = None
    state: str | None = None
    ended_by: str | None = None
    done: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "outcome": self.outcome,
            "state": self.state,
            "ended_by": self.ended_by,
        }


@dataclass(slots=True)
class CampaignRun:
    """A run of flow ``flow``: who is still to be invited (``waiting``, in order), the
    people invited so far, the campaign variables, whether the report has run
    (``reported``: decided) and whether the run is over (``closed``: its report was
    answered, or it has none)."""

    id: str
    flow: str
    at_once: int
    waiting: deque[str]
    variables: dict[str, Any]
    people: list[Person] = field(default_factory=list)
    reported: bool = False
    closed: bool = False

    @property
    def busy(self) -> int:
        """People invited whose part is not over yet."""
        return sum(not person.done for person in self.people)

    @property
    def finished(self) -> bool:
        return not self.waiting and self.busy == 0

    def person(self, href: str) -> Person | None:
        return next((p for p in self.people if p.conversation == href and not p.done), None)

    def view(self) -> dict[str, Any]:
        """``campaign`` as templates see it (a copy: templates cannot change the run)."""
        return {
            **copy_variables(self.variables),
            "id": self.id,
            "people": [person.view() for person in self.people],
            "size": len(self.people) + len(self.waiting),
            "done": sum(person.done for person in self.people),
        }

    def to_data(self) -> dict[str, Any]:
        """The run as JSON data (for a store)."""
        return {
            "id": self.id,
            "flow": self.flow,
            "at_once": self.at_once,
            "waiting": list(self.waiting),
            "variables": copy_variables(self.variables),
            "people": [
                {**p.view(), "conversation": p.conversation, "done": p.done} for p in self.people
            ],
            "reported": self.reported,
            "closed": self.closed,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CampaignRun:
        """The run :meth:`to_data` gave."""
        people = [
            Person(
                str(p["uri"]),
                p.get("outcome"),
                p.get("conversation"),
                p.get("state"),
                p.get("ended_by"),
                bool(p.get("done")),
            )
            for p in data.get("people", [])
        ]
        return cls(
            str(data["id"]),
            str(data["flow"]),
            int(data["at_once"]),
            deque(str(uri) for uri in data["waiting"]),
            dict(data["variables"]),
            people,
            bool(data.get("reported")),
            bool(data.get("closed")),
        )

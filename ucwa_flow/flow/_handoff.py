"""The ``handoff`` action: a caller handed to a person, the bot relaying both ways.

A :class:`Handoff` invites one or several agents (``to``). ``mode: first`` rings them all
at once: the first to accept wins and the others' invitations are withdrawn;
``mode: round_robin`` rings one at a time (``ring`` seconds each), starting after the agent
the flow used last, moving on when one declines or does not answer. ``timeout`` bounds the
whole search; when it passes, or everyone declined, ``no_answer`` runs.

Once an agent accepts, ``connected`` runs in the caller's conversation and the bot
*bridges* the two conversations (:mod:`ucwa_flow.runtime.bridge`): what either side writes
is relayed to the other with the writer's name. The agent writing ``done_command`` gives
the caller back to the flow: ``done`` (a single ``goto``) runs. The agent leaving runs
``agent_left``; the caller leaving ends the agent's conversation. The action lists are
branches like an invite's: ``<list>[i].connected``, ``.no_answer``, ``.agent_left``,
``.done``; after ``no_answer`` and ``agent_left`` the actions after the handoff run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ucwa_flow.flow._diagnostics import Location
from ucwa_flow.flow._sandbox import Template

if TYPE_CHECKING:
    from ucwa_flow.flow._model import Action

__all__ = ["DEFAULT_DONE", "DEFAULT_HANDOFF_TIMEOUT", "DEFAULT_RING", "Handoff", "HandoffMode"]

HandoffMode = Literal["first", "round_robin"]
DEFAULT_HANDOFF_TIMEOUT = 120.0
DEFAULT_RING = 30.0
DEFAULT_DONE = "/done"


@dataclass(frozen=True, slots=True)
class Handoff:
    """Hand the caller to the first of ``to`` who accepts (see the module docstring).

    A branch that is ``None`` was not written in the flow. ``done`` is ``None`` when the
    flow gives the agent no command (the bridge then ends only when someone leaves), else
    the one ``goto`` that ``done_command`` runs.
    """

    to: tuple[Template, ...]
    mode: HandoffMode
    message: Template | None
    subject: Template | None
    importance: Literal["normal", "high"]
    timeout: float
    ring: float
    done_command: str
    done: tuple[Action, ...] | None
    connected: tuple[Action, ...] | None
    no_answer: tuple[Action, ...] | None
    agent_left: tuple[Action, ...] | None
    location: Location

    def branches(self) -> tuple[tuple[str, tuple[Action, ...] | None], ...]:
        """Every branch by name, in the order the graph and the checks show them."""
        return (
            ("connected", self.connected),
            ("done", self.done),
            ("agent_left", self.agent_left),
            ("no_answer", self.no_answer),
        )

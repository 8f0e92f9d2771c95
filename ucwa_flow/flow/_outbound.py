"""Conversations the bot starts: the ``invite`` action and a flow's ``outbound`` section.

Part of the compiled model (:mod:`ucwa_flow.flow._model` re-exports these classes and
puts :class:`Invite` in its :data:`~ucwa_flow.flow._model.Action` union); the builder makes
them, the interpreter runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ucwa_flow.flow._diagnostics import Location

if TYPE_CHECKING:
    from ucwa_flow.flow._campaign import Campaign
    from ucwa_flow.flow._model import Action
    from ucwa_flow.flow._sandbox import Template

__all__ = ["Importance", "Invite", "Outbound"]

Importance = Literal["normal", "high"]


@dataclass(frozen=True, slots=True)
class Invite:
    """Start an outbound IM conversation with ``to`` and send ``message`` as its first message.

    Exactly one branch runs in the current conversation once the outcome is known:
    ``accepted``, ``declined`` or ``no_answer`` (no answer within ``timeout`` seconds).
    A branch that is ``None`` was not written in the flow (an empty list is ``()``).
    """

    to: Template
    message: Template | None
    subject: Template | None
    importance: Importance
    timeout: float
    accepted: tuple[Action, ...] | None
    declined: tuple[Action, ...] | None
    no_answer: tuple[Action, ...] | None
    location: Location


@dataclass(frozen=True, slots=True)
class Outbound:
    """Conversations the bot starts when the flow runs (an outbound flow).

    Each of ``to`` is invited with ``message``; an accepted conversation runs the flow from
    ``start``; ``declined``/``no_answer`` run without a conversation (log, set, webhook).
    ``campaign``: invite them as one campaign run (``ucwa_flow.flow._campaign``).
    """

    to: tuple[str, ...]
    message: Template | None
    subject: Template | None
    importance: Importance
    timeout: float
    declined: tuple[Action, ...] | None
    no_answer: tuple[Action, ...] | None
    location: Location
    campaign: Campaign | None = None

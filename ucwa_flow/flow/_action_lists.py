"""Stable names for the action lists of a compiled flow, and places in them.

Suspended work (an ``invite`` or ``webhook`` waiting on its outcome) must outlive the
process that suspended it, so it cannot hold the flow's action objects: it holds
:class:`ActionRef` values, an action list's id and a position in it, which
:meth:`Flow.action_list <ucwa_flow.flow.Flow.action_list>` resolves in the same flow version.

An id is a path through the compiled model, built only from the flow's structure (state
names, command names, indexes), so the same file always yields the same ids:

* ``states.<state>.enter``, ``.ended``, ``.delivery_failed``: a state's own lists;
* ``states.<state>.messages[i]``: the i-th message handler of the state (its ``set``,
  ``say``, ``do`` and ``goto`` sugar in execution order);
* ``states.<state>.commands.<name>``: a command in force in the state (a global one
  included, under the state: what the state runs is what it resolves to);
* ``states.<state>.no_match[i]``, ``states.<state>.timeouts[i]``: ladder rungs;
* ``outbound.declined``, ``outbound.no_answer``: an outbound flow's outcome lists;
* ``<list>[i].then`` / ``.else`` (an ``if``), ``<list>[i].accepted`` / ``.declined`` /
  ``.no_answer`` (an ``invite``), ``<list>[i].success`` / ``.failure`` (a ``webhook``):
  the branches of the action at position ``i`` of ``<list>``. A branch the flow does not
  write is the empty list.

A state name that is not made of letters, digits, ``_`` and ``-`` is written as a JSON
string in brackets (``states["after sales"].enter``), so ids never collide.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ucwa_flow.errors import UcwaFlowError

__all__ = [
    "CAMPAIGN_REPORT",
    "ActionRef",
    "UnknownActionList",
    "branch_list_id",
    "command_list_id",
    "handler_list_id",
    "state_list_id",
]

_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
#: an outbound campaign's report webhook, alone in its list (``ucwa_flow.flow._campaign``)
CAMPAIGN_REPORT = "outbound.campaign.report"


class UnknownActionList(UcwaFlowError):
    """An action list id the flow does not have: the flow changed incompatibly since the
    id was taken (a state, handler or branch was removed or reordered)."""

    def __init__(self, flow: str, list_id: str) -> None:
        super().__init__(f"flow {flow!r} has no action list {list_id!r} (the flow changed)")
        self.list_id = list_id


@dataclass(frozen=True, slots=True)
class ActionRef:
    """A place in a flow's actions: the action list's id and an index into it.

    ``position`` may equal the list's length (nothing left to run in that list).
    """

    list_id: str
    position: int


def _state(name: str) -> str:
    return f"states.{name}" if _PLAIN.fullmatch(name) else f"states[{json.dumps(name)}]"


def state_list_id(state: str, part: str) -> str:
    """The id of a state's ``enter``, ``ended`` or ``delivery_failed`` list, or (with an
    index in ``part``, ``no_match[1]``) of a ladder rung."""
    return f"{_state(state)}.{part}"


def handler_list_id(state: str, index: int) -> str:
    """The id of the actions of the ``index``-th message handler of ``state``."""
    return f"{_state(state)}.messages[{index}]"


def command_list_id(state: str, command: str) -> str:
    """The id of the actions of command ``command`` as in force in ``state``."""
    return f"{_state(state)}.commands.{command}"


def branch_list_id(list_id: str, position: int, branch: str) -> str:
    """The id of branch ``branch`` of the action at ``position`` of list ``list_id``."""
    return f"{list_id}[{position}].{branch}"

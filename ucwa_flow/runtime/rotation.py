"""Round robin's place among each flow's agents: who accepted last, across conversations.

A ``handoff`` with ``mode: round_robin`` (:mod:`ucwa_flow.runtime.bridge`) rings its agents
one at a time, starting after the agent who accepted the flow's last handoff. A flow is
known here by its name in the engine's catalog (``FlowInstance.flow_name``), so all its
conversations share one rotation. :class:`Rotation` keeps that agent per flow.

An engine without a journal keeps it in this process only. A durable bot's engine puts each
acceptance in its journal (:meth:`~ucwa_flow.runtime.journal.Journal.rotation`), so it is
committed in the transaction of the step in which the agent accepted (a
:class:`~ucwa_flow.store.RotationRecord`: one per account and flow, the latest winning), and
:meth:`Rotation.restore` takes the stored positions back from the store's snapshot when the
bot restarts or another worker takes the account over: the rotation carries on instead of
starting again at the first agent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from ucwa_flow.store import RotationRecord

if TYPE_CHECKING:
    from ucwa_flow.runtime.journal import Journal

__all__ = ["Rotation"]


class _Host(Protocol):
    """Where acceptances are journaled (the engine; ``None``: not durable)."""

    @property
    def journal(self) -> Journal | None: ...


class Rotation:
    """The agent each flow's handoffs were accepted by last (see the module docstring)."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._last: dict[str, str] = {}  # flow name -> agent URI

    def last(self, flow: str) -> str | None:
        """The agent who accepted ``flow``'s last handoff, if any did."""
        return self._last.get(flow)

    def first(self, flow: str, agents: tuple[str, ...]) -> int:
        """The index in ``agents`` a round-robin search of ``flow`` rings first: the one
        after the agent who accepted last, or the first when that agent is not among them
        (or nobody accepted yet)."""
        last = self._last.get(flow)
        return agents.index(last) + 1 if last in agents else 0

    def accepted(self, flow: str, agent: str) -> None:
        """``agent`` accepted a handoff of ``flow``: the next search starts after them. With
        a journal, the position is committed with the step in which they accepted."""
        self._last[flow] = agent
        journal = self._host.journal
        if journal is not None:
            journal.rotation(flow, agent)

    def restore(self, stored: Iterable[RotationRecord]) -> None:
        """Carry on from the positions a store kept (a restart, a fail-over)."""
        for record in stored:
            self._last[record.flow] = record.agent

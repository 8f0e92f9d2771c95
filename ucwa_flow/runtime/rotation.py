"""Round robin's place among a handoff's agents: who of them accepted last.

A ``handoff`` with ``mode: round_robin`` (:mod:`ucwa_flow.runtime.bridge`) rings its agents
one at a time, starting after the one of *them* who accepted a handoff of the flow last. A
flow is known here by its name in the engine's catalog (``FlowInstance.flow_name``), so
all its conversations share one rotation; a flow with several handoffs to different agents
(a billing queue and a technical one) keeps one rotation per queue, since only the turns of
the agents a search rings count (an agent in both queues moves both). :class:`Rotation`
numbers each flow's acceptances (its turns) and keeps each agent's last.

An engine without a journal keeps them in this process only. A durable bot's engine puts
each acceptance in its journal (:meth:`~ucwa_flow.runtime.journal.Journal.rotation`), so it
is committed in the transaction of the step in which the agent accepted (a
:class:`~ucwa_flow.store.RotationRecord`: one per account, flow and agent), and
:meth:`Rotation.restore` takes the stored turns back from the store's snapshot when the bot
restarts or another worker takes the account over: the rotation carries on instead of
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
    """Each flow's agents' last turns (see the module docstring)."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._turns: dict[str, dict[str, int]] = {}  # flow name -> agent URI -> last turn

    def last(self, flow: str, agents: Iterable[str]) -> str | None:
        """The one of ``agents`` who accepted a handoff of ``flow`` last, if any did."""
        turns = self._turns.get(flow)
        if not turns:
            return None
        return max((a for a in agents if a in turns), key=turns.__getitem__, default=None)

    def first(self, flow: str, agents: tuple[str, ...]) -> int:
        """The index in ``agents`` a round-robin search of ``flow`` rings first: the one
        after the agent of them who accepted last, or the first when none of them has
        accepted yet."""
        last = self.last(flow, agents)
        return agents.index(last) + 1 if last is not None else 0

    def accepted(self, flow: str, agent: str) -> None:
        """``agent`` accepted a handoff of ``flow``: the flow's next turn is theirs. With a
        journal, the turn is committed with the step in which they accepted."""
        turns = self._turns.setdefault(flow, {})
        turn = turns[agent] = max(turns.values(), default=0) + 1
        journal = self._host.journal
        if journal is not None:
            journal.rotation(flow, agent, turn)

    def restore(self, stored: Iterable[RotationRecord]) -> None:
        """Carry on from the turns a store kept (a restart, a fail-over)."""
        for record in stored:
            turns = self._turns.setdefault(record.flow, {})
            turns[record.agent] = max(record.turn, turns.get(record.agent, 0))

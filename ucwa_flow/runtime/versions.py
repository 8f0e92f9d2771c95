"""Flow versions in a running engine: one machine per version, and hot reload.

An engine runs the flows of a :class:`~ucwa_flow.runtime.routing.Catalog`. Each version of
a flow (its :attr:`~ucwa_flow.flow.Flow.digest`) has one shared
:class:`~ucwa_flow.runtime.flowmachine.FlowMachine`, made the first time a conversation
runs it; :class:`Versions` keeps them, and makes every
:class:`~ucwa_flow.runtime.instance.FlowInstance` (its flow, that version's machine, the
flow's catalog name).

:meth:`Versions.reload` puts a new version of a flow in the catalog. New conversations get
it at once. A running conversation of that flow moves to it *between two steps* (the move
is posted to its mailbox, so it never happens in the middle of a step) when it is
compatible: its current state exists in the new version, and so does every place its
pending work would resume at (the ``invite``/``webhook`` action it waits on, of the same
kind, and the action lists after it). Otherwise it keeps running the version it has, to its
end. Compatibility is checked when the reload is asked (what :class:`Reloaded` counts) and
again when the move runs (a step under way may have gone elsewhere meanwhile: the
conversation then keeps its version, with a log line).

A move keeps the conversation's variables (variables only the new version declares get
their defaults), its no-match count and its silence timer (re-armed on the new version's
schedule), and is recorded: a :class:`~ucwa_flow.runtime.trace.VersionChanged` trace, which
a durable bot's transcript keeps as a ``version`` line, and the durable record of the
conversation then carries the new digest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from ucwa_flow.flow import Flow, Handoff, Invite, UnknownActionList, Webhook
from ucwa_flow.lifecycle import Conversation
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.context import copy_variables
from ucwa_flow.runtime.flowmachine import FlowMachine
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.routing import Catalog
from ucwa_flow.runtime.services import Continuation

if TYPE_CHECKING:
    from ucwa_flow.runtime.engine import Engine

__all__ = ["Reloaded", "Versions", "incompatibility", "switch_version"]

log = logging.getLogger("ucwa_flow.runtime")


@dataclass(frozen=True)
class Reloaded:
    """What :meth:`Versions.reload` did: flow ``name`` is now version ``digest``;
    ``moved`` running conversations move to it, ``kept`` keep their older version."""

    name: str
    digest: str
    moved: int
    kept: int


class Versions:
    """The catalog an engine runs and a machine per flow version (see the module docstring)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._machines: dict[str, FlowMachine] = {}

    def machine(self, flow: Flow) -> FlowMachine:
        """The machine of ``flow``'s version (made on first use)."""
        found = self._machines.get(flow.digest)
        if found is None:
            found = self._machines[flow.digest] = FlowMachine(flow)
        return found

    def machines(self) -> list[FlowMachine]:
        """Every machine in use (the current versions' and older ones still running)."""
        return list(self._machines.values())

    def instance(
        self,
        services: Engine,
        name: str,
        conv: Conversation,
        caller_uri: str | None,
        caller_name: str | None,
        flow: Flow | None = None,
    ) -> FlowInstance:
        """A new run of flow ``name`` (its current version, or ``flow``) in ``conv``."""
        flow = flow if flow is not None else self.catalog.get(name)
        instance = FlowInstance(flow, self.machine(flow), services, conv, caller_uri, caller_name)
        instance.flow_name = name
        return instance

    def reload(self, engine: Engine, name: str, flow: Flow) -> Reloaded:
        """Make ``flow`` the version of flow ``name`` (a new name is added to the catalog)."""
        self.catalog = self.catalog.replaced(name, flow)
        self.machine(flow)
        moved = kept = 0
        for instance in list(engine.instances.values()):
            if instance.ended or instance.flow_name != name or instance.flow.digest == flow.digest:
                continue
            why = incompatibility(engine, instance, flow)
            if why is None:
                moved += 1
                engine.post(instance.href, partial(self._move, engine, instance, name, flow))
            else:
                kept += 1
                log.info("%s: keeps its version of flow %s: %s", instance.href, name, why)
        self._prune()
        log.info(
            "flow %s is now version %s: %d conversation(s) move to it, %d keep theirs",
            name,
            flow.digest[:8],
            moved,
            kept,
        )
        return Reloaded(name, flow.digest, moved, kept)

    async def _move(self, engine: Engine, instance: FlowInstance, name: str, flow: Flow) -> None:
        if instance.ended or instance.flow.digest == flow.digest:
            return
        if name not in self.catalog or self.catalog.get(name).digest != flow.digest:
            return  # a later reload posted its own move
        why = incompatibility(engine, instance, flow)
        if why is not None:
            log.info("%s: keeps its version of flow %s: %s", instance.href, name, why)
            return
        old = instance.flow.digest
        switch_version(instance, flow, self.machine(flow), engine.clock.now().timestamp())
        engine.emit(
            t.VersionChanged(
                at=engine.clock.monotonic(),
                conversation=instance.href,
                flow=name,
                old=old,
                new=flow.digest,
            )
        )
        self._prune()

    def _prune(self) -> None:
        """Drop the machines of versions no conversation runs and the catalog no longer has."""
        current = {self.catalog.get(name).digest for name in self.catalog.names}
        for digest, machine in list(self._machines.items()):
            if digest not in current and len(machine.models) == 0:
                del self._machines[digest]


def incompatibility(engine: Engine, instance: FlowInstance, flow: Flow) -> str | None:
    """Why ``instance`` cannot move to ``flow`` now, or ``None`` when it can."""
    state = instance.state
    if state == FlowMachine.NEW:
        start = engine.answers.opening(instance.href).get("start")
        if start is not None and start not in flow.states:
            return f"the state {start!r} it is to start in is not in the new version"
    elif state not in flow.states:
        return f"its state {state!r} is not in the new version"
    for frame in instance.calls.frames:  # the sub-flow calls it is in must return there
        back = Continuation(None, frame.rest)
        if frame.caller not in flow.states or not _resumable(flow, back, Webhook):
            return f"the new version cannot return to {frame.caller!r} from {frame.subflow!r}"
    href = instance.href
    waits: list[tuple[Continuation, type[Invite | Webhook | Handoff]]] = [
        (call.rest, Webhook) for call in engine.calls.pending(href)
    ]
    waits += [(p.rest, Invite) for p in engine.invitations.waiting(href)]
    waits += [(rest, Handoff) for rest in engine.bridges.waiting(href)]
    for rest, kind in waits:
        if not _resumable(flow, rest, kind):
            at = rest.at
            where = f"{at.list_id}[{at.position}]" if at is not None else "?"
            return f"the new version has no {kind.__name__.lower()} at {where}, which it waits on"
    return None


def _resumable(flow: Flow, rest: Continuation, kind: type[Invite | Webhook | Handoff]) -> bool:
    """Whether ``flow`` has the action ``rest`` waits on (of ``kind``) and every list after it."""
    try:
        if rest.at is not None:
            actions = flow.action_list(rest.at.list_id)
            at = rest.at.position
            if not (0 <= at < len(actions) and isinstance(actions[at], kind)):
                return False
        for ref in rest.frames:
            if ref.position > len(flow.action_list(ref.list_id)):
                return False
    except UnknownActionList:
        return False
    return True


def switch_version(instance: FlowInstance, flow: Flow, machine: FlowMachine, now: float) -> None:
    """Carry ``instance`` on with ``flow`` (``machine`` being its version's) where it
    stands; ``now`` is the wall clock (epoch seconds). The caller checked compatibility."""
    state = instance.state
    data = instance.snapshot(now)
    instance.close()  # its silence timer and its old machine
    instance.flow, instance.machine = flow, machine
    machine.add_model(instance)
    outermost = instance.calls.frames[0].variables if instance.calls.frames else instance.variables
    for name, value in copy_variables(flow.variables).items():
        outermost.setdefault(name, value)
    if state != FlowMachine.NEW:
        instance.resume(state, instance.variables, data, now)

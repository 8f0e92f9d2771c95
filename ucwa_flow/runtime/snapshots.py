"""A conversation's run as data: what its trace records and variables do not say.

:func:`snapshot` is the part of a :class:`~ucwa_flow.runtime.instance.FlowInstance`'s run
that a store record (:mod:`.records`) and a hot reload (:mod:`.versions`) keep beside its
state and variables: the no-match ladder's count, the silence timer (and when its next
step is due), the sub-flow call stack and the conversation's facts. :func:`resume`
carries on from such data, in this process or in another one after a restart
(:mod:`.restore`); timeouts overdue by then fire at once, once.

The seam: these are the instance's methods (``FlowInstance.snapshot``,
``FlowInstance.resume``), written here and set as attributes of its class. The data goes
into stored records (:func:`~ucwa_flow.runtime.records.record_of`: the silence timer as a
``Timer``, the rest in the record's extras): its shape is part of the records' (and
:func:`resume` reads each part with a default, for data that lacks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ucwa_flow.runtime import calls
from ucwa_flow.runtime.facts import Facts

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["resume", "snapshot"]


def snapshot(instance: FlowInstance, now: float) -> dict[str, Any]:
    """The ladder and silence timer as data, ``now`` being the wall clock (epoch s)."""
    current = instance._current()
    schedule = instance.machine.plans.silence_schedule(current) if current is not None else ()
    due = None if instance.ended else instance._silence.due(schedule, now)
    frames = instance.calls.frames
    stack = list(instance.calls) if frames and not instance.ended else []  # callers' too
    silence = instance._silence.to_data(now)
    return {
        "misses": instance._misses,
        "silence": silence,
        "due": due,
        "calls": stack,
        "facts": instance.facts.to_data(),
    }


def resume(
    instance: FlowInstance, state: str, variables: Mapping[str, Any], data: Any, now: float
) -> bool:
    """Carry on in ``state`` from a :func:`snapshot` taken by another process, perhaps:
    overdue timeouts fire at once, once. ``False`` when the flow lost ``state``."""
    if state not in instance.flow.states or not instance.machine.fire(instance, f"enter:{state}"):
        return False
    instance.variables, instance._misses = dict(variables), int(data.get("misses", 0))
    instance.facts = Facts.from_data(data.get("facts"), instance.flow.states)
    instance.calls = calls.CallStack.from_data(data.get("calls"))
    schedule = instance.machine.plans.silence_schedule(instance.flow.states[state])
    instance._silence.resume(instance, data.get("silence"), schedule, now)
    return True

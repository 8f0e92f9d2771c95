"""The shared-machine base for the UCWA lifecycles.

Each lifecycle kind (conversation, messaging invitation, messaging modality) is ONE synchronous
``transitions.Machine`` serving every live conversation's model of that kind. Two changes to the
stock machine keep 10,000 live conversations cheap:

* ``add_model`` normally binds a partial per trigger, per ``may_<trigger>`` and per ``is_<state>``
  onto every model (about 2 KB a model) and scans the model list on each add (quadratic). Here
  nothing is bound: models are plain ``__slots__`` objects that only carry their state, and
  events are fired through :meth:`SharedMachine.fire`.
* The model registry is an identity-keyed dict, so adding and removing a model is O(1) and two
  equal-looking models are never merged.

Why synchronous: a transition here only records what changed; the I/O it causes (accepting an
invitation, sending a reply) is carried out by the runtime afterwards. The sync machine runs
about 4x the triggers per second of ``AsyncMachine`` and is free of its cancellation pitfalls
(see docs/architecture.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from transitions import Machine, MachineError

__all__ = ["ModelRegistry", "SharedMachine", "reported_state_transitions"]

log = logging.getLogger("ucwa_flow.lifecycle")


class ModelRegistry:
    """The ``models`` collection of a :class:`SharedMachine`: insertion-ordered, by identity.

    A model that compares by identity (no ``__eq__``/``__hash__`` of its own: every model
    of the runtime) is its own key; any other is keyed by ``id()``, so that two
    equal-looking models are never merged. (An ``id()`` key is one more int object per
    model and machine: four per conversation.)
    """

    __slots__ = ("_models",)

    def __init__(self) -> None:
        self._models: dict[object, Any] = {}

    def __contains__(self, model: object) -> bool:
        return _key(model) in self._models

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._models.values()))

    def __len__(self) -> int:
        return len(self._models)

    def __getitem__(self, index: int) -> Any:
        if index != 0 or not self._models:
            raise IndexError(index)
        return next(iter(self._models.values()))

    def append(self, model: object) -> None:
        self._models[_key(model)] = model

    def remove(self, model: object) -> None:
        if self._models.pop(_key(model), None) is None:
            raise ValueError("model is not registered with this machine")


def _key(model: object) -> object:
    cls = type(model)
    if cls.__hash__ is object.__hash__ and cls.__eq__ is object.__eq__:
        return model
    return id(model)


class SharedMachine(Machine):
    """A ``transitions.Machine`` shared by many models, binding nothing onto them.

    ``kind`` names the lifecycle in log lines ("conversation", "invitation", "messaging").
    """

    def __init__(
        self, kind: str, states: list[str], transitions: list[dict[str, Any]], initial: str
    ) -> None:
        super().__init__(
            model=None,
            states=states,
            transitions=transitions,
            initial=initial,
            auto_transitions=False,
            send_event=True,
            name=kind,
        )
        self.kind = kind
        self.models = ModelRegistry()  # type: ignore[assignment]

    def _checked_assignment(self, model: Any, name: str, func: Any) -> None:
        # Deliberately bind no convenience methods (triggers, may_*, is_*) onto models.
        return None

    def fire(self, model: Any, trigger: str, **data: Any) -> bool:
        """Fire ``trigger`` on ``model``; ``False`` (and one log line) if it does not fit.

        A record that does not fit the model's current state is logged with the model's
        ``href`` and skipped: network input never crashes the engine.
        """
        event = self.events.get(trigger)
        if event is None:
            log.warning("%s %s: unknown trigger %r skipped", self.kind, model.href, trigger)
            return False
        try:
            return bool(event.trigger(model, **data))
        except MachineError:
            log.warning(
                "%s %s: %r does not fit state %s; record skipped",
                self.kind,
                model.href,
                trigger,
                model.state,
            )
            return False

    def transitions_table(self) -> list[tuple[str, str, str]]:
        """Every (source, trigger, dest) of this machine, for drawing it; internal ones excluded."""
        rows: list[tuple[str, str, str]] = []
        for name, event in self.events.items():
            for source, transitions in event.transitions.items():
                rows.extend((source, name, t.dest) for t in transitions if t.dest is not None)
        return rows


def reported_state_transitions(
    sources: dict[str, tuple[str, ...]], dests: dict[str, str]
) -> list[dict[str, Any]]:
    """Transitions for a lifecycle driven by "the resource is now in state X" reports.

    ``sources[trigger]`` are the states the reported state may be reached from and
    ``dests[trigger]`` the state it names. A report of the state the model is already in (a
    resource "updated" because its links changed) is an internal transition, not an error.
    """
    rows: list[dict[str, Any]] = []
    for trigger, froms in sources.items():
        rows.append({"trigger": trigger, "source": list(froms), "dest": dests[trigger]})
        rows.append({"trigger": trigger, "source": dests[trigger], "dest": None})
    return rows

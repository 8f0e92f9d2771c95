"""Sub-flow calls in a running conversation: the call stack, ``call`` and ``return``.

A ``call`` puts the caller's variables aside in a :class:`CallFrame`, with the calling
state, the actions left after the call (places, as a suspended invite keeps them) and
where the returned values go; the sub-flow then runs with its own variables (its
defaults, then its parameters) from its start state. ``return`` takes the returned
values, gives the caller its variables back with those values stored, moves the
conversation back to the calling state without running its ``enter`` again (its ladders
start over) and runs the actions that were left. Semantics: ``docs/flow-language.md``,
"Includes and sub-flows".

The stack is plain data (:meth:`CallStack.to_data`): it is part of a conversation's
snapshot, so a conversation restored in another process returns to its caller all the
same. These functions are part of :class:`~ucwa_flow.runtime.instance.FlowInstance` and
use its internals; they live here to keep the instance about states and actions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import ActionRef
from ucwa_flow.flow._subflow_model import MAX_CALL_DEPTH, Call, Return
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.context import copy_variables

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance
    from ucwa_flow.runtime.services import Continuation

__all__ = ["CallFrame", "CallStack", "call", "perform", "return_"]


@dataclass(slots=True)
class CallFrame:
    """One running call: what the caller gets back when the sub-flow returns."""

    subflow: str
    caller: str
    rest: tuple[ActionRef, ...]
    extras: dict[str, Any]
    variables: dict[str, Any]
    returns: tuple[tuple[str, str], ...]

    def to_data(self) -> dict[str, Any]:
        return {
            "subflow": self.subflow,
            "caller": self.caller,
            "rest": [[ref.list_id, ref.position] for ref in self.rest],
            "extras": self.extras,
            "variables": self.variables,
            "returns": [list(pair) for pair in self.returns],
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CallFrame:
        return cls(
            subflow=str(data["subflow"]),
            caller=str(data["caller"]),
            rest=tuple(ActionRef(str(i), int(p)) for i, p in data.get("rest", ())),
            extras=dict(data.get("extras") or {}),
            variables=dict(data.get("variables") or {}),
            returns=tuple((str(a), str(b)) for a, b in data.get("returns", ())),
        )


@dataclass(slots=True)
class CallStack:
    """The calls under way in one conversation, the innermost last."""

    frames: list[CallFrame] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The calls as data, the outermost first (what a snapshot keeps)."""
        return (frame.to_data() for frame in self.frames)

    @classmethod
    def from_data(cls, data: Any) -> CallStack:
        return cls([CallFrame.from_data(item) for item in data or ()])


async def perform(
    instance: FlowInstance,
    action: Call | Return,
    ctx: Mapping[str, Any],
    rest: Continuation | None,
) -> None:
    """Run a ``call`` (``rest``: what the caller runs after the return) or a ``return``."""
    if isinstance(action, Call):
        await call(instance, action, ctx, rest)
    else:
        await return_(instance, action, ctx)


async def call(
    instance: FlowInstance, action: Call, ctx: Mapping[str, Any], rest: Continuation | None
) -> None:
    """Run ``action``'s sub-flow from its start state (``ctx``: the caller's context;
    ``rest``: what the caller runs after the return)."""
    assert rest is not None
    sub = instance.flow.subflows.get(action.subflow)
    if sub is None:
        instance.report_error(f"the flow has no sub-flow {action.subflow!r}", action.location)
        return
    if len(instance.calls.frames) >= MAX_CALL_DEPTH:
        message = f"more than {MAX_CALL_DEPTH} sub-flow calls under way; stopping"
        instance.report_error(message, action.location)
        await instance.stop("call depth")
        return
    args = [(name, value.evaluate(ctx)) for name, value in action.args]
    instance.calls.frames.append(
        CallFrame(
            subflow=sub.name,
            caller=instance.state,
            rest=rest.frames,
            extras=dict(rest.extras),
            variables=instance.variables,
            returns=action.returns,
        )
    )
    # the sub-flow's defaults, then the parameters given: each a change (traced) of its own
    instance.variables = copy_variables({**sub.variables, **sub.params})
    for name, value in args:
        instance.set_variable(name, value)
    instance._done("call", action.location, sub.name)
    await instance._enter(action.target, call=True)


async def return_(instance: FlowInstance, action: Return, ctx: Mapping[str, Any]) -> None:
    """End the running sub-flow: back to the caller, with the returned values. A value
    that fails is reported and the sub-flow's variable keeps what it held: the return
    goes on (it stopped half-way, the call frame gone, and the conversation went on in
    the sub-flow with no caller to go back to)."""
    if not instance.calls.frames:
        instance.report_error("`return` with no sub-flow call under way", action.location)
        return
    frame = instance.calls.frames.pop()
    for name, value in action.values:  # one that fails is reported, the return goes on
        try:
            instance.variables[name] = value.evaluate(ctx)
        except UcwaFlowError as exc:  # the sub-flow's variable keeps its value
            instance.report_error(str(exc) or type(exc).__name__, action.location)
    sub = instance.flow.subflows.get(frame.subflow)
    returned = {name: instance.variables.get(name) for name in (sub.returns if sub else ())}
    instance._done("return", action.location, frame.subflow)
    instance.variables = frame.variables
    for name, variable in frame.returns:
        instance.set_variable(variable, returned.get(name))
    previous = instance.state
    if not instance.machine.fire(instance, f"enter:{frame.caller}"):
        instance.report_error(f"cannot return to unknown state {frame.caller!r}", None)
        return
    instance._misses = 0
    instance.facts.returned()
    state = instance.flow.states[frame.caller]
    instance._emit(t.StateEntered, state=frame.caller, previous=previous)
    instance._silence.restart(instance, instance.machine.plans.silence_schedule(state))
    await instance._run(frame.rest, frame.extras)

"""One conversation's run of a flow: its state, variables, ladders, timers and actions.

A :class:`FlowInstance` is created by the engine when the bot accepts an invitation (or an
outbound invitation of an outbound flow is accepted). The engine feeds it inputs strictly in
order, one at a time (:meth:`FlowInstance.handle`); the instance runs actions
(:mod:`.interpreter`) through the engine's services: the
:class:`~ucwa_flow.runtime.port.Port`, the clock, the trace sink.

The flow's states are realised as a ``transitions`` machine
(:class:`~ucwa_flow.runtime.flowmachine.FlowMachine`), one per flow version shared by all
of its instances; entering a state is firing that machine's trigger.

Semantics, as ``docs/flow-language.md`` states them:

* message handling: the state's commands (global ones included), then its handlers, in
  order; the first that matches runs. Named regex captures become variables. No match runs
  the next rung of the no-match ladder (the last rung repeats); the count restarts when a
  state is entered.
* ``goto`` ends the running action list and enters the target (``back``: the previous
  state, see ``facts``): its timers restart, its ladder count resets, ``enter`` runs.
* timeouts count caller silence from the same moment (entering the state or the caller's
  last message); each step fires once.
* ``invite``, ``webhook`` and ``handoff`` do not block the conversation: the actions after
  them, and their branch, run when the outcome arrives; messages are handled meanwhile
  (while a handoff's bridge is on, the bridge takes them: :mod:`.bridge`).
* ``stop`` ends the conversation from the bot's side; ``ended`` runs only when the caller
  (or the server) ends it.
* ``delivery_failed`` runs, as an input of its own, on a Failure event for a message of the
  bot and when a send request fails (:mod:`ucwa_flow.runtime.delivery`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from ucwa_flow.flow import ActionRef, Flow, Location, State, state_list_id
from ucwa_flow.lifecycle import Conversation
from ucwa_flow.runtime import calls, interpreter, reports, snapshots
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.context import copy_variables
from ucwa_flow.runtime.delivery import DeliveryGuard
from ucwa_flow.runtime.facts import Facts
from ucwa_flow.runtime.flowmachine import FlowMachine
from ucwa_flow.runtime.journal import SHOWN
from ucwa_flow.runtime.mailboxes import NOTHING
from ucwa_flow.runtime.matching import first_match
from ucwa_flow.runtime.outbox import Outgoing
from ucwa_flow.runtime.services import Continuation, Services
from ucwa_flow.runtime.silence import Silence
from ucwa_flow.runtime.webhooks import recorded_result

__all__ = ["FlowInstance"]

_MAX_HOPS = 32  # gotos in a row without caller input before the flow is declared looping


class FlowInstance:
    """A flow (``flow``: a version of it) running in one conversation (``conv`` is the
    tracker's view of it); ``flow_name`` is its name in the engine's catalog."""

    __slots__ = (
        "_deliveries",
        "_hops",
        "_misses",
        "_silence",
        "caller_name",
        "caller_uri",
        "calls",
        "conv",
        "ended",
        "ended_by",
        "facts",
        "flow",
        "flow_name",
        "machine",
        "services",
        "state",
        "variables",
    )

    # running action lists (:mod:`.interpreter`): methods written there
    _execute = interpreter.execute
    _run = interpreter.run
    _say_all = interpreter.say_all
    _say = interpreter.say
    # what it reports (:mod:`.reports`): methods written there
    _emit = reports.emit
    _done = reports.done
    _error = reports.error
    set_variable = reports.set_variable
    # as data, to carry on elsewhere (:mod:`.snapshots`): methods written there
    snapshot = snapshots.snapshot
    resume = snapshots.resume

    def __init__(
        self,
        flow: Flow,
        machine: FlowMachine,
        services: Services,
        conv: Conversation,
        caller_uri: str | None,
        caller_name: str | None,
    ) -> None:
        self.flow = flow
        self.flow_name = flow.name
        self.machine = machine
        self.services = services
        self.conv = conv
        self.caller_uri = caller_uri
        self.caller_name = caller_name
        self.state = FlowMachine.NEW
        self.variables: dict[str, Any] = copy_variables(flow.variables)
        self.calls = calls.CallStack()
        self.ended = False
        self.ended_by: str | None = None
        self.facts = Facts()
        self._misses = 0
        self._deliveries = DeliveryGuard()
        self._hops = 0
        self._silence = Silence(services)
        machine.add_model(self)

    @property
    def href(self) -> str:
        return self.conv.href

    # -- inputs (the engine calls these one at a time, in order) ---------------------------

    async def start(self, state: str | None = None) -> None:
        """The conversation is connected: enter the start state (or ``state``)."""
        self._hops = 0
        self.facts.opened(self.conv.first_text, self.flow)
        await self._enter(state or self.flow.start)

    def on_message(self, text: str) -> Awaitable[None]:
        """The caller wrote ``text``. What needs no waiting (matching, a handler's says)
        runs in this call; the rest is the awaitable returned (:data:`NOTHING`: none is
        left), to await at once: no coroutine is made for a step that never waits."""
        if self.ended:
            return NOTHING
        self._hops = 0
        facts = self.facts
        if facts.caller:  # what ``Facts.heard`` does after the first message, a call less
            facts.caller += 1
        else:
            facts.heard(text, self.flow)
        tracing = self.services.tracing
        if tracing:
            self._emit(t.MessageIn, text=text)
        current = self.flow.states.get(self.state)  # self._current(), a call less
        if current is None:
            return NOTHING
        plans = self.machine.plans  # one read on the machine (``Plans`` says why)
        schedule, tried = plans.heard_in(current)
        self._silence.heard(self, schedule)
        found = first_match(tried, text, self)
        if found is None:
            return self._no_match(current, text)
        handler, list_id, captures = found
        self._misses = 0
        if tracing:
            # a journal alone keeps nothing of a match without captures (``Journal.trace``)
            if captures or self.services.traced is not SHOWN:
                self._emit(
                    t.HandlerMatched,
                    state=current.name,
                    kind=handler.kind,
                    command=handler.name,
                    captures=captures,
                    location=handler.location,
                )
            if captures:  # traced after the match, before the reply
                for name, value in captures.items():
                    self.set_variable(name, value)
        elif captures:
            self.variables.update(captures)
        extras = {"match": captures, "message": text}
        says = plans.says_only(self.flow, list_id)
        if says is not None:
            self._say_all(says, extras)  # what ``_run`` does with them, without a coroutine
            return NOTHING
        return self._run(plans.start_of(list_id), extras)

    async def on_timer(self, epoch: int) -> None:
        """The silence timer went off: fire the schedule entry that is due, if any."""
        current = self._current()
        if self.ended or current is None:
            return
        entry = self._silence.fire(self, epoch, self.machine.plans.silence_schedule(current))
        if entry is None:
            return  # stale (the state changed since) or not due yet
        after, step = entry
        self._hops = 0
        if step < 0:
            self._emit(t.TimeoutFired, state=current.name, after=after, location=None)
            await self._stop("idle timeout")
            return
        rung = current.timeouts[step]
        self._emit(t.TimeoutFired, state=current.name, after=rung.after, location=rung.location)
        await self._execute(state_list_id(current.name, f"timeouts[{step}]"), {})

    async def on_outcome(
        self,
        rest: Continuation,
        action: str,
        branch: str,
        branch_list: str,
        extras: Mapping[str, Any],
        location: Location,
    ) -> None:
        """An invite or webhook finished: run its branch (the action list ``branch_list``),
        then what followed it."""
        if self.ended and not rest.after_end:
            return
        kept = recorded_result(self.flow, rest, extras.get("webhook"))  # for a replay
        self._emit(t.OutcomeReceived, action=action, branch=branch, location=location, result=kept)
        self._hops = 0
        frames = (ActionRef(branch_list, 0), *rest.frames)
        await self._run(frames, {**rest.extras, **extras}, allow_after_end=rest.after_end)

    async def on_delivery_failed(
        self, delivery: Mapping[str, Any], message: str | None = None
    ) -> None:
        """A message (``message``, its href, when known) was lost: run ``delivery_failed``
        with ``delivery`` (:mod:`ucwa_flow.runtime.delivery`)."""
        if self._deliveries.own(message):
            return  # sent by delivery_failed itself
        current = self._current()
        if self.ended or current is None or not current.delivery_failed:
            return
        self._deliveries.recovering = True
        try:
            list_id = state_list_id(current.name, "delivery_failed")
            await self._execute(list_id, {"delivery": dict(delivery)})
        finally:
            self._deliveries.recovering = False

    async def on_ended(self, by: str) -> None:
        """The caller or the server ended the conversation: run ``ended``, then stop."""
        if self.ended:
            return
        current = self._current()
        self._finish(by)
        if current is not None and current.ended:
            # no messaging any more: only side effects (set, log, webhook) make sense here
            await self._execute(state_list_id(current.name, "ended"), {}, allow_after_end=True)

    async def stop(self, why: str) -> None:
        """End the conversation from the bot's side (shutdown, for example)."""
        await self._stop(why)

    def report_error(self, message: str, location: Location | None) -> None:
        """Record a run-time failure that happened on this conversation's behalf."""
        self._error(message, location)

    def hold_silence(self, held: bool) -> None:
        """Pause the state's timeouts and the idle timeout (a bridge is on), or start them
        again from now (``held`` false: the bridge is over)."""
        current = self._current()
        schedule = self.machine.plans.silence_schedule(current) if current and not held else ()
        self._silence.restart(self, schedule)

    def close(self) -> None:
        """Release timers and the machine model (the engine forgets the instance)."""
        self._silence.cancel()
        if self in self.machine.models:
            self.machine.remove_model(self)

    # -- states ----------------------------------------------------------------------------

    def _current(self) -> State | None:
        return self.flow.states.get(self.state)

    async def _enter(self, name: str, *, back: bool = False, call: bool = False) -> None:
        self._hops += 1
        if self._hops > _MAX_HOPS:
            self._error(f"more than {_MAX_HOPS} gotos without caller input; stopping", None)
            await self._stop("goto loop")
            return
        previous = None if self.state == FlowMachine.NEW else self.state
        if not self.machine.fire(self, f"enter:{name}"):
            self._error(f"cannot enter unknown state {name!r}", None)
            return
        self._misses = 0
        self.facts.entered(previous, name, back=back, call=call)
        state = self.flow.states[name]
        self._emit(t.StateEntered, state=name, previous=previous)
        self._silence.restart(self, self.machine.plans.silence_schedule(state))
        await self._execute(state_list_id(name, "enter"), {})

    async def _no_match(self, state: State, text: str) -> None:
        self._misses += 1
        self._emit(t.NoMatch, state=state.name, miss=self._misses)
        if state.no_match:
            rung = min(self._misses, len(state.no_match)) - 1
            await self._execute(state_list_id(state.name, f"no_match[{rung}]"), {"message": text})

    # -- stopping --------------------------------------------------------------------------

    async def _stop(self, why: str) -> None:
        if self.ended:
            return
        self._finish("bot", why)
        messaging = self.conv.messaging
        if messaging.stop_messaging_href and messaging.state in ("Connecting", "Connected"):
            self._send(Outgoing(self.href, "stop", messaging.stop_messaging_href, why=why))
        else:
            self._send(Outgoing(self.href, "leave", self.href, why=why))

    def _send(self, item: Outgoing) -> None:
        self.services.send(item)

    def delivered_quietly(self, message: str) -> None:
        """``message`` (an href) was sent by ``delivery_failed``: its loss is not news."""
        self._deliveries.remember(message)

    def _finish(self, by: str, why: str | None = None) -> None:
        state = self._current()
        self.ended = True
        self.ended_by = by
        self._silence.cancel()
        self.machine.fire(self, "end")
        name = state.name if state else None
        self._emit(t.Ended, by=by, state=name, why=why, flow=self.flow_name)

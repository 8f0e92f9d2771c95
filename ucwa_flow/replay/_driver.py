"""Playing one recording's inputs against a flow, on a virtual clock, with no network.

:func:`play` runs a real :class:`~ucwa_flow.runtime.FlowInstance` (the interpreter the bot
runs, on the flow's shared :class:`~ucwa_flow.runtime.FlowMachine`) with :class:`_Services` as
its :class:`~ucwa_flow.runtime.services.Services`: nothing is sent anywhere. Time is a
:class:`~ucwa_flow.clock.ManualClock` (the clock of the conversation tests) starting at
the recording's start; it moves from one due timer to the next (:meth:`ManualClock.step`),
so timeouts fire at the moments they would have, and each of the conversation's inputs
runs, one after another, as the engine's mailbox would run them. Nothing waits for the
event loop: a conversation replays in well under a millisecond of waiting.

* the invitation policy of the new flow is asked first (a decline ends the replay); a
  recording without a caller meets the rules' ``from:`` globs;
* the caller's messages and leaving happen at their recorded times;
* an ``invite`` or ``webhook`` the flow starts is answered by the next recorded outcome of
  that kind, at its recorded time (at once when that time is past); one the recording has
  no outcome for stops the replay: its answer is unknown. A ``handoff`` gets its recorded
  outcome too (``no_answer``; or ``connected``, then ``done`` or ``agent_left`` when the
  recording has the bridge's end), the flow's timeouts waiting while its bridge is on;
* before each caller message, the state the flow is in is compared with the state the
  recorded message was answered in: when they differ, the flow asked something the
  recording has no answer for, and the replay stops there (never guessing an answer);
* after the last input, time runs on to the recording's last moment (the timeouts that
  ended it, say).

:class:`Played` holds what happened: every trace record, the variables at the end, and
why the replay stopped early, if it did.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from ucwa_flow.clock import Clock, ManualClock, TimerHandle
from ucwa_flow.flow import Flow, Handoff, Invite, Webhook
from ucwa_flow.lifecycle import Conversation
from ucwa_flow.replay._recording import Event, Recording
from ucwa_flow.runtime import FlowInstance, FlowMachine
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.outbox import Outgoing
from ucwa_flow.runtime.services import Continuation
from ucwa_flow.store import REDACTED

__all__ = ["Played", "Stop", "play"]

_HREF = "/replay/conversation"
_CALLER = "sip:caller@replay.invalid"


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a replay stopped before the recording's end.

    ``kind``: ``answer_unknown`` (the flow waits in ``state`` where the recording's caller
    answered in ``expected``), ``outcome_unknown`` (an invite or webhook the recording has
    no outcome for), ``declined`` (the flow's invitation policy declines the caller),
    ``ended`` (the flow ended the conversation while the caller still had ``detail`` to
    say), ``redacted`` (the caller's next message was kept secret: it cannot be replayed).
    """

    kind: str
    at: float
    state: str | None
    expected: str | None = None
    detail: str = ""


@dataclass(slots=True)
class Played:
    """What the flow did: its trace records, its variables at the end, an early stop."""

    traces: list[t.Trace] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    stop: Stop | None = None
    #: how many of the recording's inputs were performed
    inputs: int = 0


class _Services:
    """The :class:`~ucwa_flow.runtime.services.Services` of the replayed conversation."""

    tracing = True
    traced = t.EVERY

    clock: Clock

    def __init__(self, recording: Recording) -> None:
        self.clock = self.manual = ManualClock(recording.started)
        self.port: Any = None  # the interpreter asks the port nothing itself
        self.account = ""  # conversation.account: a replay is on no account
        self.campaigns = None  # a replay runs one conversation, in no campaign run
        self.played = Played()
        self.jobs: deque[Callable[[], Awaitable[None]]] = deque()
        self._outcomes = {
            kind: deque(e for e in recording.events if e.kind == kind)
            for kind in ("invite", "webhook", "handoff")
        }

    def emit(self, record: t.Trace) -> None:
        self.played.traces.append(record)

    def post_timer(self, instance: FlowInstance, delay: float, epoch: int) -> TimerHandle:
        return self.clock.call_later(delay, self.jobs.append, partial(instance.on_timer, epoch))

    def post(self, href: str, job: Callable[[], Awaitable[None]]) -> None:
        self.jobs.append(job)

    def send(self, item: Outgoing) -> None:
        """Nothing is sent: the trace records say what would have been."""

    def begin_invite(
        self,
        instance: FlowInstance,
        action: Invite,
        to: str,
        subject: str | None,
        message: str | None,
        rest: Continuation,
    ) -> None:
        outcome = self._next("invite", instance, f"the invitation to {to}")
        if outcome is None:
            return
        branch = outcome.text
        job = partial(
            instance.on_outcome, rest, "invite", branch, rest.branch(branch), {}, action.location
        )
        self._at(outcome.at, job)

    def begin_handoff(
        self,
        instance: FlowInstance,
        action: Handoff,
        agents: tuple[str, ...],
        subject: str | None,
        message: str | None,
        rest: Continuation,
    ) -> None:
        """A handoff: its recorded outcome (``no_answer``, or ``connected`` then the
        bridge's end, ``done`` or ``agent_left``, if the recording has it) at its time;
        what the bridge relayed is not in the recording (the reader leaves it out)."""
        outcome = self._next("handoff", instance, f"the handoff to {', '.join(agents)}")
        if outcome is None:
            return
        extras = {"agent": dict(outcome.result or {"uri": "", "name": ""})}
        if outcome.text != "connected":
            self._at(outcome.at, partial(self._handoff_ends, instance, rest, outcome.text, {}))
            return
        only = Continuation(rest.at, (), rest.extras, rest.after_end)
        connected = partial(
            instance.on_outcome,
            only,
            "handoff",
            "connected",
            only.branch("connected"),
            extras,
            action.location,
        )
        self._at(outcome.at, connected)
        self._at(outcome.at, partial(self._held, instance))
        end = self._outcomes["handoff"]
        if end and end[0].text in ("done", "agent_left"):
            ending = end.popleft()
            ends = partial(self._handoff_ends, instance, rest, ending.text, extras)
            self._at(ending.at, ends)

    async def _held(self, instance: FlowInstance) -> None:
        instance.hold_silence(True)  # the bridge is on: the flow's timeouts wait

    async def _handoff_ends(
        self, instance: FlowInstance, rest: Continuation, branch: str, extras: dict[str, Any]
    ) -> None:
        if branch != "no_answer":
            instance.hold_silence(False)
        if branch == "done":
            rest = Continuation(rest.at, (), rest.extras, rest.after_end)
        await instance.on_outcome(
            rest,
            "handoff",
            branch,
            rest.branch(branch),
            {"agent": {"uri": "", "name": ""}},
            self._location(instance, rest),
        )

    @staticmethod
    def _location(instance: FlowInstance, rest: Continuation) -> Any:
        at = rest.at
        actions = instance.flow.action_list(at.list_id) if at is not None else ()
        action = actions[at.position] if at is not None and at.position < len(actions) else None
        return action.location if action is not None else instance.flow.location

    def begin_webhook(
        self,
        instance: FlowInstance,
        action: Webhook,
        url: str,
        headers: dict[str, str],
        body: Any,
        rest: Continuation,
    ) -> None:
        outcome = self._next("webhook", instance, f"{action.method} {url}")
        if outcome is None:
            return
        ok = outcome.text == "success"
        answer: dict[str, Any] = {"status": 200 if ok else None, "json": None, "error": None}
        answer.update(outcome.result or {})
        if not ok and not answer["error"]:
            answer["error"] = f"{action.method} {url} failed (as recorded)"

        async def answered() -> None:
            if ok and action.result is not None:
                instance.variables[action.result] = answer["json"]
            if not ok:
                instance.report_error(str(answer["error"]), action.location)
            branch = "success" if ok else "failure"
            await instance.on_outcome(
                rest, "webhook", branch, rest.branch(branch), {"webhook": answer}, action.location
            )

        self._at(outcome.at, answered)

    def _next(self, kind: str, instance: FlowInstance, what: str) -> Event | None:
        queue = self._outcomes[kind]
        if queue:
            return queue.popleft()
        if self.played.stop is None:
            self.played.stop = Stop(
                "outcome_unknown", self.clock.monotonic(), instance.state, detail=what
            )
        return None

    def _at(self, at: float, job: Callable[[], Awaitable[None]]) -> None:
        delay = at - self.clock.monotonic()
        if delay > 0:
            self.clock.call_later(delay, self.jobs.append, job)
        else:
            self.jobs.append(job)

    async def drain(self) -> None:
        """Run the conversation's queued inputs, one after another, until none is left."""
        while self.jobs and self.played.stop is None:
            await self.jobs.popleft()()


async def play(flow: Flow, machine: FlowMachine, recording: Recording) -> Played:
    """Replay ``recording``'s inputs against ``flow`` (see the module docstring)."""
    stage = _Services(recording)
    played = stage.played
    conv = Conversation(_HREF)
    conv.messaging.state = "Connected"
    conv.messaging.formats = ("Plain", "Html")
    conv.messaging.send_message_href = _HREF + "/messaging/sendMessage"
    conv.messaging.stop_messaging_href = _HREF + "/messaging/stopMessaging"
    conv.messaging.set_is_typing_href = _HREF + "/messaging/typing"
    conv.subject = recording.subject
    caller = recording.caller_uri or _CALLER
    instance = FlowInstance(flow, machine, stage, conv, caller, recording.caller_name)
    for name, value in recording.start_variables.items():
        if name in flow.variables and value != REDACTED:
            instance.variables[name] = value
    try:
        start = _answer(flow, recording, stage)
        if start is not False:
            await instance.start(start)
            await stage.drain()
            await _inputs(instance, recording, stage)
    finally:
        played.variables = dict(instance.variables)
        instance.close()
    return played


def _answer(flow: Flow, recording: Recording, stage: _Services) -> str | Literal[False] | None:
    """The new flow's invitation policy on this caller: ``False`` when it declines, else
    the state a rule starts the conversation in (``None``: the flow's start)."""
    if flow.outbound is not None:
        return None  # the bot invited the caller: no policy answered
    policy = flow.invitation
    # a recording that leaves the caller out meets the rules' `from:` globs (None)
    rule = policy.decide(recording.caller_uri, recording.subject or "", stage.clock.now())
    decision = rule.action if rule is not None else policy.default
    if decision == "decline":
        stage.played.stop = Stop("declined", 0.0, None, detail=recording.caller_uri or "")
        return False
    return rule.goto if rule is not None and rule.goto else None


async def _inputs(instance: FlowInstance, recording: Recording, stage: _Services) -> None:
    played = stage.played
    answered_in: str | None = None  # the recorded state the next caller message meets
    for event in recording.events:
        if played.stop is not None:
            return
        if event.kind == "state":
            answered_in = event.text
            continue
        if event.kind not in ("caller", "left"):
            continue
        await _until(event.at, stage)
        if _stopped(played):
            return
        if event.kind == "caller":
            stop = _cannot_say(instance, recording, event, answered_in, stage)
            if stop is not None:
                played.stop = stop
                return
            stage.jobs.append(partial(instance.on_message, event.text))
        else:
            stage.jobs.append(partial(instance.on_ended, event.text))
        played.inputs += 1
        await stage.drain()
    await _until(recording.end, stage)


def _stopped(played: Played) -> bool:
    return played.stop is not None  # (a function: the stop may come while awaiting)


def _cannot_say(
    instance: FlowInstance,
    recording: Recording,
    event: Event,
    answered_in: str | None,
    stage: _Services,
) -> Stop | None:
    """Why the caller's recorded message cannot be said to the flow now, if it cannot."""
    now = stage.clock.monotonic()
    if instance.ended:
        return Stop("ended", now, None, detail=event.text)
    if event.redacted:
        return Stop("redacted", now, instance.state)
    if recording.has_states and answered_in is not None and instance.state != answered_in:
        return Stop("answer_unknown", now, instance.state, answered_in, event.text)
    return None


async def _until(at: float, stage: _Services) -> None:
    """Let time pass up to ``at``, running what falls due on the way."""
    await stage.drain()
    while stage.manual.step(at):
        await stage.drain()

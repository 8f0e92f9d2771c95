"""Playing a list of caller steps against the flow, and recording what the bot did.

The explorer never predicts what a flow says: it plays each candidate path on the same
:class:`~ucwa_flow.testing._stage.Stage` the test runner uses (simulator, real bot,
virtual clock) and writes down, after every step, what each person heard, the state,
whether the conversation ended and the variables. A script written from a
:class:`Play` therefore records the flow's current behaviour, and passes.

A :class:`Setup` is what a scenario fixes before its steps: the caller, the start of the
virtual clock, and the answers of the mocked web. Webhook answers are chosen per call:
``answers[url]`` lists ``ok``/``fail``/``slow`` (``ok`` after half the webhook's timeout,
so that the caller can act while it waits) for the first calls to ``url``; later calls
are answered ``ok``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import (
    Flow,
    Location,
    Webhook,
    format_duration,
    iter_actions,
    template_context,
)
from ucwa_flow.runtime import CallerError
from ucwa_flow.runtime import trace as t
from ucwa_flow.testing import _script as s
from ucwa_flow.testing._stage import Stage, StepError

__all__ = ["Act", "Observation", "Play", "Setup", "WebMocks", "play", "wait_step"]

Act = s.Invite | s.Say | s.Wait | s.HangUp | s.Accept | s.Decline
HERE = Location("<explore>", 1, 1)


@dataclass(frozen=True, slots=True)
class Setup:
    """What a scenario fixes before its steps; ``entry`` names the way in, for reports."""

    caller: str
    at: datetime | None
    entry: str
    answers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    subject: str = ""  # the invitation's subject (an invitation rule may need one)

    def answer_list(self, url: str) -> tuple[str, ...]:
        return dict(self.answers).get(url, ())

    def with_answers(self, url: str, answers: tuple[str, ...]) -> Setup:
        mapping = dict(self.answers)
        mapping[url] = answers
        every = tuple(sorted(mapping.items()))
        return Setup(self.caller, self.at, self.entry, every, self.subject)


@dataclass(frozen=True, slots=True)
class Observation:
    """The world after one step (index 0: before the first step)."""

    heard: dict[str, tuple[str, ...]]  # person -> messages heard during the step
    state: str | None
    ended: bool
    variables: dict[str, Any]
    captures: dict[str, str]


@dataclass(slots=True)
class Play:
    """One path played: its steps, an observation per step (and one before), the traces."""

    setup: Setup
    steps: tuple[Act, ...]
    observations: list[Observation] = field(default_factory=list)
    traces: list[t.Trace] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)  # webhook URL -> requests made
    error: str | None = None
    unmocked: list[str] = field(default_factory=list)  # webhook URLs known only at run time

    @property
    def last(self) -> Observation:
        return self.observations[-1]


class WebMocks:
    """The URLs of the flow's webhooks (with the variables' defaults) and their bodies.

    An ``ok`` answer carries a JSON object with a value for every field the flow reads
    from the webhook's ``result`` variable (``ticket.id`` -> ``{"id": "1001"}``), so the
    success branch renders as it would in production; a URL known only at run time gets
    every field the flow reads from any webhook's.
    """

    def __init__(self, flow: Flow) -> None:
        text = _flow_text(flow)
        self.bodies: dict[str, dict[str, str]] = {}
        self.timeouts: dict[str, float] = {}
        self.fields: set[str] = set()  # of every webhook's answer
        for state in flow.states.values():
            for actions in state.all_action_lists():
                for action in iter_actions(actions):
                    if isinstance(action, Webhook):
                        self._add(flow, action, text)

    def _add(self, flow: Flow, hook: Webhook, text: str) -> None:
        fields = set(re.findall(r"\bwebhook\.json\.(\w+)", text))
        if hook.result:
            fields |= set(re.findall(rf"\b{re.escape(hook.result)}\.(\w+)", text))
        self.fields |= fields
        try:
            context = template_context(variables=flow.variables, flow=flow.name, timezone="UTC")
            url = hook.url.render(context).strip()
        except UcwaFlowError:
            return
        self.timeouts[url] = min(hook.timeout, self.timeouts.get(url, hook.timeout))
        body = self.bodies.setdefault(url, {})
        body.update({name: "1001" for name in sorted(fields)})

    def learn(self, urls: list[str]) -> bool:
        """Mock URLs the flow computed at run time (a template on a variable set as it
        ran); ``False`` when there was nothing new to learn."""
        new = [url for url in urls if url not in self.bodies]
        for url in new:
            self.bodies[url] = {name: "1001" for name in sorted(self.fields)}
            self.timeouts[url] = min(self.timeouts.values(), default=10.0)
        return bool(new)

    def mocks(self, setup: Setup) -> tuple[s.MockedWebhook, ...]:
        found: list[s.MockedWebhook] = []
        for url, body in self.bodies.items():
            for answer in (*setup.answer_list(url), "ok"):
                ok = answer != "fail"
                delay = round(self.timeouts[url] / 2, 3) if answer == "slow" else 0.0
                status = 200 if ok else 500
                found.append(
                    s.MockedWebhook(url, None, status, body if ok else None, ok, False, delay, HERE)
                )
        return tuple(found)


def wait_step(seconds: float) -> s.Wait:
    return s.Wait(location=HERE, seconds=seconds, spelled=format_duration(seconds))


def scenario(setup: Setup, steps: tuple[Act, ...], web: WebMocks) -> s.Scenario:
    return s.Scenario("explore", HERE, setup.caller, setup.at, (), web.mocks(setup), steps)


async def play(flow: Flow, setup: Setup, steps: tuple[Act, ...], web: WebMocks) -> Play:
    """Play ``steps`` on a fresh stage; ``error`` says why a step could not be done."""
    result = Play(setup, steps)
    try:
        async with Stage(flow, scenario(setup, steps, web)) as stage:
            seen: dict[str, int] = {}
            result.observations.append(_observe(stage, seen, 0))
            for step in steps:
                mark = len(stage.traces)
                await _act(stage, step)
                await stage.settle()
                if stage.web.unmocked:
                    result.error = stage.web.unmocked[0]
                    result.unmocked = [r.url for r in stage.web.requests if r.url not in web.bodies]
                    break
                result.observations.append(_observe(stage, seen, mark))
            # a copy: closing the stage ends the conversation, which is not the path's doing
            result.traces = list(stage.traces)
            for request in stage.web.requests:
                result.calls[request.url] = result.calls.get(request.url, 0) + 1
    except (StepError, CallerError, UcwaFlowError, OSError) as exc:
        result.error = str(exc) or type(exc).__name__
    return result


async def _act(stage: Stage, step: Act) -> None:
    if isinstance(step, s.Invite):
        await stage.party(None).invite(step.text, subject=step.subject)
    elif isinstance(step, s.Say):
        await stage.party(step.who).say(step.text)
    elif isinstance(step, s.HangUp):
        await stage.party(step.who).hang_up()
    elif isinstance(step, s.Accept):
        await stage.party(step.who).accept()
    elif isinstance(step, s.Decline):
        await stage.party(step.who).decline()
    else:
        await stage.wait(step.seconds)


def _observe(stage: Stage, seen: dict[str, int], mark: int) -> Observation:
    heard: dict[str, tuple[str, ...]] = {}
    for uri, party in stage.parties.items():
        texts = party.texts
        new = texts[seen.get(uri, 0) :]
        seen[uri] = len(texts)
        if new:
            heard[uri] = tuple(new)
    instance = stage.instance()
    captures: dict[str, str] = {}
    for record in stage.traces[mark:]:
        if isinstance(record, t.HandlerMatched) and record.kind == "regex":
            captures.update(record.captures)
    party_ended = stage.party(None).ended is not None
    if instance is None:
        return Observation(heard, None, party_ended, {}, captures)
    ended = instance.ended or party_ended
    return Observation(heard, instance.state, ended, dict(instance.variables), captures)


def _flow_text(flow: Flow) -> str:
    try:
        return Path(flow.source).read_text(encoding="utf-8")
    except OSError:
        return ""

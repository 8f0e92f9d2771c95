"""Running scenarios: each step performed or checked, the first failure reported.

Semantics (``docs/testing.md`` states them for authors):

* acting steps (``invite``, ``say``, ``hang_up``, ``accept``, ``decline``, ``wait``; ``say``
  and ``hang_up`` as someone else, an agent of a handoff, too) are
  performed, then the stage settles: the bot has reacted completely before the next step;
* ``expect: {say: ...}`` looks at the **next** message the person heard that no earlier
  expectation matched, and only that one: a message nobody expected in between fails the
  step (it is what the bot said instead). Messages left over at the end do not fail the
  scenario; ``expect: silence`` checks that there are none;
* state, variable and ``ended`` expectations look at the caller's flow instance;
* ``expect: {webhook: {url, json, times}}`` looks at the requests the flow made to ``url``:
  the next one no earlier expectation matched has that body; ``times`` counts them all;
* a scenario stops at its first failing step; a webhook the scenario did not mock fails
  the step during which the flow called it.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Location
from ucwa_flow.runtime import CallerError, FlowInstance
from ucwa_flow.runtime import trace as t
from ucwa_flow.testing import _script as s
from ucwa_flow.testing._stage import Stage, StepError

__all__ = ["Failure", "ScenarioResult", "run_scenario"]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a scenario failed: where (the step), what was expected, what happened."""

    location: Location
    message: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = f"{self.location.file}:{self.location.line}: {self.message}"
        return "\n".join([head, *self.details])


@dataclass(slots=True)
class ScenarioResult:
    """The outcome of one scenario, with every trace record the bot emitted."""

    scenario: s.Scenario
    failure: Failure | None = None
    seconds: float = 0.0
    traces: list[t.Trace] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failure is None


class _Mismatch(Exception):
    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


async def run_scenario(script: s.Script, scenario: s.Scenario) -> ScenarioResult:
    """Run ``scenario`` of ``script`` on a fresh stage and report how it went."""
    started = time.perf_counter()
    result = ScenarioResult(scenario)
    try:
        async with Stage(script.flow, scenario) as stage:
            result.traces = stage.traces
            result.failure = await _Steps(stage).run(scenario.steps)
            # a copy: closing the stage ends the conversation, which the flow did not do
            result.traces = list(stage.traces)
    except (UcwaFlowError, OSError) as exc:
        result.failure = result.failure or Failure(
            scenario.location, f"the scenario could not run: {exc}"
        )
    result.seconds = time.perf_counter() - started
    return result


class _Steps:
    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.read: dict[str, int] = {}  # person -> messages matched so far
        self.called: dict[str, int] = {}  # url -> webhook requests matched so far

    async def run(self, steps: tuple[s.Step, ...]) -> Failure | None:
        for step in steps:
            try:
                if step.acts:
                    await self._act(step)
                    await self.stage.settle()
                    if self.stage.web.unmocked:
                        raise _Mismatch(self.stage.web.unmocked[0])
                else:
                    self._check(step)
            except _Mismatch as exc:
                return Failure(step.location, exc.message, exc.details + self._errors())
            except (StepError, CallerError) as exc:
                return Failure(step.location, str(exc), self._errors())
        return None

    def _errors(self) -> tuple[str, ...]:
        return tuple(
            f"  the bot reported: {r.shown()}"
            for r in self.stage.traces
            if isinstance(r, t.FlowError)
        )

    # -- acting -----------------------------------------------------------------------------

    async def _act(self, step: s.Step) -> None:
        stage = self.stage
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
        elif isinstance(step, s.Wait):
            await stage.wait(step.seconds)

    # -- checking ---------------------------------------------------------------------------

    def _check(self, step: s.Step) -> None:
        if isinstance(step, s.ExpectSay):
            self._said(step)
        elif isinstance(step, s.ExpectSilence):
            self._silence()
        elif isinstance(step, s.ExpectState):
            self._state(step)
        elif isinstance(step, s.ExpectVariables):
            self._variables(step)
        elif isinstance(step, s.ExpectEnded):
            self._ended()
        elif isinstance(step, s.ExpectWebhook):
            self._webhook(step)

    def _webhook(self, step: s.ExpectWebhook) -> None:
        bodies = [r.body for r in self.stage.web.requests if r.url == step.url]
        if step.times is not None and len(bodies) != step.times:
            raise _Mismatch(
                f"expected the flow to call {step.url} {step.times} time(s), "
                f"but it called it {len(bodies)} time(s)"
            )
        if not step.has_json:
            return
        index = self.called.get(step.url, 0)
        if index >= len(bodies):
            raise _Mismatch(f"expected the flow to call {step.url}, but it did not (again)")
        if not _within(step.json, bodies[index]):
            raise _Mismatch(
                f"expected the flow to call {step.url} with {_shown(step.json)}, "
                f"but it sent {_shown(bodies[index])}"
            )
        self.called[step.url] = index + 1

    def _said(self, step: s.ExpectSay) -> None:
        party = self.stage.party(step.to)
        heard = party.texts
        index = self.read.get(party.uri, 0)
        expected = _describe(step)
        whom = "" if step.to is None else f" to {step.to}"
        if index >= len(heard):
            said = f"; the last thing it said was {_quote(heard[-1])}" if heard else ""
            raise _Mismatch(f"expected the bot to say {expected}{whom}, but it said nothing{said}")
        actual = heard[index]
        if _matches(step, actual):
            self.read[party.uri] = index + 1
            return
        raise _Mismatch(
            f"expected the bot to say {expected}{whom}, but it said {_quote(actual)}",
            _diff(step.text, actual) if step.mode == "exact" else (),
        )

    def _silence(self) -> None:
        party = self.stage.party(None)
        left = party.texts[self.read.get(party.uri, 0) :]
        if left:
            more = f" (and {len(left) - 1} more)" if len(left) > 1 else ""
            said = _quote(left[0])
            raise _Mismatch(f"expected the bot to say nothing more, but it said {said}{more}")

    def _state(self, step: s.ExpectState) -> None:
        instance = self._instance(f"to be in state {step.state!r}")
        if instance.state == step.state:
            return
        if instance.ended:
            last = self.stage.last_state(instance.href)
            raise _Mismatch(
                f"expected the conversation to be in state {step.state!r}, but it has ended"
                + (f" (its last state was {last!r})" if last else "")
            )
        raise _Mismatch(
            f"expected the conversation to be in state {step.state!r}, "
            f"but it is in {instance.state!r}"
        )

    def _variables(self, step: s.ExpectVariables) -> None:
        instance = self._instance("to have variables")
        for name, value in step.values.items():
            if name not in instance.variables:
                known = ", ".join(sorted(instance.variables)) or "none"
                # in a sub-flow, its own variables: the flow's come back with the return
                where = f", in sub-flow state {instance.state!r}," if instance.calls.frames else ""
                raise _Mismatch(
                    f"expected variable {name!r} to be {_shown(value)}, but the conversation"
                    f"{where} has no such variable (it has: {known})"
                )
            actual = instance.variables[name]
            if not _same(value, actual):
                raise _Mismatch(
                    f"expected variable {name!r} to be {_shown(value)}, but it is {_shown(actual)}"
                )

    def _ended(self) -> None:
        party = self.stage.party(None)
        instance = self.stage.instance()
        if party.ended is not None or (instance is not None and instance.ended):
            return
        where = f" (it is in state {instance.state!r})" if instance is not None else ""
        raise _Mismatch(f"expected the conversation to have ended, but it goes on{where}")

    def _instance(self, what: str) -> FlowInstance:
        instance = self.stage.instance()
        if instance is None:
            caller = self.stage.scenario.caller
            raise _Mismatch(
                f"expected the conversation {what}, but the bot has no conversation with {caller}"
            )
        return instance


def _within(expected: Any, actual: Any) -> bool:
    """``actual`` has what ``expected`` says: a mapping key by key (keys it leaves out
    are not checked), anything else whole."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _within(value, actual[key]) for key, value in expected.items()
        )
    return _same(expected, actual)


def _same(expected: Any, actual: Any) -> bool:
    """Equal values of the same JSON kind, at every depth: Python takes ``True`` for ``1``
    (in ``[True] == [1]`` too), a test does not."""
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_same(value, actual[key]) for key, value in expected.items())
        )
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(expected) == len(actual)
            and all(_same(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(
        expected == actual and (type(expected) is type(actual) or _numbers(expected, actual))
    )


def _numbers(a: Any, b: Any) -> bool:
    kinds = (int, float)
    # a bool is an int to Python, but `true` and `1` are different answers in a test
    return (
        isinstance(a, kinds)
        and isinstance(b, kinds)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )


def _matches(step: s.ExpectSay, actual: str) -> bool:
    if step.mode == "exact":
        return actual == step.text
    if step.mode == "contains":
        return step.text in actual
    return re.search(step.text, actual) is not None


def _describe(step: s.ExpectSay) -> str:
    if step.mode == "contains":
        return f"something containing {_quote(step.text)}"
    if step.mode == "regex":
        return f"something matching /{step.text}/"
    return _quote(step.text)


def _quote(text: str) -> str:
    shown = text if len(text) <= 120 else text[:117] + "..."
    return '"' + shown.replace("\n", "\\n") + '"'


def _diff(expected: str, actual: str) -> tuple[str, ...]:
    """A readable difference for near misses: a line diff, or a caret under the change."""
    if "\n" in expected or "\n" in actual:
        lines = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "expected", "said", lineterm="", n=1
        )
        return tuple("  " + line for line in lines)
    if difflib.SequenceMatcher(None, expected, actual).ratio() < 0.5:
        return ()
    first = next(
        (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
        min(len(expected), len(actual)),
    )
    return (
        f"  expected: {expected}",
        f"  said:     {actual}",
        "            " + " " * first + "^ differs here",
    )


def _shown(value: object) -> str:
    """A value as a script writes it (JSON: ``true``, ``null``, ``"text"``), not Python's
    ``True``, ``None``, ``'text'``."""
    return json.dumps(value, ensure_ascii=False, default=str)

"""Loading a test script: YAML with positions -> schema -> checks -> :class:`Script`.

The YAML is read by the flow language's strict loader (positions, no duplicate keys, no
anchors) and checked against ``test.schema.json``. Then the script is checked against the
flow it names, which is loaded too: the flow must exist and be free of errors, regexes
must compile, ``at`` must be a real time (in UTC too), and ``expect: {state: X}`` must
name a state of the flow. Every problem is a :class:`~ucwa_flow.flow.Diagnostic` at
``file:line:col``.

Codes of the script checks (the flow's own ``Y``/``S`` codes are reused for YAML and
schema problems): ``T001`` the flow file is missing or has errors, ``T002`` a regex does
not compile, ``T003`` a time is not valid, ``T004`` an unknown state; ``T005`` to ``T007``
(two scenarios of one name, an unknown variable, a wait too long) are in
:mod:`._script_checks`.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ucwa_flow.flow import (
    Diagnostic,
    Flow,
    FlowFileError,
    Location,
    Severity,
    load_flow,
    parse_duration,
    resolve_flow_path,
)
from ucwa_flow.flow._loader import Document, not_utf8, read_document
from ucwa_flow.flow._name_checks import variable_names
from ucwa_flow.testing import _script as s
from ucwa_flow.testing import _script_checks as checks
from ucwa_flow.testing._schema import check_script_schema

__all__ = ["ScriptFileError", "ScriptResult", "load_script"]


class ScriptFileError(FlowFileError):
    """A script file that cannot be read at all."""


@dataclass(frozen=True, slots=True)
class ScriptResult:
    """The script (``None`` when there is any error) and every diagnostic, by position."""

    script: s.Script | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def load_script(path: str | os.PathLike[str]) -> ScriptResult:
    """Load and check the test script at ``path`` and the flow it names.

    Problems are diagnostics in the result; an unreadable script raises
    :class:`ScriptFileError`.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ScriptFileError(f"{path}: no such test script") from None
    except IsADirectoryError:
        raise ScriptFileError(f"{path}: is a directory, not a test script") from None
    except OSError as exc:
        raise ScriptFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ScriptResult(None, [not_utf8(exc, str(file))])
    document, diagnostics = read_document(text, str(file), kind="test script")
    if document is not None:
        diagnostics = check_script_schema(document)
    if document is None or diagnostics:
        return ScriptResult(None, diagnostics)
    return _Builder(document, file).build()


def _part_of_a_flow(path: Path) -> str:
    if path.name.endswith(".subflow.yaml"):
        return f"{path} is a sub-flow, not a flow: test a flow that calls it"
    return f"{path} is an included file, not a flow: test a flow that includes it"


def _error(location: Location, code: str, message: str) -> Diagnostic:
    return Diagnostic(location.file, location.line, location.col, code, Severity.ERROR, message)


class _Builder:
    """Turns a schema-valid document into a :class:`Script`, collecting check errors."""

    def __init__(self, doc: Document, file: Path) -> None:
        self.doc = doc
        self.file = file
        self.problems: list[Diagnostic] = []

    def build(self) -> ScriptResult:
        data: dict[str, Any] = self.doc.data
        flow_at = self.doc.locate(("flow",))
        flow_file = resolve_flow_path(self.file.parent / data["flow"])
        flow = self._flow(flow_file, flow_at)
        users = tuple(data.get("users", ()))
        scenarios = tuple(
            self._scenario(raw, ("scenarios", i), users, flow)
            for i, raw in enumerate(data["scenarios"])
        )
        self.problems += checks.duplicate_names(scenarios)
        for scenario in scenarios:
            self.problems += checks.wait_problems(scenario)
        problems = sorted(self.problems, key=Diagnostic.sort_key)
        if flow is None or any(d.is_error for d in problems):
            return ScriptResult(None, problems)
        return ScriptResult(s.Script(self.file, flow_file, flow, scenarios), problems)

    def _flow(self, flow_file: Path, at: Location) -> Flow | None:
        try:
            result = load_flow(flow_file)
        except FlowFileError as exc:  # missing, a folder, unreadable
            exists = os.path.lexists(flow_file)
            why = str(exc) if exists else f"flow file {flow_file} does not exist"
            self.problems.append(_error(at, "T001", why))
            return None
        if result.flow is None and not result.errors:  # a part of a flow: no flow, no error
            self.problems.append(_error(at, "T001", _part_of_a_flow(flow_file)))
        elif result.flow is None:
            first = result.errors[0]
            message = f"flow {flow_file} has errors (first: {first}); run `ucwa-flow validate`"
            self.problems.append(_error(at, "T001", message))
        return result.flow

    def _scenario(
        self,
        raw: dict[str, Any],
        path: tuple[str | int, ...],
        users: tuple[str, ...],
        flow: Flow | None,
    ) -> s.Scenario:
        at = None
        if "at" in raw:
            location = self.doc.locate((*path, "at"))
            try:
                at = datetime.fromisoformat(raw["at"])
            except ValueError as exc:
                self.problems.append(_error(location, "T003", f"at: {raw['at']!r}: {exc}"))
            else:
                try:  # the virtual clock runs on UTC
                    at.astimezone(UTC)
                except OverflowError:
                    at = None
                    why = "is outside the years 1-9999 in UTC"
                    self.problems.append(_error(location, "T003", f"at: {raw['at']!r} {why}"))
        webhooks = tuple(
            self._webhook(hook, (*path, "webhooks", i))
            for i, hook in enumerate(raw.get("webhooks", ()))
        )
        steps = tuple(
            self._step(step, (*path, "steps", i), flow) for i, step in enumerate(raw["steps"])
        )
        return s.Scenario(
            name=raw["name"],
            location=self.doc.locate((*path, "name")),
            caller=raw.get("caller", s.DEFAULT_CALLER),
            at=at,
            users=tuple(dict.fromkeys((*users, *raw.get("users", ())))),
            webhooks=webhooks,
            steps=steps,
        )

    def _webhook(self, raw: dict[str, Any], path: tuple[str | int, ...]) -> s.MockedWebhook:
        return s.MockedWebhook(
            url=raw["url"],
            method=raw.get("method"),
            status=raw.get("status", 200),
            json=raw.get("json"),
            has_json="json" in raw,
            fail=raw.get("fail", False),
            delay=parse_duration(raw.get("delay", 0)),
            location=self.doc.locate(path),
        )

    def _step(self, raw: Any, path: tuple[str | int, ...], flow: Flow | None) -> s.Step:
        at = self.doc.locate(path)
        value: Any = None
        if isinstance(raw, str):
            key = raw
        else:
            ((key, value),) = raw.items()
        if key == "invite":
            if isinstance(value, dict):  # {text: hello, subject: Pizza order}
                return s.Invite(location=at, text=value.get("text"), subject=value["subject"])
            return s.Invite(location=at, text=value)
        if key == "say":
            if isinstance(value, dict):  # {as: sip:agent@..., text: hello}
                return s.Say(location=at, text=value["text"], who=value["as"])
            return s.Say(location=at, text=value)
        if key == "hang_up":
            return s.HangUp(location=at, who=value)
        if key == "accept":
            return s.Accept(location=at, who=value)
        if key == "decline":
            return s.Decline(location=at, who=value)
        if key == "wait":
            return s.Wait(location=at, seconds=parse_duration(value), spelled=str(value))
        return self._expect(value, (*path, "expect"), at, flow)

    def _expect(
        self, raw: Any, path: tuple[str | int, ...], at: Location, flow: Flow | None
    ) -> s.Step:
        if raw == "ended":
            return s.ExpectEnded(location=at)
        if raw == "silence":
            return s.ExpectSilence(location=at)
        if "state" in raw:
            state = raw["state"]
            if flow is not None and state not in flow.states:
                close = difflib.get_close_matches(state, list(flow.states), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                message = f"flow {flow.name!r} has no state {state!r}{hint}"
                self.problems.append(_error(self.doc.locate((*path, "state")), "T004", message))
            return s.ExpectState(location=at, state=state)
        if "variable" in raw:
            values = dict(raw["variable"])
            if flow is not None:
                self.problems += checks.unknown_variables(
                    values,
                    flow.name,
                    variable_names(flow),
                    lambda name: self.doc.locate((*path, "variable", name), key=True),
                )
            return s.ExpectVariables(location=at, values=values)
        if "webhook" in raw:
            hook = raw["webhook"]
            return s.ExpectWebhook(
                location=at,
                url=hook["url"],
                json=hook.get("json"),
                has_json="json" in hook,
                times=hook.get("times"),
            )
        said = raw["say"]
        mode, text = ("exact", said) if isinstance(said, str) else next(iter(said.items()))
        if mode == "regex":
            try:
                re.compile(text)
            except (re.error, RecursionError) as exc:  # re's parser recurses: ((((...))))
                why = exc if isinstance(exc, re.error) else "nested too deeply"
                location = self.doc.locate((*path, "say", "regex"))
                self.problems.append(_error(location, "T002", f"regex {text!r}: {why}"))
        return s.ExpectSay(location=at, mode=mode, text=text, to=raw.get("to"))

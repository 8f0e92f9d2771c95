"""Building the compiled :class:`~ucwa_flow.flow.Flow` from a schema-valid document.

The builder trusts the document's shape (the schema has passed) but not its content: it
compiles every regex, template and condition, parses durations, time-of-day ranges and
time zones, and reports what does not compile as located ``F`` diagnostics. It goes on
after a problem, leaving the broken piece out, so that one run reports every problem; a
flow built with errors is only ever used by the checks, never run.

Handler sugar is expanded here: ``set``, ``say``, ``do`` and ``goto`` become one action
list in that order. A number where a text is expected (``choice: [1]``, a state named
``404``) means its text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, cast

from ucwa_flow.flow._backtracking import backtracking_warning
from ucwa_flow.flow._build_base import BuilderBase, text_of
from ucwa_flow.flow._campaign import build_campaign
from ucwa_flow.flow._diagnostics import Diagnostic
from ucwa_flow.flow._handoff_build import build_handoff
from ucwa_flow.flow._invitation_build import build_invitation, check_zone, globs
from ucwa_flow.flow._loader import Document, Path
from ucwa_flow.flow._model import (
    Action,
    Flow,
    Goto,
    If,
    Invite,
    LadderStep,
    Log,
    MessageHandler,
    Outbound,
    Settings,
    SetVariable,
    State,
    Stop,
    SubFlow,
    TimeoutStep,
    Typing,
    Webhook,
)
from ucwa_flow.flow._parts import Parts
from ucwa_flow.flow._patterns import Matcher, MatcherKind
from ucwa_flow.flow._sandbox import Condition
from ucwa_flow.flow._texts import build_say, with_detectors
from ucwa_flow.flow._url_parts import Unencoded, unencoded

__all__ = ["build_flow"]

_GROUP_NAME = re.compile(r"\(\?P?<([A-Za-z_]\w*)>")
_BACKSPACE = (
    "the regex holds a backspace character, which no message has: in double quotes YAML "
    "reads \\b as a backspace, not as a word edge; write the regex in single quotes"
)
_TRIGGERS: tuple[MatcherKind, ...] = ("regex", "keywords", "choice", "any")

_ACTIONS = ("say", "set", "goto", "log", "if", "invite", "webhook", "handoff")
DEFAULT_INVITE_TIMEOUT = 60.0
DEFAULT_WEBHOOK_TIMEOUT = 10.0


def build_flow(document: Document, parts: Parts | None = None) -> tuple[Flow, list[Diagnostic]]:
    """Compile a schema-valid document, with the sub-flows of ``parts`` that it calls; the
    diagnostics are the F errors found on the way."""
    builder = _Builder(document, parts)
    return builder.flow(), builder.problems


_text = text_of


class _Builder(BuilderBase):
    # --- top level -------------------------------------------------------------------

    def flow(self) -> Flow:
        data: dict[str, Any] = self.doc.data
        self.settings = self.build_settings(data.get("settings", {}))
        variables = dict(data.get("variables", {}))
        for name in variables:
            self.variable_name(name, ("variables", name))
        commands = self.commands(data.get("commands", {}), ("commands",))
        states = {
            name: self.state(name, raw, ("states", name), commands)
            for name, raw in data["states"].items()
        }
        subflows = {}
        for sub in self.parts.subflows.values():
            if sub is not None:
                inner = _Builder(
                    sub, self.parts, prefix=f"{sub.data['subflow']}/", settings=self.settings
                )
                subflows[sub.data["subflow"]] = inner.subflow(states)
                self.problems += inner.problems
        outbound = data.get("outbound")
        return Flow(
            name=_text(data["name"]),
            description=data.get("description", ""),
            version=int(data["version"]),
            start=_text(data["start"]),
            settings=self.settings,
            variables=MappingProxyType(variables),
            secrets=frozenset(data.get("secrets", ())),
            invitation=build_invitation(self, data.get("invitation"), ("invitation",)),
            commands=tuple(commands.values()),
            states=MappingProxyType(states),
            outbound=self.outbound(outbound, ("outbound",)) if outbound else None,
            source=self.doc.file,
            digest=self.parts.digest(self.doc.digest),
            location=self.loc(()),
            subflows=MappingProxyType(subflows),
            files=(self.doc.file, *self.parts.files),
        )

    def subflow(self, states: dict[str, State]) -> SubFlow:
        """Build this sub-flow document's states into ``states``; its description."""
        data: dict[str, Any] = self.doc.data
        for name in (*data.get("variables", {}), *data.get("params", {})):
            self.variable_name(
                name, ("params" if name in data.get("params", {}) else "variables", name)
            )
        commands = self.commands(data.get("commands", {}), ("commands",))
        own = [self.target(name) for name in data["states"]]
        for name, raw in data["states"].items():
            if self.target(name) in states:  # the flow named a state of its own like that
                clash = f"state {self.target(name)!r} is also a state of the calling flow"
                self.report(("states", name), "F132", clash, key=True)
                continue
            states[self.target(name)] = self.state(
                self.target(name), raw, ("states", name), commands
            )
        if data["start"] not in data["states"]:
            self.report(("start",), "F102", f"start state {data['start']!r} does not exist")
        params = data.get("params", {})
        return SubFlow(
            name=data["subflow"],
            description=data.get("description", ""),
            file=self.doc.file,
            start=self.target(data["start"]),
            params=MappingProxyType({k: v.get("default") for k, v in params.items()}),
            required=frozenset(k for k, v in params.items() if "default" not in v),
            returns=tuple(data.get("returns", ())),
            variables=MappingProxyType(dict(data.get("variables", {}))),
            states=tuple(own),
            location=self.loc(()),
        )

    def build_settings(self, raw: Mapping[str, Any]) -> Settings:
        base = Settings()
        path: Path = ("settings",)
        idle = raw.get("idle_timeout")
        timezone = raw.get("timezone", base.timezone)
        check_zone(self, timezone, (*path, "timezone"))
        settings = Settings(
            format=raw.get("format", base.format),
            first_message=raw.get("first_message", base.first_message),
            idle_timeout=(
                None if idle is None else self.duration(idle, (*path, "idle_timeout"), 0.0)
            ),
            match_timeout=self.duration(
                raw.get("match_timeout"), (*path, "match_timeout"), base.match_timeout
            ),
            max_message_length=raw.get("max_message_length", base.max_message_length),
            timezone=timezone,
            changed_message=raw.get("changed_message", base.changed_message),
            default_language=raw.get("default_language"),
            language=self.template(raw.get("language"), (*path, "language")),
        )
        return with_detectors(settings, raw.get("detect_language", {}))

    # --- states and handlers -----------------------------------------------------------

    def state(
        self, name: str, raw: Mapping[str, Any], path: Path, globals_: dict[str, MessageHandler]
    ) -> State:
        own = raw.get("commands", {})
        local = self.commands({k: v for k, v in own.items() if v is not False}, (*path, "commands"))
        disabled = {k for k, v in own.items() if v is False}
        for unknown in sorted(disabled - globals_.keys()):  # F125: `hlep: false`
            close = difflib.get_close_matches(unknown, list(globals_), n=1)
            message = f"`false` switches off a global command, and none is named {unknown!r}"
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.report((*path, "commands", unknown), "F125", message + hint, key=True)
        remaining = [h for n, h in globals_.items() if n not in local and n not in disabled]
        handlers = [
            self.handler(item, (*path, "messages", i), None)
            for i, item in enumerate(raw.get("messages", []))
        ]
        return State(
            name=name,
            enter=self.actions(raw.get("enter", []), (*path, "enter")),
            handlers=tuple(handlers),
            commands=(*local.values(), *remaining),
            no_match=tuple(
                LadderStep(
                    self.actions(
                        step if isinstance(step, list) else [step],
                        (*path, "no_match", i),
                        single=not isinstance(step, list),
                    ),
                    self.loc((*path, "no_match", i)),
                )
                for i, step in enumerate(raw.get("no_match", []))
            ),
            timeouts=self.timeouts(raw.get("timeouts", []), (*path, "timeouts")),
            ended=self.actions(raw.get("ended", []), (*path, "ended")),
            delivery_failed=self.actions(
                raw.get("delivery_failed", []), (*path, "delivery_failed")
            ),
            location=self.loc(path, key=True),
        )

    def commands(self, raw: Mapping[str, Any], path: Path) -> dict[str, MessageHandler]:
        return {name: self.handler(item, (*path, name), name) for name, item in raw.items()}

    def handler(self, raw: Mapping[str, Any], path: Path, name: str | None) -> MessageHandler:
        kind = next(k for k in _TRIGGERS if ("match" if k == "regex" else k) in raw)
        values: list[str] = []
        if kind == "regex":
            values = [raw["match"]]
        elif kind != "any":
            values = [_text(v) for v in raw[kind]]
        try:
            matcher = Matcher(
                kind,
                values,
                timeout=self.settings.match_timeout,
                max_length=self.settings.max_message_length,
            )
        except Exception as exc:  # regex.error: the only failure a Matcher can have
            position = getattr(exc, "pos", None)
            at = f" at position {position}" if position is not None else ""
            reason = getattr(exc, "msg", str(exc))
            # as written (a repr shows each backslash twice), unless that takes two lines
            shown = repr(values[0]) if "\n" in values[0] else f"'{values[0]}'"
            message = f"regex {shown} does not compile{at}: {reason}"
            self.report((*path, "match"), "F105", message)
            # Keep checking the rest of the handler with a matcher that never matches.
            matcher = Matcher("choice", ())
            matcher.groups = frozenset(_GROUP_NAME.findall(values[0]))
        else:
            warning = backtracking_warning(values[0]) if kind == "regex" else None
            if warning is not None:
                self.report((*path, "match"), "F120", warning)
            if kind == "regex" and "\x08" in values[0]:  # "\b" in double quotes: a backspace
                self.report((*path, "match"), "F122", _BACKSPACE)
        for group in matcher.groups:
            self.variable_name(group, (*path, "match"), key=False)
        actions: list[Action] = []
        for var, value in raw.get("set", {}).items():
            actions.extend(self.set_variable(var, value, (*path, "set", var)))
        if "say" in raw:
            actions.extend(self.say(raw["say"], (*path, "say")))
        actions.extend(self.actions(raw.get("do", []), (*path, "do")))
        if "goto" in raw:
            actions.append(Goto(self.goto_target(raw["goto"]), self.loc((*path, "goto"))))
        return MessageHandler(matcher, tuple(actions), self.loc(path, key=name is not None), name)

    def timeouts(self, raw: list[Mapping[str, Any]], path: Path) -> tuple[TimeoutStep, ...]:
        steps: list[TimeoutStep] = []
        for i, item in enumerate(raw):
            after = self.duration(item["after"], (*path, i, "after"), 0.0)
            if steps and after <= steps[-1].after:
                self.report(
                    (*path, i, "after"),
                    "F116",
                    f"timeout after {item['after']!r} is not later than the step before it;"
                    " `after` counts from the same moment for every step",
                )
            steps.append(
                TimeoutStep(after, self.actions(item["do"], (*path, i, "do")), self.loc((*path, i)))
            )
        return tuple(steps)

    # --- actions ---------------------------------------------------------------------

    def actions(self, raw: list[Any], path: Path, *, single: bool = False) -> tuple[Action, ...]:
        built: list[Action] = []
        for i, item in enumerate(raw):
            built.extend(self.action(item, path if single else (*path, i)))
        return tuple(built)

    def action(self, raw: Any, path: Path) -> list[Action]:
        if raw == "stop":
            return [Stop(self.loc(path))]
        if raw == "typing":
            return [Typing(self.loc(path))]
        returns = self.doc.data.get("returns", [])
        if raw == "return":
            return self.return_(None, path, returns)
        if "return" in raw:
            return self.return_(raw["return"], (*path, "return"), returns)
        key = next(k for k in (*_ACTIONS, "call") if k in raw)
        value, at = raw[key], (*path, key)
        if key == "say":
            return self.say(value, at)
        if key == "set":
            return [a for var, v in value.items() for a in self.set_variable(var, v, (*at, var))]
        if key == "goto":
            return [Goto(self.goto_target(value), self.loc(at))]
        if key == "call":
            return self.call(value, at)
        if key == "log":
            parts = value if isinstance(value, dict) else {"message": value}
            message = self.template(parts["message"], at)
            level = cast(Literal["debug", "info", "warning", "error"], parts.get("level", "info"))
            return [Log(message, level, self.loc(path))] if message else []
        if key == "if":
            condition = self.compiled(at, lambda loc: Condition(value, loc), "F113")
            then = self.actions(raw["then"], (*path, "then"))
            otherwise = self.actions(raw.get("else", []), (*path, "else"))
            return [If(condition, then, otherwise, self.loc(path))] if condition else []
        if key == "invite":
            return self.invite(value, at)
        return self.webhook(value, at) if key == "webhook" else build_handoff(self, value, at)

    def say(self, raw: Any, path: Path) -> list[Action]:
        return build_say(self, raw, path)

    def set_variable(self, name: str, raw: Any, path: Path) -> list[Action]:
        self.variable_name(name, path)
        value = self.value(raw, path)
        return [SetVariable(name, value, self.loc(path, key=True))] if value else []

    def branch(self, raw: Mapping[str, Any], key: str, path: Path) -> tuple[Action, ...] | None:
        return self.actions(raw[key], (*path, key)) if key in raw else None

    def invite(self, raw: Mapping[str, Any], path: Path) -> list[Action]:
        to = self.template(raw["to"], (*path, "to"))
        if to is None:
            return []
        return [
            Invite(
                to=to,
                message=self.template(raw.get("message"), (*path, "message")),
                subject=self.template(raw.get("subject"), (*path, "subject")),
                importance=raw.get("importance", "normal"),
                timeout=self.duration(
                    raw.get("timeout"), (*path, "timeout"), DEFAULT_INVITE_TIMEOUT
                ),
                accepted=self.branch(raw, "accepted", path),
                declined=self.branch(raw, "declined", path),
                no_answer=self.branch(raw, "no_answer", path),
                location=self.loc(path, key=True),
            )
        ]

    def webhook(self, raw: Mapping[str, Any], path: Path) -> list[Action]:
        url = self.template(raw["url"], (*path, "url"))
        for where, values in _by_part(unencoded(url.source) if url is not None else []):
            self.report((*path, "url"), "F123", f"{values} {_F123[where]}")
        headers = {
            name: self.template(value, (*path, "headers", name))
            for name, value in raw.get("headers", {}).items()
        }
        body = None
        if "json" in raw:
            body = self.value(raw["json"], (*path, "json"))
        result = raw.get("result")
        if result is not None:
            self.variable_name(result, (*path, "result"), key=False)
        if url is None:
            return []
        return [
            Webhook(
                url=url,
                method=raw.get("method", "POST"),
                headers=tuple((n, t) for n, t in headers.items() if t is not None),
                json=body,
                timeout=self.duration(
                    raw.get("timeout"), (*path, "timeout"), DEFAULT_WEBHOOK_TIMEOUT
                ),
                result=result,
                success=self.actions(raw.get("success", []), (*path, "success")),
                failure=self.branch(raw, "failure", path),
                location=self.loc(path, key=True),
            )
        ]

    # --- outbound --------------------------------------------------------------------

    def outbound(self, raw: Mapping[str, Any], path: Path) -> Outbound:
        return Outbound(
            to=globs(raw["to"]),
            message=self.template(raw.get("message"), (*path, "message")),
            subject=self.template(raw.get("subject"), (*path, "subject")),
            importance=raw.get("importance", "normal"),
            timeout=self.duration(raw.get("timeout"), (*path, "timeout"), DEFAULT_INVITE_TIMEOUT),
            declined=self.branch(raw, "declined", path),
            no_answer=self.branch(raw, "no_answer", path),
            location=self.loc(path, key=True),
            campaign=build_campaign(self, raw, path),
        )


#: what F123 says of the values put into a URL's host, path or query
_F123 = {
    "host": "goes into the URL's host: a value such as 'evil.example/' sends the request "
    "and its headers to another server; keep the host fixed, or start the URL with the "
    "whole base URL ('{{ base_url }}/...')",
    "path": "goes into the URL's path as it is: a value such as 'a/b' or '..' changes the "
    "path the request goes to; add '| urlsegment'",
    "query": "goes into the URL's query as it is: a value such as 'a b&c' makes a wrong "
    "request (and lets a caller write the query); add '| urlencode'",
}


def _by_part(found: list[Unencoded]) -> list[tuple[str, str]]:
    """The values of ``found`` by the part of the URL they go into (host, path, query)."""
    return [
        (where, " and ".join(dict.fromkeys(f.value for f in found if f.where == where)))
        for where in _F123
        if any(f.where == where for f in found)
    ]

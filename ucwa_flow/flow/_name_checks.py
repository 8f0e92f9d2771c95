"""The checks of names: F106 (variables), F107 (captures), F121 (secrets), F124 (fields).

A template may read only the variables its flow (or its sub-flow) declares or sets, the
captures of the pattern that matched, and the fields the context's names have
(``caller.name``, not ``caller.nmae``; ``message`` is a text, without fields); a name of
``secrets`` must be one of those variables. Registered in
:data:`~ucwa_flow.flow._checks.CHECKS` with the other semantic checks; :func:`all_compiled`
and :func:`all_lists` serve the campaign checks too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol

from ucwa_flow.flow._campaign import CAMPAIGN_PREFIX, campaign_lists
from ucwa_flow.flow._diagnostics import Diagnostic, Location
from ucwa_flow.flow._loader import Document
from ucwa_flow.flow._model import (
    Action,
    Call,
    Flow,
    Handoff,
    If,
    Invite,
    Log,
    Return,
    Say,
    SetVariable,
    State,
    Webhook,
    iter_actions,
)
from ucwa_flow.flow._sandbox import RESERVED_NAMES, Condition, Template, Value

__all__ = [
    "all_compiled",
    "all_lists",
    "check_names",
    "check_secrets",
    "flow_lists",
    "scope_of",
    "suggest",
    "variable_names",
]

_Compiled = Template | Value | Condition


class _Reads(Protocol):
    """What a template, a condition or a value's part reads, and where it is."""

    @property
    def location(self) -> Location: ...
    @property
    def variables(self) -> frozenset[str]: ...
    @property
    def captures(self) -> frozenset[str]: ...


#: what every template can read besides the variables: a misspelt `callr` means `caller`
_CONTEXT = frozenset(
    {"vars", "match", "caller", "message", "webhook", "now", "state", "flow"}
    | {"conversation", "delivery", "campaign"}
)


def _public(kind: type) -> frozenset[str]:
    return frozenset(name for name in dir(kind) if not name.startswith("_"))


#: the fields of the context's names of a fixed shape (``_context.template_context``), with
#: the methods of their Python type (``message.lower()``, ``caller.get('name')``)
_FIELDS: dict[str, frozenset[str]] = {
    "caller": frozenset({"uri", "name"}) | _public(dict),
    "message": _public(str),
    "webhook": frozenset({"status", "json", "error"}) | _public(dict),
    "conversation": frozenset({"format", "subject", "messages", "account", "previous", "language"})
    | _public(dict),
    "delivery": frozenset({"code", "subcode", "message", "status"}) | _public(dict),
    "now": _public(datetime),
    "state": _public(str),
    "flow": _public(str),
}
#: what the message of F124 offers: the fields, not the methods
_SHOWN = {
    "caller": "uri, name",
    "webhook": "status, json, error",
    "conversation": "format, subject, messages, account, previous, language",
    "delivery": "code, subcode, message, status",
}


def suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def flow_lists(flow: Flow) -> Iterator[tuple[State | None, tuple[Action, ...]]]:
    for state in flow.states.values():
        for actions in state.all_action_lists():
            yield state, actions
    if flow.outbound is not None:
        yield None, flow.outbound.declined or ()
        yield None, flow.outbound.no_answer or ()


# --- F106, F107: variables and captures ----------------------------------------------


def _compiled_in(actions: tuple[Action, ...]) -> Iterator[_Compiled]:
    for action in iter_actions(actions):
        if isinstance(action, Say):
            versions = [(action.text, action.html), *((t, h) for _, t, h in action.texts)]
            yield from (t for pair in versions for t in pair if t is not None)
        elif isinstance(action, SetVariable):
            yield action.value
        elif isinstance(action, Log):
            yield action.message
        elif isinstance(action, If):
            yield action.condition
        elif isinstance(action, Invite):
            yield from (t for t in (action.to, action.message, action.subject) if t)
        elif isinstance(action, Handoff):
            yield from (t for t in (*action.to, action.message, action.subject) if t)
        elif isinstance(action, Webhook):
            yield action.url
            yield from (t for _, t in action.headers)
            if action.json is not None:
                yield action.json
        elif isinstance(action, Call | Return):
            yield from (
                value for _, value in (action.args if isinstance(action, Call) else action.values)
            )


def scope_of(flow: Flow) -> dict[str, str]:
    """The sub-flow each state belongs to ("" for the flow's own states)."""
    return {name: sub.name for sub in flow.subflows.values() for name in sub.states}


def _scopes(flow: Flow) -> Iterator[tuple[str, frozenset[str], _Compiled]]:
    """Every template with its variable scope and the captures available where it runs."""
    seen: set[int] = set()
    scopes = scope_of(flow)
    for state in flow.states.values():
        scope = scopes.get(state.name, "")
        for handler in (*state.commands, *state.handlers):
            if id(handler) not in seen:
                seen.add(id(handler))
                for compiled in _compiled_in(handler.actions):
                    yield scope, handler.matcher.groups, compiled
        lists = [state.enter, state.ended, state.delivery_failed]
        lists += [rung.actions for rung in state.no_match]
        lists += [step.actions for step in state.timeouts]
        for actions in lists:
            for compiled in _compiled_in(actions):
                yield scope, frozenset(), compiled
    policy = flow.invitation
    extra = [policy.decline_message, flow.settings.language, *(r.message for r in policy.rules)]
    if flow.outbound is not None:
        out = flow.outbound
        extra += [out.message, out.subject]
        for actions in (out.declined or (), out.no_answer or (), *campaign_lists(out)):
            yield from (("", frozenset(), c) for c in _compiled_in(actions))
    yield from (("", frozenset(), t) for t in extra if t is not None)


def all_compiled(flow: Flow) -> Iterator[_Compiled]:
    """Every template, value and condition of the flow (its campaign report's too)."""
    return (compiled for _, _, compiled in _scopes(flow))


def all_lists(flow: Flow) -> list[tuple[Action, ...]]:
    """Every top action list of the flow (its campaign report too)."""
    return [actions for _, actions in flow_lists(flow)] + list(campaign_lists(flow.outbound))


def _assigned(flow: Flow) -> dict[str, set[str]]:
    """The variables of the flow (scope "") and of each of its sub-flows (scope: its
    name), found in one pass over the flow."""
    names: dict[str, set[str]] = {"": set(flow.variables)}
    for scope, sub in flow.subflows.items():
        names[scope] = {*sub.variables, *sub.params}
    scopes = scope_of(flow)
    for state, actions in flow_lists(flow):
        found = names.setdefault(scopes.get(state.name, "") if state else "", set())
        for handler in (*state.commands, *state.handlers) if state else ():
            found |= handler.matcher.groups
        for action in iter_actions(actions):
            if isinstance(action, SetVariable):
                found.add(action.name)
            elif isinstance(action, Webhook) and action.result:
                found.add(action.result)
            elif isinstance(action, Handoff):
                found.add("agent")  # in its branches, the agent who accepted
            elif isinstance(action, Call):
                found.update(variable for _, variable in action.returns)
            elif isinstance(action, Return):
                found.update(name for name, _ in action.values)
    return names


def variable_names(flow: Flow) -> frozenset[str]:
    """Every name a conversation of ``flow`` can hold as a variable, in any scope (its
    sub-flows' too): what it declares or sets (``campaign.NAME`` is the run's, not one)."""
    names = set().union(*_assigned(flow).values())
    return frozenset(name for name in names if not name.startswith(CAMPAIGN_PREFIX))


def check_names(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    known_in = _assigned(flow)
    reported: set[tuple[Location, str]] = set()
    for scope, groups, compiled in _scopes(flow):
        known = known_in[scope]
        # a value's parts one by one, each finding at its own part (as F124's)
        for part in compiled.parts if isinstance(compiled, Value) else (compiled,):
            yield from _unknown_names(part, known, groups, reported)
        yield from _unknown_fields(compiled, reported)


def _unknown_names(
    part: _Reads,
    known: set[str],
    groups: frozenset[str],
    reported: set[tuple[Location, str]],
) -> Iterator[Diagnostic]:
    """F106 and F107: the variables and captures ``part`` reads that are not there."""
    for name in sorted(part.variables - known - RESERVED_NAMES):
        if (part.location, name) not in reported:
            reported.add((part.location, name))
            yield Diagnostic.at(
                part.location,
                "F106",
                f"variable {name!r} is used but never set or declared in `variables`"
                + suggest(name, known | _CONTEXT),
            )
    for capture in sorted(part.captures - groups):
        if (part.location, "match." + capture) not in reported:
            reported.add((part.location, "match." + capture))
            where = (
                f"the pattern defines only {', '.join(sorted(groups))}"
                if groups
                else "no regex with a named group matched here"
            )
            yield Diagnostic.at(
                part.location, "F107", f"capture match.{capture} is not defined: {where}"
            )


def _unknown_fields(
    compiled: _Compiled, reported: set[tuple[Location, str]]
) -> Iterator[Diagnostic]:
    """F124: ``caller.nmae``, ``message.text``: a field the context's name does not have
    renders as nothing. A template's ``fields`` are those of the context's names only (not
    of a name it binds, ``{% set caller = ... %}``); a value's are its parts', each part
    checked on its own and the finding located at it."""
    parts = compiled.parts if isinstance(compiled, Value) else (compiled,)
    for part in parts:
        for field in sorted(part.fields):
            root, name = field.split(".", 1)
            if name not in _FIELDS[root] and (part.location, field) not in reported:
                reported.add((part.location, field))
                yield Diagnostic.at(part.location, "F124", _no_field(root, name))


def _no_field(root: str, name: str) -> str:
    if root in _SHOWN:
        shown = _SHOWN[root]
        return f"{root} has no field {name!r} (it has {shown})" + suggest(name, shown.split(", "))
    if root == "now":
        return f"now is a date and time, without {name!r}" + suggest(name, _FIELDS[root])
    return f"{root} is a text, without a field {name!r}: write {{{{ {root} }}}}"


# --- F121: secrets ------------------------------------------------------------------


def check_secrets(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    """Each name of ``secrets`` must be a variable the flow declares or sets (F106's set)."""
    if not flow.secrets:
        return
    known = _assigned(flow)[""]
    listed = doc.data.get("secrets", [])
    for i, name in enumerate(listed):
        if name in known:
            continue
        if name in RESERVED_NAMES:
            message = f"secret {name!r} is a name of the template context, not a variable"
        else:
            message = (
                f"secret {name!r} is not a variable of this flow: no `variables` entry, "
                f"`set`, regex capture or webhook `result` defines it" + suggest(name, known)
            )
        yield Diagnostic.at(doc.locate(("secrets", i)), "F121", message)

"""Describe the parts of a flow as plain lines, the unit the diff compares.

Every part that can change (a state's enter actions, a message handler, a timeout step, a
rung of the no-match ladder, a command, a setting, a variable, an invitation rule) becomes
a key and a tuple of lines such as ``say "What can I help you with?"`` or ``goto menu``.
Two versions of a part are equal when their lines are; the lines are also what the diff
shows a reader, so they are phrased for people and never include source positions.

``rename`` maps old state names to new ones: the old flow is described with it, so that a
``goto`` to a renamed state is not reported as changed in every state that points there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ucwa_flow.flow import (
    Action,
    Call,
    Flow,
    Goto,
    Handoff,
    If,
    Invite,
    Log,
    MessageHandler,
    Return,
    Say,
    SetVariable,
    State,
    Stop,
    Typing,
    Webhook,
    format_duration,
)

__all__ = ["Part", "describe_actions", "flow_parts", "handler_key", "state_parts"]

#: (section, key) -> lines; sections are ``enter``, ``message``, ``command``, ``timeout``,
#: ``no_match``, ``ended``, ``delivery_failed`` for a state
Part = tuple[str, str]


def handler_key(handler: MessageHandler) -> str:
    """A handler's identity: its kind and its pattern, words or choices."""
    matcher = handler.matcher
    if matcher.kind == "regex":
        return f"regex /{matcher.values[0]}/"
    if matcher.kind == "any":
        return "any message"
    return f"{matcher.kind} " + ", ".join(json.dumps(value) for value in matcher.values)


def describe_actions(
    actions: tuple[Action, ...], rename: Mapping[str, str] | None = None, indent: str = ""
) -> tuple[str, ...]:
    """One line per action, nested branches indented by two spaces."""
    rename = rename or {}
    lines: list[str] = []

    def nested(label: str, branch: tuple[Action, ...] | None) -> None:
        if branch is not None:
            lines.append(f"{indent}  {label}:")
            lines.extend(describe_actions(branch, rename, indent + "    "))

    for action in actions:
        if isinstance(action, Say):
            versions = action.texts or (("", action.text, action.html),)
            for language, text, html in versions:  # a say with texts: each language's
                say = f"{indent}say [{language}] " if language else f"{indent}say "
                if text is not None:
                    lines.append(say + json.dumps(text.source, ensure_ascii=False))
                if html is not None:
                    lines.append(f"{say}html {json.dumps(html.source, ensure_ascii=False)}")
        elif isinstance(action, Goto):
            lines.append(f"{indent}goto {rename.get(action.target, action.target)}")
        elif isinstance(action, SetVariable):
            value = json.dumps(action.value.source, ensure_ascii=False, sort_keys=True)
            lines.append(f"{indent}set {action.name} = {value}")
        elif isinstance(action, Stop):
            lines.append(f"{indent}stop")
        elif isinstance(action, Typing):
            lines.append(f"{indent}typing")
        elif isinstance(action, Log):
            lines.append(f"{indent}log {action.level} {json.dumps(action.message.source)}")
        elif isinstance(action, If):
            lines.append(f"{indent}if {action.condition.source}")
            nested("then", action.then)
            nested("else", action.otherwise or None)
        elif isinstance(action, Invite):
            lines.append(
                f"{indent}invite {action.to.source} (timeout {format_duration(action.timeout)})"
            )
            if action.message is not None:
                lines.append(f"{indent}  message {json.dumps(action.message.source)}")
            nested("accepted", action.accepted)
            nested("declined", action.declined)
            nested("no answer", action.no_answer)
        elif isinstance(action, Handoff):
            agents = ", ".join(template.source for template in action.to)
            timeout = format_duration(action.timeout)
            lines.append(f"{indent}handoff {action.mode} {agents} (timeout {timeout})")
            if action.message is not None:
                lines.append(f"{indent}  message {json.dumps(action.message.source)}")
            for name, branch in action.branches():  # done: the agent's command, its goto
                label = f"done {action.done_command}" if name == "done" else name
                nested(label.replace("_", " "), branch)
        elif isinstance(action, Webhook):
            lines.append(f"{indent}webhook {action.method} {action.url.source}")
            nested("success", action.success)
            nested("failure", action.failure)
        elif isinstance(action, Call):
            lines.append(f"{indent}call {action.subflow}")
            lines.extend(f"{indent}  with {n} = {_source(v.source)}" for n, v in action.args)
            lines.extend(f"{indent}  returns {r} -> {v}" for r, v in action.returns)
        elif isinstance(action, Return):
            lines.append(f"{indent}return")
            lines.extend(f"{indent}  {n} = {_source(v.source)}" for n, v in action.values)
    return tuple(lines)


def _source(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def state_parts(
    state: State, flow: Flow, rename: Mapping[str, str] | None = None
) -> dict[Part, tuple[str, ...]]:
    """The comparable parts of ``state``, in a stable order.

    Handlers are keyed by kind and pattern (a second handler with the same key gets
    ``#2``); timeout steps and no-match rungs by their position in the ladder; commands
    only where the state differs from the global ones (its own, overridden or disabled).
    """
    parts: dict[Part, tuple[str, ...]] = {}
    if state.enter:
        parts[("enter", "on enter")] = describe_actions(state.enter, rename)
    for handler in state.handlers:
        key, n = handler_key(handler), 2
        while ("message", key) in parts:
            key = f"{handler_key(handler)} #{n}"
            n += 1
        parts[("message", key)] = describe_actions(handler.actions, rename)
    global_commands = {
        command.name: describe_actions(command.actions, rename) for command in flow.commands
    }
    own = {command.name or "": command for command in state.commands}
    for name, command in own.items():
        lines = (handler_key(command), *describe_actions(command.actions, rename))
        if name not in global_commands or _command_lines(flow, name, rename) != lines:
            parts[("command", name)] = lines
    for global_name in global_commands:
        if global_name is not None and global_name not in own:
            parts[("command", global_name)] = ("disabled in this state",)
    for number, step in enumerate(state.timeouts, start=1):
        after = f"after {format_duration(step.after)}"
        parts[("timeout", f"step {number}")] = (after, *describe_actions(step.actions, rename))
    for number, rung in enumerate(state.no_match, start=1):
        parts[("no_match", f"rung {number}")] = describe_actions(rung.actions, rename)
    if state.ended:
        parts[("ended", "caller left")] = describe_actions(state.ended, rename)
    if state.delivery_failed:
        parts[("delivery_failed", "delivery failed")] = describe_actions(
            state.delivery_failed, rename
        )
    return parts


def _command_lines(
    flow: Flow, name: str, rename: Mapping[str, str] | None
) -> tuple[str, ...] | None:
    for command in flow.commands:
        if command.name == name:
            return (handler_key(command), *describe_actions(command.actions, rename))
    return None


def flow_parts(flow: Flow, rename: Mapping[str, str] | None = None) -> dict[Part, tuple[str, ...]]:
    """The flow-wide parts: start, settings, variables, commands, invitation, outbound."""
    rename = rename or {}
    parts: dict[Part, tuple[str, ...]] = {
        ("flow", "name"): (flow.name,),
        ("flow", "description"): (json.dumps(flow.description, ensure_ascii=False),),
        ("flow", "start"): (rename.get(flow.start, flow.start),),
    }
    settings = flow.settings
    for name in settings.__dataclass_fields__:
        value = getattr(settings, name)
        shown = "never" if value is None else value
        if name == "idle_timeout" and value is not None:
            shown = format_duration(value)
        parts[("settings", name)] = (str(shown),)
    for name, default in flow.variables.items():
        value = json.dumps(default, ensure_ascii=False, sort_keys=True)
        secret = " (secret)" if name in flow.secrets else ""
        parts[("variables", name)] = (f"default {value}{secret}",)
    for command in flow.commands:
        lines = (handler_key(command), *describe_actions(command.actions, rename))
        parts[("commands", command.name or "")] = lines
    parts.update(_invitation_parts(flow, rename))
    if flow.outbound is not None:
        outbound = flow.outbound
        out_lines = [f"to {', '.join(outbound.to)}"]
        if outbound.message is not None:
            out_lines.append(f"message {json.dumps(outbound.message.source)}")
        out_lines.append(f"timeout {format_duration(outbound.timeout)}")
        for label, branch in (("declined", outbound.declined), ("no answer", outbound.no_answer)):
            if branch is not None:
                out_lines.append(f"{label}:")
                out_lines.extend(describe_actions(branch, rename, "  "))
        parts[("outbound", "outbound")] = tuple(out_lines)
    return parts


def _invitation_parts(flow: Flow, rename: Mapping[str, str]) -> dict[Part, tuple[str, ...]]:
    policy = flow.invitation
    parts: dict[Part, tuple[str, ...]] = {("invitation", "default"): (policy.default,)}
    if policy.decline_message is not None:
        text = json.dumps(policy.decline_message.source, ensure_ascii=False)
        parts[("invitation", "decline message")] = (text,)
    for number, rule in enumerate(policy.rules, start=1):
        lines: list[str] = [rule.action]
        if rule.callers:
            lines.append("from " + ", ".join(rule.callers))
        if rule.subjects:
            lines.append("subject " + ", ".join(rule.subjects))
        if rule.days is not None:
            lines.append("days " + ",".join(str(day) for day in sorted(rule.days)))
        if rule.hours is not None:
            lines.append(f"hours {rule.hours.start:%H:%M}-{rule.hours.end:%H:%M}")
        if rule.goto is not None:
            lines.append(f"goto {rename.get(rule.goto, rule.goto)}")
        if rule.message is not None:
            lines.append(f"message {json.dumps(rule.message.source, ensure_ascii=False)}")
        parts[("invitation", f"rule {number}")] = tuple(lines)
    return parts

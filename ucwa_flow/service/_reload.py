"""What a reload of the flows finds and does: :func:`reload_lines`.

Each flow file the accounts name is read once per reload: a file several accounts share is
checked once, and its diagnostics are reported once (with the account when only one uses
it), each account then saying in one line that it keeps its running version. A file that
cannot be read any more (deleted, a folder now) is that one line, naming why, not
"has errors". A changed valid version is handed to each account that uses it, unless it
leaves a variable of the account's ``vars`` undeclared (:func:`_refusals`: ``D114``, which
the next start would refuse the deployment for): only such versions are refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from ucwa_flow import logcontext
from ucwa_flow.flow import Flow
from ucwa_flow.service._account import AccountRunner, describe_error
from ucwa_flow.service._flows import Refused, read_flow, with_variables

__all__ = ["Line", "reload_lines"]

log = logging.getLogger("ucwa_flow.service")

#: a line to log and report: its level, its text and the account it is about (or ``None``)
Line = tuple[int, str, str | None]


def reload_lines(runners: Iterable[AccountRunner]) -> list[Line]:
    """Read every flow file of ``runners`` again, hand the changed valid versions to their
    accounts and say what happened, in order (``reload: no flow changed`` when nothing did)."""
    runners = list(runners)
    users: dict[Path, set[str]] = {}
    for runner in runners:
        for flow_spec in runner.spec.flows:
            users.setdefault(flow_spec.path, set()).add(runner.spec.id)
    read: dict[Path, Flow | Refused] = {}
    lines: list[Line] = []
    for runner in runners:
        spec = runner.spec
        changed: dict[str, Flow] = {}  # the new valid versions, in the deployment's order
        for flow_spec in spec.flows:
            outcome = read.get(flow_spec.path)
            if outcome is None:
                outcome = read[flow_spec.path] = read_flow(flow_spec.path)
                if isinstance(outcome, Refused):  # its diagnostics once, not per account
                    owners = users[flow_spec.path]
                    about = spec.id if len(owners) == 1 else None
                    lines += [(logging.ERROR, line, about) for line in outcome.lines]
            if isinstance(outcome, Refused):
                refusal = (
                    f"{spec.id}: {flow_spec.name}: refused ({outcome.why}); "
                    "the running version stays"
                )
                lines.append((logging.ERROR, refusal, spec.id))
                continue
            flow = with_variables(outcome, spec.variables)
            current = runner.flows.get(flow_spec.name)
            if current is None or current.digest != flow.digest:
                changed[flow_spec.name] = flow
        refused = _refusals(spec.variables, runner.flows, changed)
        for name, flow in changed.items():
            if name in refused:  # the next start would refuse the file: so does the reload
                line = f"{spec.id}: {name}: refused ({_undeclared(spec.id, refused[name])}); "
                lines.append((logging.ERROR, line + "the running version stays", spec.id))
                continue
            with logcontext.bind(account=spec.id):
                lines.append((*_applied(runner, name, flow), spec.id))
    return lines or [(logging.INFO, "reload: no flow changed", None)]


def _refusals(
    variables: Mapping[str, object], running: Mapping[str, Flow], changed: Mapping[str, Flow]
) -> dict[str, list[str]]:
    """The ``changed`` versions to refuse, each with the variables of ``vars`` it would
    leave undeclared (``D114``), given the versions that will run.

    A variable a running version declares and no version that would run does is lost by
    the changed versions whose running version declared it: those are refused (their
    running versions, which declare it, stay), and the versions that would then run are
    checked again (a refused version may have been the one to declare another variable
    now). Each round refuses at least one version, so it ends, with every variable the
    running versions declared still declared. A variable no running version declares (an
    engine that refused a version of an earlier reload) refuses nothing."""
    refused: dict[str, list[str]] = {}
    while True:
        runs = {**running, **{n: f for n, f in changed.items() if n not in refused}}
        declared = {name for flow in runs.values() for name in flow.variables}
        missing = [
            name
            for name in variables
            if name not in declared and any(name in flow.variables for flow in running.values())
        ]
        if not missing:
            return refused
        for flow_name in changed:
            before = running.get(flow_name)
            lost = [name for name in missing if before is not None and name in before.variables]
            if lost and flow_name not in refused:
                refused[flow_name] = lost


def _undeclared(account: str, variables: list[str]) -> str:
    """Why a version that leaves ``variables`` of the account's ``vars`` undeclared is
    refused, in a few words naming every one."""
    if len(variables) == 1:
        return (
            f"vars.{variables[0]}: no flow of account {account!r} would have a variable "
            f"{variables[0]!r}, D114 at the next start"
        )
    named = ", ".join(f"vars.{name}" for name in variables)
    return (
        f"{named}: no flow of account {account!r} would have these variables, "
        "D114 at the next start"
    )


def _applied(runner: AccountRunner, name: str, flow: Flow) -> tuple[int, str]:
    """Hand ``flow`` to ``runner``: the line to report (an error line, with the
    traceback logged once, should the engine fail to take it; the reload goes on)."""
    try:
        return logging.INFO, runner.apply(name, flow)
    except Exception as exc:
        log.exception("%s: %s: the engine could not take the new version", runner.spec.id, name)
        return logging.ERROR, f"{runner.spec.id}: {name}: not reloaded: {describe_error(exc)}"

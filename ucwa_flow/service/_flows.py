"""An account's flows as the deployment names them: loaded, checked, with its ``vars``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ucwa_flow.deploy import AccountSpec, FlowSpec
from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.observe.logs import add_secret

__all__ = [
    "FlowsRefused",
    "Loaded",
    "Refused",
    "load_account_flows",
    "load_one",
    "read_flow",
    "with_variables",
]


class FlowsRefused(UcwaFlowError):
    """A flow of the deployment has errors at start: ``str()`` is its diagnostic lines."""


@dataclass
class Loaded:
    """The flows of one account that loaded, and the diagnostic lines of those that did
    not (``file:line:col: CODE message``, or one line for a file that cannot be read)."""

    flows: dict[str, Flow] = field(default_factory=dict)
    refused: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    """A flow file that did not load: ``why`` in a few words (``PATH has errors``, or
    ``PATH: no such flow file`` for one that cannot be read) and its diagnostic
    ``lines`` (``file:line:col: CODE message``; none for a file that cannot be read)."""

    why: str
    lines: tuple[str, ...] = ()


def read_flow(path: Path) -> Flow | Refused:
    """The flow in ``path`` as written (without an account's variables), or why not."""
    try:
        result = load_flow(path)
    except UcwaFlowError as exc:  # missing, a folder, unreadable: one line
        return Refused(str(exc))
    if result.flow is None:
        lines = [str(d) for d in result.errors] or [f"{path}: the flow has errors"]
        return Refused(f"{path} has errors", tuple(lines))
    return result.flow


def load_one(spec: FlowSpec, variables: Mapping[str, object]) -> Flow | list[str]:
    """The flow of ``spec`` with the account's variables, or its error lines."""
    outcome = read_flow(spec.path)
    if isinstance(outcome, Refused):
        return list(outcome.lines) or [outcome.why]
    return with_variables(outcome, variables)


def load_account_flows(account: AccountSpec) -> Loaded:
    loaded = Loaded()
    for spec in account.flows:
        outcome = load_one(spec, account.variables)
        if isinstance(outcome, Flow):
            loaded.flows[spec.name] = outcome
        else:
            loaded.refused[spec.name] = outcome
    return loaded


def with_variables(flow: Flow, values: Mapping[str, object]) -> Flow:
    """``flow`` with the account's ``vars`` that it declares as starting values (the
    ``--var`` of ``run``); the digest stays the file's. The text values it gives to the
    flow's ``secrets`` are redacted from every log line from now on."""
    mine = {k: v for k, v in values.items() if k in flow.variables}
    for name, value in mine.items():
        if name in flow.secrets and isinstance(value, str):
            add_secret(value)
    return replace(flow, variables={**flow.variables, **mine}) if mine else flow

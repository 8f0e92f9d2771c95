"""The flow ``ucwa-flow run FLOW`` runs: loaded, with ``--var`` overrides.

:func:`load_or_exit` loads FLOW and prints its diagnostics on stderr (a flow with errors
ends the command, status 1); :func:`with_variables` sets starting values from ``--var
NAME=VALUE`` options, each VALUE read as JSON when it parses, else as text, and a usage
error for a name the flow does not declare. :func:`part_of_a_flow` is the line ``run``,
``graph`` and ``diff`` print for a sub-flow or an included file given as FLOW, and
:func:`refuse_yaml_output` their usage error for ``-o`` naming a YAML file.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from ucwa_flow import bounded_json
from ucwa_flow.flow import Flow, load_flow

__all__ = ["load_or_exit", "part_of_a_flow", "refuse_yaml_output", "with_variables"]


def load_or_exit(path: str) -> Flow:
    """The flow in ``path``, its diagnostics on stderr; with errors, a line saying nothing
    was run and exit status 1."""
    result = load_flow(path)  # a file that cannot be read: the CLI's one line, status 2
    for diagnostic in result.diagnostics:
        click.echo(str(diagnostic), err=True)
    if result.flow is None and not result.errors:
        click.echo(f"ucwa-flow: error: {part_of_a_flow(path, 'run')}", err=True)
        sys.exit(1)
    if result.flow is None:
        click.echo(f"ucwa-flow: error: {path} has errors; nothing was run", err=True)
        sys.exit(1)
    return result.flow


def part_of_a_flow(path: str, verb: str) -> str:
    """The line for a part of a flow given where a flow is expected (a part loads with no
    flow and no errors: "has 0 error(s)" said nothing), ``verb`` what was asked."""
    if str(path).endswith(".subflow.yaml"):
        return f"{path} is a sub-flow, not a flow: {verb} a flow that calls it"
    return f"{path} is an included file, not a flow: {verb} a flow that includes it"


def refuse_yaml_output(output: str, what: str) -> None:
    """A usage error for ``-o`` naming an existing YAML file: a sub-flow or an included file
    of the flow, a test script, a deployment file (each was replaced by ``what``)."""
    target = Path(output)
    if target.suffix.lower() in (".yaml", ".yml") and target.exists():
        raise click.UsageError(
            f"-o {output} is a YAML file (a part of a flow, a script?): write {what} elsewhere"
        )


def with_variables(flow: Flow, overrides: tuple[str, ...]) -> Flow:
    """``flow`` with the starting values that ``--var NAME=VALUE`` options give."""
    values = dict(flow.variables)
    for item in overrides:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--var")
        if name not in values:
            known = ", ".join(sorted(values)) or "none"
            raise click.BadParameter(
                f"{flow.name} has no variable {name!r} (its variables: {known})",
                param_hint="--var",
            )
        try:
            values[name] = bounded_json.loads(raw)
        except bounded_json.TooDeep as exc:
            raise click.BadParameter(f"{name}: {exc}", param_hint="--var") from None
        except ValueError:
            values[name] = raw
    return replace(flow, variables=values) if overrides else flow

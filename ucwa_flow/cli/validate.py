"""``ucwa-flow validate FILE...``: report every problem of flow files.

One line per problem, ``file:line:col: CODE severity: message``, sorted by position;
``--format json`` prints one JSON document for editors and CI. Exit status: 0 when no
file has errors (warnings allowed), 1 when some file has errors, 2 for usage errors or a
file that cannot be read (reported as one line, without a traceback).

This command imports only the flow language (ruamel.yaml, jsonschema, jinja2, regex),
never the HTTP stack, so that it starts fast.
"""

from __future__ import annotations

import json
import sys

import click

__all__ = ["command"]


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format: text lines, or one JSON document.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when there are no problems.")
def command(files: tuple[str, ...], output: str, quiet: bool) -> None:
    """Check flow files and report every problem with its file:line:col.

    FILE may be written X.yaml for X.flow.yaml.
    """
    from ucwa_flow.flow import Diagnostic, FlowFileError, load_flow

    diagnostics: list[Diagnostic] = []
    unreadable: list[str] = []
    for file in files:
        try:
            diagnostics.extend(load_flow(file).diagnostics)
        except FlowFileError as exc:
            unreadable.append(str(exc))
    errors = sum(1 for d in diagnostics if d.is_error)
    if output == "json":
        report = {
            "files": len(files),
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "unreadable": unreadable,
            "diagnostics": [d.to_json() for d in diagnostics],
        }
        click.echo(json.dumps(report, indent=2))
    else:
        for diagnostic in diagnostics:
            click.echo(str(diagnostic))
        for message in unreadable:
            click.echo(f"ucwa-flow: error: {message}", err=True)
        if not quiet and not unreadable:
            warnings = len(diagnostics) - errors
            summary = f"{len(files)} file(s) checked: {errors} error(s), {warnings} warning(s)"
            click.echo(summary, err=True)
    sys.exit(2 if unreadable else 1 if errors else 0)

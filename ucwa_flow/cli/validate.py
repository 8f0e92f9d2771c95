"""``ucwa-flow validate FILE...``: report every problem of flow and deployment files.

A YAML file whose top level has ``accounts:`` is a deployment file (``docs/deploy.md``):
its own problems are reported, then those of every flow it names (when the file itself has
none). ``${NAME}`` in it is read from the environment, as ``serve`` would.

One line per problem, ``file:line:col: CODE severity: message``, sorted by position;
``--format json`` prints one JSON document for editors and CI. Exit status: 0 when no
file has errors (warnings allowed), 1 when some file has errors, 2 for usage errors or a
file that cannot be read (reported as one line, without a traceback).

This command imports only the flow language (ruamel.yaml, jsonschema, jinja2, regex),
never the HTTP stack, so that it starts fast; its work is in ``_validate_run``, which
:func:`ucwa_flow.cli.main` also runs without click for the common arguments.
"""

from __future__ import annotations

import sys

import click

from ucwa_flow.cli._validate_run import run

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
    """Check flow and deployment files and report every problem with its file:line:col.

    FILE may be written X.yaml for X.flow.yaml. A deployment file (with `accounts:`) is
    checked with the flows it names, a test script (*.test.yaml) as `test` checks it. A
    folder means every flow (*.flow.yaml), sub-flow (*.subflow.yaml) and included file
    (*.states.yaml) below it.
    """
    sys.exit(run(files, output, quiet))
